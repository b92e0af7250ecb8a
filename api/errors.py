"""The single table of S3 errors: code -> (HTTP status, message), as AWS returns them."""

from __future__ import annotations

from api.s3.xmltext import escape_text as escape
from projections.eventstore.unavailable import RETRY_AFTER

ERRORS: dict[str, tuple[int, str]] = {
    "AccessDenied": (403, "Access Denied."),
    "AccountProblem": (403, "There is a problem with your AWS account."),
    "AllAccessDisabled": (403, "All access to this resource has been disabled."),
    "AuthorizationHeaderMalformed": (400, "The authorization header is malformed."),
    "AuthorizationQueryParametersError": (400, "Error parsing the X-Amz-Credential parameter."),
    "BadDigest": (400, "The Content-MD5 you specified did not match what we received."),
    "BucketAlreadyExists": (409, "The requested bucket name is not available."),
    "BucketAlreadyOwnedByYou": (
        409,
        "Your previous request to create the named bucket succeeded and you already own it.",
    ),
    "BucketNotEmpty": (409, "The bucket you tried to delete is not empty."),
    # MinIO's answer to a write that would take a bucket over its hard quota.
    "XMinioAdminBucketQuotaExceeded": (400, "Bucket quota exceeded"),
    "EntityTooLarge": (400, "Your proposed upload exceeds the maximum allowed object size."),
    "EntityTooSmall": (400, "Your proposed upload is smaller than the minimum allowed object size."),
    "ExpiredToken": (400, "The provided token has expired."),
    "IllegalLocationConstraintException": (
        400,
        "The unspecified location constraint is incompatible for the region specific endpoint this request was sent "
        "to.",
    ),
    "IllegalVersioningConfigurationException": (
        400,
        "The versioning configuration specified in the request is invalid.",
    ),
    "IncompleteBody": (400, "You did not provide the number of bytes specified by the Content-Length HTTP header."),
    "InlineDataTooLarge": (400, "Inline data exceeds the maximum allowed size."),
    "InternalError": (500, "We encountered an internal error. Please try again."),
    "InvalidAccessKeyId": (403, "The AWS access key ID you provided does not exist in our records."),
    "InvalidArgument": (400, "Invalid Argument"),
    "InvalidBucketName": (400, "The specified bucket is not valid."),
    "InvalidBucketState": (409, "The request is not valid with the current state of the bucket."),
    "InvalidDigest": (400, "The Content-MD5 you specified is not valid."),
    "InvalidEncryptionAlgorithmError": (400, "The encryption request you specified is not valid."),
    "InvalidLocationConstraint": (400, "The specified location constraint is not valid."),
    "InvalidObjectState": (403, "The operation is not valid for the current state of the object."),
    "InvalidPart": (
        400,
        "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified "
        "entity tag may not match the part's entity tag.",
    ),
    "InvalidPartNumber": (416, "The requested partnumber is not satisfiable"),
    "InvalidPartOrder": (400, "The list of parts was not in ascending order. Parts must be ordered by part number."),
    "InvalidPolicyDocument": (
        400,
        "The content of the form does not meet the conditions specified in the policy document.",
    ),
    "InvalidRange": (416, "The requested range is not satisfiable"),
    "InvalidRequest": (400, "Invalid Request"),
    "InvalidStorageClass": (400, "The storage class you specified is not valid."),
    "InvalidTag": (400, "The tag provided was not a valid tag."),
    "InvalidToken": (400, "The provided token is malformed or otherwise invalid."),
    "InvalidURI": (400, "Couldn't parse the specified URI."),
    "KeyTooLongError": (400, "Your key is too long."),
    "MalformedACLError": (
        400,
        "The XML you provided was not well-formed or did not validate against our published schema.",
    ),
    "MalformedTrailerError": (
        400,
        "The request contained trailing data that was not well-formed or did not conform to our published schema.",
    ),
    "MalformedPOSTRequest": (400, "The body of your POST request is not well-formed multipart/form-data."),
    "MalformedXML": (400, "The XML you provided was not well-formed or did not validate against our published schema."),
    "MalformedPolicy": (400, "Policy has invalid resource."),
    "MaxMessageLengthExceeded": (400, "Your request was too big."),
    "MetadataTooLarge": (400, "Your metadata headers exceed the maximum allowed metadata size."),
    "MethodNotAllowed": (405, "The specified method is not allowed against this resource."),
    "MissingContentLength": (411, "You must provide the Content-Length HTTP header."),
    "MissingRequestBodyError": (400, "Request Body is empty."),
    "MissingSecurityHeader": (400, "Your request is missing a required header."),
    "NoSuchBucket": (404, "The specified bucket does not exist."),
    "NoSuchBucketPolicy": (404, "The bucket policy does not exist."),
    "NoSuchCORSConfiguration": (404, "The CORS configuration does not exist."),
    "NoSuchKey": (404, "The specified key does not exist."),
    "NoSuchLifecycleConfiguration": (404, "The lifecycle configuration does not exist."),
    "NoSuchTagSet": (404, "The TagSet does not exist."),
    "NoSuchUpload": (
        404,
        "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might "
        "have been aborted or completed.",
    ),
    "NoSuchVersion": (404, "The specified version does not exist."),
    "NoSuchWebsiteConfiguration": (404, "The specified bucket does not have a website configuration."),
    "NoSuchPublicAccessBlockConfiguration": (404, "The public access block configuration was not found."),
    "NoSuchObjectLockConfiguration": (404, "The specified object does not have an ObjectLock configuration."),
    "ObjectLockConfigurationNotFoundError": (404, "Object Lock configuration does not exist for this bucket."),
    "AccessControlListNotSupported": (400, "The bucket does not allow ACLs"),
    "InvalidBucketAclWithObjectOwnership": (
        400,
        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
    ),
    "OwnershipControlsNotFoundError": (404, "The bucket ownership controls were not found."),
    "ReplicationConfigurationNotFoundError": (404, "The replication configuration was not found."),
    "ServerSideEncryptionConfigurationNotFoundError": (404, "The server side encryption configuration was not found."),
    "NotImplemented": (501, "A header you provided implies functionality that is not implemented."),
    "NotModified": (304, "Not Modified"),
    "PreconditionFailed": (412, "At least one of the preconditions you specified did not hold."),
    "ConditionalRequestConflict": (
        409,
        "A conflicting operation occurred. If using PutObject you can retry the request.",
    ),
    "RequestHeaderSectionTooLarge": (400, "Your request header section exceeds the maximum allowed size."),
    "RequestTimeTooSkewed": (403, "The difference between the request time and the server's time is too large."),
    "RequestTimeout": (
        400,
        "Your socket connection to the server was not read from or written to within the timeout period.",
    ),
    "SignatureDoesNotMatch": (
        403,
        "The request signature we calculated does not match the signature you provided. Check your key and signing "
        "method.",
    ),
    "ServiceUnavailable": (503, "Please reduce your request rate."),
    "SlowDown": (503, "Please reduce your request rate."),
    "TooManyBuckets": (400, "You have attempted to create more buckets than allowed."),
    "UnexpectedContent": (400, "This request does not support content."),
    "XAmzContentSHA256Mismatch": (400, "The provided 'x-amz-content-sha256' header does not match what was computed."),
    "XAmzContentChecksumMismatch": (400, "The provided 'x-amz-checksum' header does not match what was computed."),
    "BadRequest": (400, "Bad Request"),
    "InvalidChunkSizeError": (403, "Only the last chunk is allowed to have a size less than 8192 bytes."),
    "NoSuchEntity": (404, "The request was rejected because it referenced an entity that does not exist."),
    "PermanentRedirect": (
        301,
        "The bucket you are attempting to access must be addressed using the specified endpoint.",
    ),
    # CORS (MinIO's answer to a preflight no CORS configuration allows).
    "AccessForbidden": (
        403,
        "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request "
        "method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the "
        "resource's CORS spec.",
    ),
    "UnresolvableGrantByEmailAddress": (400, "The email address you provided does not match any account on record."),
    # The STS and IAM query APIs (AWS's codes and messages there).
    "DeleteConflict": (
        409,
        "The request was rejected because it attempted to delete a resource that has attached subordinate entities.",
    ),
    "EntityAlreadyExists": (
        409,
        "The request was rejected because it attempted to create a resource that already exists.",
    ),
    "InvalidAction": (400, "The action or operation requested is invalid. Verify that the action is typed correctly."),
    "InvalidClientTokenId": (403, "The security token included in the request is invalid."),
    "LimitExceeded": (
        409,
        "The request was rejected because it attempted to create resources beyond the current AWS account limits.",
    ),
    "MalformedPolicyDocument": (400, "The request was rejected because the policy document was malformed."),
    "MalformedQueryString": (404, "The query string contains a syntax error."),
    "MissingAction": (400, "The request is missing an action or a required parameter."),
    "MissingAuthenticationToken": (
        403,
        "The request must contain either a valid (registered) AWS access key ID or X.509 certificate.",
    ),
    "PackedPolicyTooLarge": (
        400,
        "The request was rejected because the total packed size of the session policies and session tags combined was "
        "too large.",
    ),
    "ValidationError": (400, "The input fails to satisfy the constraints specified by an AWS service."),
}


class S3Error(Exception):
    """An S3 error response. Raised anywhere in api/; rendered once by the router."""

    def __init__(
        self,
        code: str,
        message: str | None = None,
        *,
        status: int | None = None,
        resource: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        default_status, default_message = ERRORS.get(code, (400, code))
        self.code = code
        self.message = message or default_message
        self.status = status or default_status
        self.resource = resource
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(f"{code}: {self.message}")

    def to_xml(self, resource: str, request_id: str, host_id: str = "") -> bytes:
        parts = [
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error>',
            f"<Code>{escape(self.code)}</Code>",
            f"<Message>{escape(self.message)}</Message>",
        ]
        for name, value in self.extra.items():
            parts.append(f"<{name}>{escape(value)}</{name}>")
        parts.append(f"<Resource>{escape(self.resource or resource)}</Resource>")
        parts.append(f"<RequestId>{escape(request_id)}</RequestId>")
        parts.append(f"<HostId>{escape(host_id)}</HostId></Error>")
        return "".join(parts).encode()


def slow_down() -> S3Error:
    """The event store is out of reach for now: clients back off and try again."""
    return S3Error("SlowDown", headers={"Retry-After": str(RETRY_AFTER)})

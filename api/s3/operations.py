"""Every S3 operation Chronicle answers, one row each, named after AWS's: how a request is
recognised (method, level, subresource, and a predicate where those are shared), its
handler, the IAM action authorization asks for, and MinIO's name for it in the request
metrics. The router (api.s3.router) dispatches by this table alone and authorization
(api.auth.authz) takes the action from the same row.

The STS and IAM query APIs (POST / with Action=..., signed for service "sts" or "iam") are
one row here; their actions are the rows of api.iam.operations, of the same shape."""

from __future__ import annotations

from functools import partial

from api.iam.query_api import query_api, signed_for_query_api
from api.request import S3Request
from api.s3.handlers import (
    acl,
    bucket_policy,
    buckets,
    cors,
    listen,
    listing,
    multipart,
    notification,
    object_attributes,
    object_lock,
    object_read,
    object_tagging,
    object_write,
    ownership_controls,
    post_object,
    public_access_block,
    refused,
    tagging,
)
from api.s3.operation import ANY, Operation, OperationTable

NO_ACTION = ""  # rows authorized elsewhere or not at all (query APIs, CORS preflight)


def _copies(req: S3Request) -> bool:
    return "x-amz-copy-source" in req.headers


def _lists_v2(req: S3Request) -> bool:
    return req.query.get("list-type") == "2"


def _is_form(req: S3Request) -> bool:
    return req.headers.get("content-type", "").startswith("multipart/form-data")


Op = Operation

_SERVICE: tuple[Operation, ...] = (
    Op("ListBuckets", "GET", "service", "", buckets.list_all_buckets, "s3:ListAllMyBuckets"),
    Op("ListenNotification", "GET", "service", "events", listen.listen, "s3:ListenNotification"),
    # STS and IAM: each action's row and IAM action are in api.iam.operations.
    Op(
        "QueryAPI",
        "POST",
        "service",
        "",
        query_api,
        NO_ACTION,
        "",
        when=signed_for_query_api,
        authenticates_itself=True,
    ),
    # A browser sends a preflight without credentials: it is answered from the bucket's CORS rules.
    Op("CorsPreflight", "OPTIONS", ANY, ANY, cors.cors_preflight, NO_ACTION, "", authenticates_itself=True),
)

_BUCKET: tuple[Operation, ...] = (
    Op("CreateBucket", "PUT", "bucket", "", buckets.create_bucket, "s3:CreateBucket", "putbucket"),
    Op("HeadBucket", "HEAD", "bucket", "", buckets.head_bucket, "s3:ListBucket"),
    Op("DeleteBucket", "DELETE", "bucket", "", buckets.delete_bucket, "s3:DeleteBucket"),
    Op("ListObjects", "GET", "bucket", "", listing.list_objects_v1, "s3:ListBucket", "listobjectsv1"),
    Op("ListObjectsV2", "GET", "bucket", "", listing.list_objects_v2, "s3:ListBucket", when=_lists_v2),
    # The form's policy is its signature; the handler authorizes s3:PutObject.
    Op(
        "PostObject",
        "POST",
        "bucket",
        "",
        post_object.post_object,
        "s3:PutObject",
        "postpolicybucket",
        when=_is_form,
        authenticates_itself=True,
    ),
    Op("ListObjectVersions", "GET", "bucket", "versions", listing.list_object_versions, "s3:ListBucketVersions"),
    Op("GetBucketLocation", "GET", "bucket", "location", buckets.get_location, "s3:GetBucketLocation"),
    Op("GetBucketVersioning", "GET", "bucket", "versioning", buckets.get_versioning, "s3:GetBucketVersioning"),
    Op("PutBucketVersioning", "PUT", "bucket", "versioning", buckets.put_versioning, "s3:PutBucketVersioning"),
    Op("GetBucketTagging", "GET", "bucket", "tagging", tagging.get_bucket_tagging, "s3:GetBucketTagging"),
    Op("PutBucketTagging", "PUT", "bucket", "tagging", tagging.put_bucket_tagging, "s3:PutBucketTagging"),
    Op("DeleteBucketTagging", "DELETE", "bucket", "tagging", tagging.delete_bucket_tagging, "s3:PutBucketTagging"),
    Op("GetBucketCors", "GET", "bucket", "cors", cors.get_bucket_cors, "s3:GetBucketCORS"),
    Op("PutBucketCors", "PUT", "bucket", "cors", cors.put_bucket_cors, "s3:PutBucketCORS"),
    # AWS has no delete action: removing the rules is changing them.
    Op("DeleteBucketCors", "DELETE", "bucket", "cors", cors.delete_bucket_cors, "s3:PutBucketCORS"),
    Op(
        "DeleteObjects",
        "POST",
        "bucket",
        "delete",
        object_write.delete_objects,
        "s3:DeleteObject",
        "deletemultipleobjects",
        version_action="s3:DeleteObjectVersion",
    ),
    Op(
        "ListMultipartUploads",
        "GET",
        "bucket",
        "uploads",
        multipart.list_bucket_uploads,
        "s3:ListBucketMultipartUploads",
    ),
    Op("GetBucketAcl", "GET", "bucket", "acl", acl.get_bucket_acl, "s3:GetBucketAcl"),
    Op("PutBucketAcl", "PUT", "bucket", "acl", acl.put_bucket_acl, "s3:PutBucketAcl"),
    Op("GetBucketPolicy", "GET", "bucket", "policy", bucket_policy.get_bucket_policy, "s3:GetBucketPolicy"),
    Op("PutBucketPolicy", "PUT", "bucket", "policy", bucket_policy.put_bucket_policy, "s3:PutBucketPolicy"),
    Op("DeleteBucketPolicy", "DELETE", "bucket", "policy", bucket_policy.delete_bucket_policy, "s3:DeleteBucketPolicy"),
    Op(
        "GetBucketPolicyStatus",
        "GET",
        "bucket",
        "policyStatus",
        bucket_policy.get_bucket_policy_status,
        "s3:GetBucketPolicyStatus",
    ),
    Op(
        "GetPublicAccessBlock",
        "GET",
        "bucket",
        "publicAccessBlock",
        public_access_block.get_public_access_block,
        "s3:GetBucketPublicAccessBlock",
        "publicaccessblock",
    ),
    Op(
        "PutPublicAccessBlock",
        "PUT",
        "bucket",
        "publicAccessBlock",
        public_access_block.put_public_access_block,
        "s3:PutBucketPublicAccessBlock",
        "publicaccessblock",
    ),
    Op(
        "DeletePublicAccessBlock",
        "DELETE",
        "bucket",
        "publicAccessBlock",
        public_access_block.delete_public_access_block,
        "s3:PutBucketPublicAccessBlock",
        "publicaccessblock",
    ),
    Op(
        "GetBucketOwnershipControls",
        "GET",
        "bucket",
        "ownershipControls",
        ownership_controls.get_ownership_controls,
        "s3:GetBucketOwnershipControls",
        "ownershipcontrols",
    ),
    Op(
        "PutBucketOwnershipControls",
        "PUT",
        "bucket",
        "ownershipControls",
        ownership_controls.put_ownership_controls,
        "s3:PutBucketOwnershipControls",
        "ownershipcontrols",
    ),
    Op(
        "DeleteBucketOwnershipControls",
        "DELETE",
        "bucket",
        "ownershipControls",
        ownership_controls.delete_ownership_controls,
        "s3:PutBucketOwnershipControls",
        "ownershipcontrols",
    ),
    Op(
        "GetBucketNotificationConfiguration",
        "GET",
        "bucket",
        "notification",
        notification.get_bucket_notification,
        "s3:GetBucketNotification",
        "getbucketnotification",
    ),
    Op(
        "PutBucketNotificationConfiguration",
        "PUT",
        "bucket",
        "notification",
        notification.put_bucket_notification,
        "s3:PutBucketNotification",
        "putbucketnotification",
    ),
    Op(
        "ListenBucketNotification",
        "GET",
        "bucket",
        "events",
        listen.listen,
        "s3:ListenBucketNotification",
        "listennotification",
    ),
    Op(
        "PutObjectLockConfiguration",
        "PUT",
        "bucket",
        "object-lock",
        object_lock.put_object_lock_configuration,
        "s3:PutBucketObjectLockConfiguration",
        "putbucketobjectlockconfig",
    ),
    Op(
        "PutBucketEncryption",
        "PUT",
        "bucket",
        "encryption",
        partial(refused.not_implemented, sub="encryption"),
        "s3:PutEncryptionConfiguration",
        "putbucketencryption",
    ),
    Op(
        "DeleteBucketEncryption",
        "DELETE",
        "bucket",
        "encryption",
        partial(refused.not_implemented, sub="encryption"),
        "s3:PutEncryptionConfiguration",
        "deletebucketencryption",
    ),
)

# Configurations no bucket can have yet: reading one answers its "not found" error.
_UNCONFIGURED: tuple[tuple[str, str, str, str], ...] = (
    ("GetBucketLifecycleConfiguration", "lifecycle", "s3:GetLifecycleConfiguration", "getbucketlifecycle"),
    ("GetBucketEncryption", "encryption", "s3:GetEncryptionConfiguration", "getbucketencryption"),
    (
        "GetObjectLockConfiguration",
        "object-lock",
        "s3:GetBucketObjectLockConfiguration",
        "getbucketobjectlockconfig",
    ),
    ("GetBucketWebsite", "website", "s3:GetBucketWebsite", "getbucketwebsite"),
    ("GetBucketReplication", "replication", "s3:GetReplicationConfiguration", "getbucketreplicationconfig"),
)
# Configurations with one fixed answer.
_FIXED: tuple[tuple[str, str, str, str], ...] = (
    ("GetBucketLogging", "logging", "s3:GetBucketLogging", "getbucketlogging"),
    ("GetBucketRequestPayment", "requestPayment", "s3:GetBucketRequestPayment", "getbucketrequestpayment"),
    ("GetBucketAccelerateConfiguration", "accelerate", "s3:GetAccelerateConfiguration", "getbucketaccelerate"),
)
_BUCKET_CONFIGS: tuple[Operation, ...] = tuple(
    Op(name, "GET", "bucket", sub, partial(buckets.get_unconfigured, sub=sub), action, metric)
    for name, sub, action, metric in _UNCONFIGURED
) + tuple(
    Op(name, "GET", "bucket", sub, partial(buckets.get_simple_config, sub=sub), action, metric)
    for name, sub, action, metric in _FIXED
)

_OBJECT: tuple[Operation, ...] = (
    Op("PutObject", "PUT", "object", "", object_write.put_object, "s3:PutObject", "putobject"),
    Op("CopyObject", "PUT", "object", "", object_write.copy_object, "s3:PutObject", when=_copies),
    Op("GetObject", "GET", "object", "", object_read.get_object, "s3:GetObject", version_action="s3:GetObjectVersion"),
    Op(
        "HeadObject",
        "HEAD",
        "object",
        "",
        object_read.head_object,
        "s3:GetObject",
        version_action="s3:GetObjectVersion",
    ),
    Op(
        "DeleteObject",
        "DELETE",
        "object",
        "",
        object_write.delete_object,
        "s3:DeleteObject",
        version_action="s3:DeleteObjectVersion",
    ),
    Op(
        "CreateMultipartUpload",
        "POST",
        "object",
        "uploads",
        multipart.create_upload,
        "s3:PutObject",
        "newmultipartupload",
    ),
    Op("UploadPart", "PUT", "object", "uploadId", multipart.upload_part, "s3:PutObject", "putobjectpart"),
    # The handler reads the upload first, then copies by the header.
    Op(
        "UploadPartCopy",
        "PUT",
        "object",
        "uploadId",
        multipart.upload_part,
        "s3:PutObject",
        "copyobjectpart",
        when=_copies,
    ),
    Op("CompleteMultipartUpload", "POST", "object", "uploadId", multipart.complete_upload, "s3:PutObject"),
    Op("AbortMultipartUpload", "DELETE", "object", "uploadId", multipart.abort_upload, "s3:AbortMultipartUpload"),
    Op(
        "ListParts",
        "GET",
        "object",
        "uploadId",
        multipart.list_upload_parts,
        "s3:ListMultipartUploadParts",
        "listobjectparts",
    ),
    Op(
        "GetObjectTagging",
        "GET",
        "object",
        "tagging",
        object_tagging.get_object_tagging,
        "s3:GetObjectTagging",
        version_action="s3:GetObjectVersionTagging",
    ),
    Op(
        "PutObjectTagging",
        "PUT",
        "object",
        "tagging",
        object_tagging.put_object_tagging,
        "s3:PutObjectTagging",
        version_action="s3:PutObjectVersionTagging",
    ),
    Op(
        "DeleteObjectTagging",
        "DELETE",
        "object",
        "tagging",
        object_tagging.delete_object_tagging,
        "s3:DeleteObjectTagging",
        version_action="s3:DeleteObjectVersionTagging",
    ),
    Op(
        "GetObjectAcl",
        "GET",
        "object",
        "acl",
        acl.get_object_acl,
        "s3:GetObjectAcl",
        version_action="s3:GetObjectVersionAcl",
    ),
    Op(
        "PutObjectAcl",
        "PUT",
        "object",
        "acl",
        acl.put_object_acl,
        "s3:PutObjectAcl",
        version_action="s3:PutObjectVersionAcl",
    ),
    Op(
        "GetObjectAttributes",
        "GET",
        "object",
        "attributes",
        object_attributes.get_object_attributes,
        "s3:GetObjectAttributes",
        version_action="s3:GetObjectVersionAttributes",
    ),
    Op("GetObjectTorrent", "GET", "object", "torrent", object_read.get_torrent, "s3:GetObjectTorrent", "torrent"),
    Op(
        "GetObjectRetention",
        "GET",
        "object",
        "retention",
        object_lock.object_retention_or_legal_hold,
        "s3:GetObjectRetention",
    ),
    Op(
        "PutObjectRetention",
        "PUT",
        "object",
        "retention",
        object_lock.object_retention_or_legal_hold,
        "s3:PutObjectRetention",
    ),
    Op(
        "GetObjectLegalHold",
        "GET",
        "object",
        "legal-hold",
        object_lock.object_retention_or_legal_hold,
        "s3:GetObjectLegalHold",
    ),
    Op(
        "PutObjectLegalHold",
        "PUT",
        "object",
        "legal-hold",
        object_lock.object_retention_or_legal_hold,
        "s3:PutObjectLegalHold",
    ),
    Op(
        "RestoreObject",
        "POST",
        "object",
        "restore",
        partial(refused.not_implemented, sub="restore"),
        "s3:RestoreObject",
        "postrestoreobject",
    ),
)

S3_OPERATIONS = OperationTable(_SERVICE + _BUCKET + _BUCKET_CONFIGS + _OBJECT)

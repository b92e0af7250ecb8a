"""Server-side encryption is not built, so nothing may pretend it is (invariant 8).

A write that asks for encryption (SSE-S3, SSE-KMS or SSE-C headers, or the same POST form
fields) is NotImplemented, as MinIO answers without a KMS: storing plaintext and answering
as if it were encrypted would lie to the client. No stored object is ever encrypted, so
the reads get AWS's answers for an unencrypted object: an SSE-C key on GET / HEAD, or for
a copy source, is InvalidRequest "The encryption parameters are not applicable to this
object."; x-amz-server-side-encryption on GET / HEAD is InvalidArgument, as AWS refuses
it on reads. Bucket default encryption: PUT and DELETE are NotImplemented (router),
GET answers that none is configured (buckets.UNCONFIGURED).
"""

from __future__ import annotations

from collections.abc import Mapping

from api.errors import S3Error
from api.request import S3Request

SSE_PREFIX = "x-amz-server-side-encryption"  # and its -aws-kms-key-id, -context, -customer-*
SSE_C_PREFIX = "x-amz-server-side-encryption-customer-"
COPY_SOURCE_SSE_C_PREFIX = "x-amz-copy-source-server-side-encryption-customer-"
ALGORITHMS = ("AES256", "aws:kms", "aws:kms:dsse")
NOT_APPLICABLE = "The encryption parameters are not applicable to this object."
_ANY_PREFIX = (SSE_PREFIX, COPY_SOURCE_SSE_C_PREFIX)

# (method, level, subresource) of the requests that write object data: PutObject and
# CopyObject, CreateMultipartUpload, UploadPart and UploadPartCopy, CompleteMultipartUpload.
_WRITES = {
    ("PUT", "object", ""),
    ("POST", "object", "uploads"),
    ("PUT", "object", "uploadId"),
    ("POST", "object", "uploadId"),
}
# The reads AWS takes an SSE-C key for: GetObject, HeadObject, GetObjectAttributes, ListParts.
_READS = {
    ("GET", "object", ""),
    ("HEAD", "object", ""),
    ("GET", "object", "attributes"),
    ("GET", "object", "uploadId"),
}


def refuse_encryption_request(req: S3Request, level: str, sub: str) -> None:
    """Before any handler: encryption asked for by a header of the request (or, on a write,
    by a query parameter of that name, as presigned URLs may carry headers)."""
    operation = (req.method, level, sub)
    if operation in _WRITES:
        if req.query:
            refuse_encrypted_write({name.lower(): v for name, v in req.query.items()})
        # One pass over the headers when none is there, as nearly always.
        if any(name.startswith(_ANY_PREFIX) for name in req.headers):
            refuse_encrypted_write(req.headers)
            raise S3Error("InvalidRequest", NOT_APPLICABLE)  # the copy source's SSE-C key
    elif operation in _READS:
        asked = [name for name in req.headers if name.startswith(SSE_PREFIX)]
        if any(name.startswith(SSE_C_PREFIX) for name in asked):
            raise S3Error("InvalidRequest", NOT_APPLICABLE)
        if asked:
            raise S3Error(
                "InvalidArgument",
                "x-amz-server-side-encryption header is not supported for this operation.",
                extra={
                    "ArgumentName": SSE_PREFIX,
                    "ArgumentValue": req.headers.get(SSE_PREFIX, ""),
                },
            )


def refuse_encrypted_write(fields: Mapping[str, str]) -> None:
    """Headers of a write, or POST Object form fields (names lowercase)."""
    names = [name for name in fields if name.startswith(SSE_PREFIX)]
    if not names:
        return
    algorithm = fields.get(SSE_PREFIX)
    if algorithm is not None and algorithm not in ALGORITHMS:
        raise S3Error(
            "InvalidArgument",
            "The encryption method specified is not supported",
            extra={"ArgumentName": SSE_PREFIX, "ArgumentValue": algorithm},
        )
    raise S3Error(
        "NotImplemented",
        "Server-side encryption is not implemented: the object would be stored unencrypted "
        f"({', '.join(sorted(names))}).",
    )

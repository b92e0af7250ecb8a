"""Object Lock is not built, so nothing may pretend it is (invariant 8).

Switching it on, with CreateBucket's x-amz-bucket-object-lock-enabled: true or
PutObjectLockConfiguration, is NotImplemented: a client asking to make objects undeletable
must not get a bucket whose objects a plain DELETE destroys. Every bucket is then a bucket
without Object Lock, and the object-level requests get what AWS answers for one of those:
retention and legal hold, as subresources, headers or POST form fields, are InvalidRequest
"Bucket is missing Object Lock Configuration"; GetObjectLockConfiguration is
ObjectLockConfigurationNotFoundError (see buckets.UNCONFIGURED).

x-amz-bypass-governance-retention is left alone on deletes: no version is ever under
retention, so a delete that may bypass it does exactly what it does without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NoReturn

from api.context import ServerContext
from api.errors import S3Error
from api.request import S3Request
from api.response import Response
from api.s3.handlers.common import bucket_must_exist

BUCKET_LOCK_HEADER = "x-amz-bucket-object-lock-enabled"
LOCK_HEADERS = (
    "x-amz-object-lock-mode",
    "x-amz-object-lock-retain-until-date",
    "x-amz-object-lock-legal-hold",
)
# (method, level, subresource) of the requests that store an object version or start one:
# PutObject and CopyObject, CreateMultipartUpload.
_OBJECT_CREATING = {("PUT", "object", ""), ("POST", "object", "uploads")}


def not_implemented() -> S3Error:
    return S3Error(
        "NotImplemented",
        "Object Lock is not implemented: buckets cannot be created with it or have it enabled.",
    )


def missing_lock_configuration() -> S3Error:
    return S3Error("InvalidRequest", "Bucket is missing Object Lock Configuration")


def refuse_bucket_lock(headers: Mapping[str, str]) -> None:
    """CreateBucket: `true` is refused; `false` asks for what every bucket is."""
    value = headers.get(BUCKET_LOCK_HEADER)
    if value is None or value.strip().lower() == "false":
        return
    if value.strip().lower() == "true":
        raise not_implemented()
    raise S3Error(
        "InvalidRequest",
        f"Invalid value for {BUCKET_LOCK_HEADER}: expected true or false.",
        extra={"ArgumentName": BUCKET_LOCK_HEADER, "ArgumentValue": value},
    )


async def refuse_lock_request(req: S3Request, ctx: ServerContext, level: str, sub: str) -> None:
    """Before any handler: Object Lock asked for by a header of the request (or, on a
    write, by a query parameter of that name)."""
    if (req.method, level, sub) == ("PUT", "bucket", ""):
        refuse_bucket_lock(req.headers)
    elif (req.method, level, sub) in _OBJECT_CREATING and (
        any(h in req.headers for h in LOCK_HEADERS)
        # a presigned URL may carry the headers as query parameters
        or any(name.lower() in LOCK_HEADERS for name in req.query)
    ):
        await refuse_for_bucket(ctx, req.bucket)


async def refuse_for_bucket(ctx: ServerContext, bucket: str) -> NoReturn:
    """NoSuchBucket for a missing bucket, else the answer for a bucket without Object Lock."""
    await ctx.read(bucket_must_exist, bucket)
    raise missing_lock_configuration()


async def refuse_lock_fields(ctx: ServerContext, bucket: str, fields: Mapping[str, str]) -> None:
    """POST Object: the same fields as headers (names already lowercase)."""
    if any(name in fields for name in LOCK_HEADERS):
        await refuse_for_bucket(ctx, bucket)


async def put_object_lock_configuration(req: S3Request, ctx: ServerContext) -> Response:
    await ctx.read(bucket_must_exist, req.bucket)
    raise not_implemented()


async def object_retention_or_legal_hold(req: S3Request, ctx: ServerContext) -> Response:
    """Get/PutObjectRetention, Get/PutObjectLegalHold."""
    await refuse_for_bucket(ctx, req.bucket)

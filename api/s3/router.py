"""Dispatches an S3 request by the operation table (api.s3.operations) alone: find the
request's row, authenticate and authorize it with the row's IAM action (unless the row's
handler authenticates the request itself), apply the checks every operation shares, and run
the row's handler."""

from __future__ import annotations

from api.auth.authenticate import authenticate_request
from api.auth.authz import authorize_request
from api.context import ServerContext
from api.errors import S3Error
from api.request import S3Request
from api.response import Response
from api.s3.addressing import select
from api.s3.as_of import AS_OF_HEADER, serve_as_of
from api.s3.handlers import encryption, object_lock, public_access_block
from api.s3.operations import S3_OPERATIONS
from domain.ownership import ACCOUNT, canonical_id
from projections.namespace.queries import get_bucket


async def route(req: S3Request, ctx: ServerContext) -> Response:
    level, sub = select(req)
    method = req.method
    operation = S3_OPERATIONS.find(req, method, level, sub)
    if operation is not None:
        req.operation = operation.name
    if operation is not None and operation.authenticates_itself:
        return await operation.handler(req, ctx)
    await authenticate_request(req, ctx)
    action = operation.iam_action(req) if operation is not None else S3_OPERATIONS.group_action(method, level, sub)
    await authorize_request(req, ctx, level, sub, action)
    if req.bucket and "x-amz-expected-bucket-owner" in req.headers:
        await _check_expected_owner(req, ctx)
    if AS_OF_HEADER in req.headers:  # a read of the past (or a request refused for asking one)
        return await serve_as_of(req, ctx, operation.name if operation is not None else "")
    # Encryption and Object Lock are not built: asking for them is refused (invariant 8).
    encryption.refuse_encryption_request(req, level, sub)
    await object_lock.refuse_lock_request(req, ctx, level, sub)
    if method in ("PUT", "POST") and level != "service" and (sub in ("", "acl", "uploads")):
        await public_access_block.refuse_public_acl(req, ctx)  # BlockPublicAcls binds root too
    if operation is None:
        if method in ("PUT", "POST", "DELETE") and sub:
            raise S3Error("NotImplemented", f"The {sub} subresource is not implemented yet.")
        raise S3Error("MethodNotAllowed")
    return await operation.handler(req, ctx)


async def _check_expected_owner(req: S3Request, ctx: ServerContext) -> None:
    """x-amz-expected-bucket-owner: AccessDenied unless it names the bucket's owner (by its
    canonical id, or the account id)."""
    row = await ctx.query(get_bucket, req.bucket)
    if row is None:
        return  # the handler answers NoSuchBucket
    expected = req.headers["x-amz-expected-bucket-owner"].strip()
    if expected not in (ACCOUNT, canonical_id(row["owner"])):
        raise S3Error("AccessDenied")

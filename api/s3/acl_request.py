"""The ACL a request asks for (x-amz-acl, x-amz-grant-*, the POST form's `acl` field): for
CreateBucket, the object writes, and PutBucketAcl / PutObjectAcl.

Canonical IDs: root and IAM users are canonical_id(name); a grant naming an ID that is
none of theirs is refused (InvalidArgument)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from api.context import ServerContext
from api.errors import S3Error
from api.request import S3Request
from api.s3.bucket_settings import ownership
from api.s3.handlers.common import bucket_must_exist
from domain.acl import (
    CANNED,
    Resolver,
    canned_acl,
    grants_from_headers,
    has_grant_headers,
    make_acl,
    private_acl,
)
from domain.ownership import BUCKET_OWNER_ENFORCED as ENFORCED
from domain.ownership import BUCKET_OWNER_PREFERRED as PREFERRED
from domain.ownership import canonical_id
from projections.namespace.acl_queries import user_names

JSON = dict[str, Any]


async def resolver(ctx: ServerContext) -> Resolver:
    """canonical ID -> display name, over root and every IAM user (read when a grant names an ID)."""
    names = [ctx.settings.root_user, *await ctx.read(user_names)]
    by_id = {canonical_id(n): n for n in names}
    return by_id.get


def check_canned(value: str | None) -> None:
    if value is not None and value not in CANNED:
        raise S3Error("InvalidArgument", None, extra={"ArgumentName": "x-amz-acl", "ArgumentValue": value})


def owner_of(name: str, bucket_owner: str) -> str:
    """An anonymous writer's objects belong to the bucket owner."""
    return name or bucket_owner


async def acl_from_request(
    req: S3Request,
    ctx: ServerContext,
    *,
    owner: str,
    bucket_owner: str | None = None,
    canned: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSON | None:
    """The ACL the request's x-amz-acl / x-amz-grant-* headers (or `canned`, the POST form's
    field) ask for; None when it asks for none (the default: private to the owner)."""
    h = req.headers if headers is None else headers
    canned = canned if canned is not None else h.get("x-amz-acl")
    grants_given = has_grant_headers(h)
    if canned is None and not grants_given:
        return None
    if canned is not None and grants_given:
        raise S3Error("InvalidRequest", "Specifying both Canned ACLs and Header Grants is not allowed")
    check_canned(canned)
    if grants_given:
        resolve = await resolver(ctx)
        return make_acl(canonical_id(owner), owner, grants_from_headers(h, resolve))
    assert canned is not None
    if canned.startswith("bucket-owner-") and bucket_owner is None:
        bucket_owner = (await ctx.read(bucket_must_exist, req.bucket))["owner"]
    return canned_acl(
        canned, canonical_id(owner), owner,
        bucket_owner_id=canonical_id(bucket_owner) if bucket_owner else None,
        bucket_owner_name=bucket_owner,
    )  # fmt: skip


async def object_write_acl(req: S3Request, ctx: ServerContext, canned: str | None = None) -> JSON | None:
    """For PutObject, CopyObject, CreateMultipartUpload and POST: the new version's ACL, or None
    (nothing extra is read then). Anonymous writers' objects belong to the bucket owner."""
    if canned is None and "x-amz-acl" not in req.headers and not has_grant_headers(req.headers):
        return None
    # Object ownership decides whose the object is when an ACL is asked for (only then is it read).
    row, mode = await ctx.read(bucket_and_ownership, req.bucket)
    bucket_owner = row["owner"]
    wanted = canned if canned is not None else req.headers.get("x-amz-acl")
    if wanted == "bucket-owner-full-control" and not has_grant_headers(req.headers) and mode in (ENFORCED, PREFERRED):
        return private_acl(canonical_id(bucket_owner), bucket_owner)  # the bucket owner's object
    if mode == ENFORCED:
        raise S3Error("AccessControlListNotSupported")
    owner = req.principal or bucket_owner
    return await acl_from_request(req, ctx, owner=owner, bucket_owner=bucket_owner, canned=canned)


def bucket_and_ownership(tx: Any, bucket: str) -> tuple[JSON, str | None]:
    return bucket_must_exist(tx, bucket), ownership(tx, bucket)


async def create_bucket_acl(req: S3Request, ctx: ServerContext, owner: str) -> JSON | None:
    """The ACL a CreateBucket asks for (None: the default, private)."""
    return await acl_from_request(req, ctx, owner=owner, bucket_owner=owner)

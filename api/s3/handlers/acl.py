"""ACLs: Get/PutBucketAcl, Get/PutObjectAcl (the ACL a write asks for: api.s3.acl_request).

Canonical IDs: root and IAM users are canonical_id(name); a grant naming an ID that is
none of theirs is refused (InvalidArgument). The bucket's ACL is a bucket configuration
("acl"); an object version's ACL travels with its Created event and AclSet events.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from api.context import ServerContext
from api.errors import S3Error
from api.request import S3Request
from api.response import Response, empty, xml
from api.s3.acl_request import JSON, acl_from_request, bucket_and_ownership, owner_of, resolver
from api.s3.handlers.buckets import update_bucket
from api.s3.handlers.common import bucket_must_exist
from api.s3.handlers.object_read import delete_marker_error, resolve_version
from api.s3.xml import parse
from api.services import objects
from domain.acl import (
    acl_xml,
    has_grant_headers,
    make_acl,
    parse_acl_xml,
    private_acl,
)
from domain.ownership import BUCKET_OWNER_ENFORCED as ENFORCED
from domain.ownership import canonical_id
from projections.namespace.acl_queries import bucket_acl, object_acl


async def _acl_from_body_or_headers(req: S3Request, ctx: ServerContext, owner: str, bucket_owner: str) -> JSON:
    body = await req.read_all()
    if body.strip():
        if "x-amz-acl" in req.headers or has_grant_headers(req.headers):
            raise S3Error("UnexpectedContent", "This request does not support content")
        document = parse(body, error="MalformedACLError")
        _owner_id, grants = parse_acl_xml(document, await resolver(ctx))
        return make_acl(canonical_id(owner), owner, grants)
    acl = await acl_from_request(req, ctx, owner=owner, bucket_owner=bucket_owner)
    if acl is None:
        raise S3Error(
            "MissingSecurityHeader",
            "Your request was missing a required header",
            extra={"MissingHeaderName": "x-amz-acl"},
        )
    return acl


# -- buckets -----------------------------------------------------------------


async def get_bucket_acl(req: S3Request, ctx: ServerContext) -> Response:
    def read(tx: Any) -> tuple[JSON, JSON | None]:
        return bucket_must_exist(tx, req.bucket), bucket_acl(tx, req.bucket)

    row, acl = await ctx.read(read)
    return xml(acl_xml(acl or private_acl(canonical_id(row["owner"]), row["owner"])))


async def put_bucket_acl(req: S3Request, ctx: ServerContext) -> Response:
    row, mode = await ctx.read(bucket_and_ownership, req.bucket)
    if mode == ENFORCED:
        raise S3Error("AccessControlListNotSupported")
    owner = row["owner"]
    acl = await _acl_from_body_or_headers(req, ctx, owner, owner)
    await update_bucket(req, ctx, lambda b, actor: b.set_configuration(subresource="acl", document=acl, actor=actor))
    return empty(200)


# -- objects -----------------------------------------------------------------


def _vid(row: Mapping[str, Any]) -> dict[str, str]:
    if row["version_id"] != "null" or row.get("_versioned_bucket"):
        return {"x-amz-version-id": row["version_id"]}
    return {}


async def _object(req: S3Request, ctx: ServerContext) -> tuple[JSON, JSON, str, str | None]:
    """(version row, its ACL, bucket owner, the bucket's object ownership) of the addressed
    object version. Under BucketOwnerEnforced the bucket owner owns it, whatever was stored."""
    version_id = req.query.get("versionId")

    def read(tx: Any) -> tuple[JSON, JSON | None, str, str | None]:
        row = resolve_version(tx, req.bucket, req.key, version_id, load_inline=False)
        found = object_acl(tx, req.bucket, req.key, row["version_id"])
        bucket_row, mode = bucket_and_ownership(tx, req.bucket)
        return row, (found or {}).get("acl"), bucket_row["owner"], mode

    row, acl, bucket_owner, mode = await ctx.read(read)
    if row["is_delete_marker"]:
        raise delete_marker_error(row, version_id is not None)
    if mode == ENFORCED:
        acl = private_acl(canonical_id(bucket_owner), bucket_owner)
    elif acl is None:
        owner = owner_of(row["owner"], bucket_owner)
        acl = private_acl(canonical_id(owner), owner)
    return row, acl, bucket_owner, mode


async def get_object_acl(req: S3Request, ctx: ServerContext) -> Response:
    row, acl, _bucket_owner, _mode = await _object(req, ctx)
    return xml(acl_xml(acl), headers=_vid(row))


async def put_object_acl(req: S3Request, ctx: ServerContext) -> Response:
    row, current, bucket_owner, mode = await _object(req, ctx)
    if mode == ENFORCED:
        raise S3Error("AccessControlListNotSupported")
    owner = (current.get("owner") or {}).get("name") or owner_of(row["owner"], bucket_owner)
    acl = await _acl_from_body_or_headers(req, ctx, owner, bucket_owner)
    await objects.set_version_acl(ctx, row["id"], req.key, acl, req.actor())
    return empty(200, _vid(row))

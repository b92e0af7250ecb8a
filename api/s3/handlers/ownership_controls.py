"""Put/Get/DeleteBucketOwnershipControls and x-amz-object-ownership on CreateBucket.

- ObjectWriter (and no configuration): the writer owns the objects it writes (as before);
- BucketOwnerPreferred: an object written with the canned ACL bucket-owner-full-control
  belongs to the bucket owner;
- BucketOwnerEnforced: ACLs are off. The bucket owner owns every object (existing ones too:
  the owner is decided when it is shown, not when it is written), ACLs grant nothing, and
  a request that sets an ACL other than bucket-owner-full-control (or the owner's private
  one on the bucket) is refused with AccessControlListNotSupported.

The setting is a bucket configuration, read only on ACL paths and writes that carry ACL
headers, never on a plain GET or PUT.
"""

from __future__ import annotations

from typing import Any

from api.context import ServerContext
from api.errors import S3Error
from api.request import S3Request
from api.response import Response, empty, xml
from api.s3.bucket_settings import OWNERSHIP_CONTROLS, ownership
from api.s3.handlers.buckets import update_bucket
from api.s3.handlers.common import bucket_must_exist
from api.s3.xml import X, children, parse, text
from domain.ownership import (
    BUCKET_OWNER_ENFORCED,
    BUCKET_OWNER_PREFERRED,
    OWNERSHIP_MODES,
    acl_is_owner_only,
)
from projections.namespace.acl_queries import bucket_acl

SUBRESOURCE = OWNERSHIP_CONTROLS
MODES = OWNERSHIP_MODES
ENFORCED = BUCKET_OWNER_ENFORCED
PREFERRED = BUCKET_OWNER_PREFERRED


async def put_ownership_controls(req: S3Request, ctx: ServerContext) -> Response:
    body = await req.read_all(limit=64 * 1024)
    root = parse(body, "OwnershipControls")
    rules = children(root, "Rule")
    if len(rules) != 1:
        raise S3Error("MalformedXML")
    mode = text(rules[0], "ObjectOwnership")
    if mode not in MODES:
        raise S3Error("MalformedXML")

    def read(tx: Any) -> dict[str, Any] | None:
        bucket_must_exist(tx, req.bucket)
        return bucket_acl(tx, req.bucket)

    acl = await ctx.read(read)
    if mode == ENFORCED and not acl_is_owner_only(acl):
        raise S3Error(
            "InvalidBucketAclWithObjectOwnership",
            "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
        )
    doc = {"ObjectOwnership": mode}
    await update_bucket(
        req,
        ctx,
        lambda b, actor: b.set_configuration(subresource=SUBRESOURCE, document=doc, actor=actor),
    )
    return empty(200)


async def get_ownership_controls(req: S3Request, ctx: ServerContext) -> Response:
    def read(tx: Any) -> str | None:
        bucket_must_exist(tx, req.bucket)
        return ownership(tx, req.bucket)

    mode = await ctx.read(read)
    if mode is None:
        raise S3Error("OwnershipControlsNotFoundError", extra={"BucketName": req.bucket})
    x = X().open("OwnershipControls", xmlns=True).open("Rule").leaf("ObjectOwnership", mode).close("Rule")
    return xml(x.close("OwnershipControls").bytes())


async def delete_ownership_controls(req: S3Request, ctx: ServerContext) -> Response:
    await ctx.read(bucket_must_exist, req.bucket)
    await update_bucket(req, ctx, lambda b, actor: b.delete_configuration(subresource=SUBRESOURCE, actor=actor))
    return empty(204)

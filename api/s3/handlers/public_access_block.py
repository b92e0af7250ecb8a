"""PutPublicAccessBlock, GetPublicAccessBlock, DeletePublicAccessBlock, and the helpers that
enforce the four settings:

- BlockPublicAcls: a request that sets a public ACL (canned public-read, public-read-write,
  authenticated-read, or a grant to AllUsers / AuthenticatedUsers) is refused;
- IgnorePublicAcls: grants to AllUsers / AuthenticatedUsers give nobody anything;
- BlockPublicPolicy: PutBucketPolicy with a public policy is refused;
- RestrictPublicBuckets: a public bucket policy opens nothing to anonymous callers.

The configuration is a bucket configuration like the policy (an event, in the projection),
read only on the paths that need it, never on a plain GET.
"""

from __future__ import annotations

from typing import Any

from api.context import ServerContext
from api.errors import S3Error
from api.request import S3Request
from api.response import Response, empty, xml
from api.s3.bucket_settings import PUBLIC_ACCESS_BLOCK, public_access_settings
from api.s3.handlers.buckets import update_bucket
from api.s3.handlers.common import bucket_must_exist
from api.s3.xml import X, parse, text
from domain.ownership import PUBLIC_ACCESS_FIELDS, asks_public_acl
from projections.namespace.queries import bucket_config

SUBRESOURCE = PUBLIC_ACCESS_BLOCK
FIELDS = PUBLIC_ACCESS_FIELDS


async def put_public_access_block(req: S3Request, ctx: ServerContext) -> Response:
    body = await req.read_all(limit=64 * 1024)
    root = parse(body, "PublicAccessBlockConfiguration")
    doc: dict[str, bool] = {}
    for name in FIELDS:
        value = text(root, name)
        if value is None:
            doc[name] = False
            continue
        if value.strip().lower() not in ("true", "false"):
            raise S3Error("MalformedXML")
        doc[name] = value.strip().lower() == "true"
    await ctx.read(bucket_must_exist, req.bucket)
    await update_bucket(
        req,
        ctx,
        lambda b, actor: b.set_configuration(subresource=SUBRESOURCE, document=doc, actor=actor),
    )
    return empty(200)


async def get_public_access_block(req: S3Request, ctx: ServerContext) -> Response:
    def read(tx: Any) -> Any:
        bucket_must_exist(tx, req.bucket)
        return bucket_config(tx, req.bucket, SUBRESOURCE)

    doc = await ctx.read(read)
    if doc is None:
        raise S3Error("NoSuchPublicAccessBlockConfiguration", extra={"BucketName": req.bucket})
    x = X().open("PublicAccessBlockConfiguration", xmlns=True)
    for name in FIELDS:
        x.leaf(name, bool(doc.get(name)))
    return xml(x.close("PublicAccessBlockConfiguration").bytes())


async def delete_public_access_block(req: S3Request, ctx: ServerContext) -> Response:
    await ctx.read(bucket_must_exist, req.bucket)
    await update_bucket(req, ctx, lambda b, actor: b.delete_configuration(subresource=SUBRESOURCE, actor=actor))
    return empty(204)


async def refuse_public_acl(req: S3Request, ctx: ServerContext) -> None:
    """BlockPublicAcls: AccessDenied for a request that would make the bucket or object public."""
    if (
        req.bucket
        and asks_public_acl(req.headers)
        and (await ctx.read(public_access_settings, req.bucket))["BlockPublicAcls"]
    ):
        raise S3Error("AccessDenied")

"""Bucket policies: Put/Get/DeleteBucketPolicy and GetBucketPolicyStatus.

The policy is stored as the JSON text the client sent (GetBucketPolicy returns it byte for
byte), after validation by the policy engine (AWS's MalformedPolicy messages)."""

from __future__ import annotations

from typing import Any

import orjson

from api.context import ServerContext
from api.errors import S3Error
from api.request import S3Request
from api.response import Response, empty, xml
from api.s3.bucket_settings import public_access_settings
from api.s3.handlers.buckets import update_bucket
from api.s3.handlers.common import bucket_must_exist
from api.s3.xml import X
from domain.acl import is_public_acl
from domain.ownership import is_public_policy
from domain.policy import MAX_POLICY_BYTES, parse_policy
from projections.namespace.acl_queries import bucket_acl
from projections.namespace.queries import bucket_config

POLICY = "policy"


async def put_bucket_policy(req: S3Request, ctx: ServerContext) -> Response:
    body = await req.read_all(limit=MAX_POLICY_BYTES * 4)
    if len(body) > MAX_POLICY_BYTES:
        raise S3Error("MalformedPolicy", "Policy exceeds the maximum allowed document size.")
    if not body.strip():
        raise S3Error("MalformedPolicy", "Policies must be valid JSON and the first byte must be '{'")
    await ctx.read(bucket_must_exist, req.bucket)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise S3Error("MalformedPolicy", "Policies must be valid JSON and the first byte must be '{'") from None
    parse_policy(text, kind="bucket", bucket=req.bucket)  # DomainError(MalformedPolicy, ...) when invalid
    if is_public_policy(text):
        if (await ctx.read(public_access_settings, req.bucket))["BlockPublicPolicy"]:
            raise S3Error("AccessDenied")  # BlockPublicPolicy
    await update_bucket(req, ctx, lambda b, actor: b.set_configuration(subresource=POLICY, document=text, actor=actor))
    return empty(204)


def policy_text(document: Any) -> str:
    """The stored policy as the text to answer (documents written as JSON objects too)."""
    return document if isinstance(document, str) else orjson.dumps(document).decode()


async def _policy(req: S3Request, ctx: ServerContext) -> Any:
    def read(tx: Any) -> Any:
        bucket_must_exist(tx, req.bucket)
        return bucket_config(tx, req.bucket, POLICY)

    document = await ctx.read(read)
    if document is None:
        raise S3Error("NoSuchBucketPolicy", extra={"BucketName": req.bucket})
    return document


async def get_bucket_policy(req: S3Request, ctx: ServerContext) -> Response:
    document = await _policy(req, ctx)
    return Response(200, {"content-type": "application/json"}, policy_text(document).encode())


async def delete_bucket_policy(req: S3Request, ctx: ServerContext) -> Response:
    await ctx.read(bucket_must_exist, req.bucket)
    await update_bucket(req, ctx, lambda b, actor: b.delete_configuration(subresource=POLICY, actor=actor))
    return empty(204)


async def get_bucket_policy_status(req: S3Request, ctx: ServerContext) -> Response:
    """IsPublic: the bucket policy or the bucket's ACL opens the bucket to everyone."""

    def read(tx: Any) -> tuple[Any, Any]:
        bucket_must_exist(tx, req.bucket)
        return bucket_config(tx, req.bucket, POLICY), bucket_acl(tx, req.bucket)

    document, acl = await ctx.read(read)
    public = (document is not None and is_public_policy(document)) or is_public_acl(acl)
    x = X().open("PolicyStatus", xmlns=True).leaf("IsPublic", public).close("PolicyStatus")
    return xml(x.bytes())

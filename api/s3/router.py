"""Maps (method, level, subresource) to one small handler per S3 operation, after
authentication. Unknown query parameters are ignored, as AWS ignores them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from api.auth.identity import Identity, access_key_of
from api.auth.sigv4 import authenticate
from api.context import ServerContext
from api.errors import S3Error
from api.request import S3Request
from api.response import Response
from api.s3.handlers import (
    acl,
    bucket_policy,
    buckets,
    encryption,
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
    public_access_block,
    tagging,
)

Handler = Callable[[S3Request, ServerContext], Awaitable[Response]]

# Subresources recognised at each level, in the order they take precedence.
BUCKET_SUBRESOURCES = (
    "uploads",
    "versions",
    "versioning",
    "location",
    "tagging",
    "delete",
    "acl",
    "policy",
    "policyStatus",
    "cors",
    "lifecycle",
    "encryption",
    "object-lock",
    "website",
    "replication",
    "publicAccessBlock",
    "ownershipControls",
    "logging",
    "notification",
    "requestPayment",
    "accelerate",
    "analytics",
    "metrics",
    "inventory",
    "intelligent-tiering",
    "events",
)
OBJECT_SUBRESOURCES = (
    "uploadId",
    "uploads",
    "tagging",
    "acl",
    "retention",
    "legal-hold",
    "attributes",
    "restore",
    "torrent",
    "select",
)

ROUTES: dict[tuple[str, str, str], Handler] = {
    ("GET", "service", ""): buckets.list_all_buckets,
    ("PUT", "bucket", ""): buckets.create_bucket,
    ("HEAD", "bucket", ""): buckets.head_bucket,
    ("DELETE", "bucket", ""): buckets.delete_bucket,
    ("GET", "bucket", ""): listing.list_objects_v1,
    ("GET", "bucket", "versions"): listing.list_object_versions,
    ("GET", "bucket", "location"): buckets.get_location,
    ("GET", "bucket", "versioning"): buckets.get_versioning,
    ("PUT", "bucket", "versioning"): buckets.put_versioning,
    ("GET", "bucket", "tagging"): tagging.get_bucket_tagging,
    ("PUT", "bucket", "tagging"): tagging.put_bucket_tagging,
    ("DELETE", "bucket", "tagging"): tagging.delete_bucket_tagging,
    ("POST", "bucket", "delete"): object_write.delete_objects,
    ("GET", "bucket", "uploads"): multipart.list_bucket_uploads,
    ("GET", "bucket", "acl"): acl.get_bucket_acl,
    ("PUT", "bucket", "acl"): acl.put_bucket_acl,
    ("GET", "bucket", "policy"): bucket_policy.get_bucket_policy,
    ("PUT", "bucket", "policy"): bucket_policy.put_bucket_policy,
    ("DELETE", "bucket", "policy"): bucket_policy.delete_bucket_policy,
    ("GET", "bucket", "policyStatus"): bucket_policy.get_bucket_policy_status,
    ("GET", "bucket", "publicAccessBlock"): public_access_block.get_public_access_block,
    ("PUT", "bucket", "publicAccessBlock"): public_access_block.put_public_access_block,
    ("DELETE", "bucket", "publicAccessBlock"): public_access_block.delete_public_access_block,
    ("GET", "bucket", "ownershipControls"): ownership_controls.get_ownership_controls,
    ("PUT", "bucket", "ownershipControls"): ownership_controls.put_ownership_controls,
    ("DELETE", "bucket", "ownershipControls"): ownership_controls.delete_ownership_controls,
    ("GET", "bucket", "notification"): notification.get_bucket_notification,
    ("GET", "bucket", "events"): listen.listen,
    ("GET", "service", "events"): listen.listen,
    ("PUT", "bucket", "notification"): notification.put_bucket_notification,
    ("PUT", "object", ""): object_write.put_object,
    ("GET", "object", ""): object_read.get_object,
    ("HEAD", "object", ""): object_read.head_object,
    ("DELETE", "object", ""): object_write.delete_object,
    ("POST", "object", "uploads"): multipart.create_upload,
    ("PUT", "object", "uploadId"): multipart.upload_part,
    ("POST", "object", "uploadId"): multipart.complete_upload,
    ("DELETE", "object", "uploadId"): multipart.abort_upload,
    ("GET", "object", "uploadId"): multipart.list_upload_parts,
    ("GET", "object", "tagging"): object_tagging.get_object_tagging,
    ("PUT", "object", "tagging"): object_tagging.put_object_tagging,
    ("DELETE", "object", "tagging"): object_tagging.delete_object_tagging,
    ("GET", "object", "acl"): acl.get_object_acl,
    ("GET", "object", "attributes"): object_attributes.get_object_attributes,
    ("GET", "object", "torrent"): object_read.get_torrent,
    ("PUT", "object", "acl"): acl.put_object_acl,
    ("PUT", "bucket", "object-lock"): object_lock.put_object_lock_configuration,
    ("GET", "object", "retention"): object_lock.object_retention_or_legal_hold,
    ("PUT", "object", "retention"): object_lock.object_retention_or_legal_hold,
    ("GET", "object", "legal-hold"): object_lock.object_retention_or_legal_hold,
    ("PUT", "object", "legal-hold"): object_lock.object_retention_or_legal_hold,
}
for _sub in buckets.UNCONFIGURED:
    ROUTES.setdefault(("GET", "bucket", _sub), partial(buckets.get_unconfigured, sub=_sub))
for _sub in ("logging", "requestPayment", "accelerate"):
    ROUTES[("GET", "bucket", _sub)] = partial(buckets.get_simple_config, sub=_sub)


def select(req: S3Request) -> tuple[str, str]:
    if not req.bucket:
        return ("service", "events") if "events" in req.query else ("service", "")
    if not req.key:
        for sub in BUCKET_SUBRESOURCES:
            if sub in req.query:
                return "bucket", sub
        return "bucket", ""
    for sub in OBJECT_SUBRESOURCES:
        if sub in req.query:
            return "object", sub
    return "object", ""


async def route(req: S3Request, ctx: ServerContext) -> Response:
    level, sub = select(req)
    if req.method == "OPTIONS":
        # A CORS preflight. No bucket has a CORS configuration yet, so none is allowed.
        if "origin" not in req.headers:
            raise S3Error("BadRequest", "Insufficient information. Origin request header needed.")
        raise S3Error(
            "AccessForbidden",
            "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
            status=403,
        )
    if (
        req.method == "POST"
        and level == "bucket"
        and sub == ""
        and req.headers.get("content-type", "").startswith("multipart/form-data")
    ):
        from api.s3.handlers.post_object import post_object

        return await post_object(req, ctx)
    if req.method == "POST" and level == "service":
        from api.iam.sts import query_api, query_api_service

        service = query_api_service(req)  # STS / IAM query API: POST / with Action=, by credential scope
        if service is not None:
            return await query_api(req, ctx, service)
    await authenticate_request(req, ctx)
    await authorize(req, ctx, level, sub)
    if req.bucket and "x-amz-expected-bucket-owner" in req.headers:
        await _check_expected_owner(req, ctx)
    # Encryption and Object Lock are not built: asking for them is refused (invariant 8).
    encryption.refuse_encryption_request(req, level, sub)
    await object_lock.refuse_lock_request(req, ctx, level, sub)
    if req.method in ("PUT", "POST") and level != "service" and (sub in ("", "acl", "uploads")):
        await public_access_block.refuse_public_acl(req, ctx)  # BlockPublicAcls binds root too
    handler = ROUTES.get((req.method, level, sub))
    if handler is None:
        if req.method in ("PUT", "POST", "DELETE") and sub:
            raise S3Error("NotImplemented", f"The {sub} subresource is not implemented yet.")
        raise S3Error("MethodNotAllowed")
    return await handler(req, ctx)


async def authenticate_request(
    req: S3Request, ctx: ServerContext, *, service: str = "s3", payload_sha256: str | None = None
) -> None:
    """Resolve the claimed key from the IAM lookup (off the event loop), then verify the
    signature with its secret. Sets req.auth and req.identity. service / payload_sha256: for
    the STS and IAM query APIs (signed for their service, body signed by its hash)."""
    claimed = access_key_of(req)
    secret: str | None = None
    identity: Identity | None = None
    if claimed:
        token = req.headers.get("x-amz-security-token") or req.query.get("X-Amz-Security-Token")
        if req.bucket and claimed != ctx.settings.root_user:
            # One trip for both: the key's credential, and the bucket facts authorization needs.
            from api.auth.authz import credential_and_bucket

            if req.key and req.method in ("GET", "HEAD") and select(req) == ("object", ""):
                from api.auth.authz import credential_bucket_version

                row, facts, req.prefetched_version = await credential_bucket_version(
                    ctx, claimed, req.bucket, req.key, req.query.get("versionId"), load_inline=req.method == "GET"
                )
            else:
                row, facts = await credential_and_bucket(ctx, claimed, req.bucket)
            req.bucket_facts = (req.bucket, facts)
            secret, identity = await ctx.identities.resolve(claimed, token, row=row, prefetched=True)
        else:
            secret, identity = await ctx.identities.resolve(claimed, token)
    req.auth = authenticate(
        req.method,
        req.raw_path,
        req.query_string,
        req.headers,
        lambda key: secret if key == claimed else None,
        expected_service=service,
        payload_sha256=payload_sha256,
    )
    req.identity = identity if req.auth.access_key is not None else None


async def _check_expected_owner(req: S3Request, ctx: ServerContext) -> None:
    """x-amz-expected-bucket-owner: AccessDenied unless it names the bucket's owner (by its
    canonical id, or the account id)."""
    from api.auth.authz import ACCOUNT
    from projections.namespace.queries import get_bucket

    row = await ctx.query(get_bucket, req.bucket)
    if row is None:
        return  # the handler answers NoSuchBucket
    expected = req.headers["x-amz-expected-bucket-owner"].strip()
    if expected not in (ACCOUNT, buckets.canonical_id(row["owner"])):
        raise S3Error("AccessDenied")


async def authorize(req: S3Request, ctx: ServerContext, level: str, sub: str) -> None:
    from api.auth.authz import authorize_request

    await authorize_request(req, ctx, level, sub)

"""Authentication of a request (S3, admin, metrics, and the STS / IAM query APIs): resolve
the claimed access key, then verify the signature with its secret."""

from __future__ import annotations

from api.auth.credential_facts import credential_and_bucket, credential_bucket_version
from api.auth.identity import Identity, access_key_of
from api.auth.signature import authenticate
from api.context import ServerContext
from api.request import S3Request
from api.s3.addressing import select


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
            if req.key and req.method in ("GET", "HEAD") and select(req) == ("object", ""):
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

"""The CORS headers of an actual cross-origin request: a request to a bucket or object that
carries an Origin header gets the headers of the first of the bucket's CORS rules it
matches (its method, or Access-Control-Request-Method when sent, and the headers named in
Access-Control-Request-Headers, as AWS and s3-tests' cors group do), whatever its status:
a browser reads an error's answer only if it carries them. No rule matches, no headers.

Only requests with an Origin header pay for the lookup (one statement, from the event loop
on PostgreSQL), so a plain GET or PUT reads nothing more.
"""

from __future__ import annotations

import logging

import orjson

from api.context import ServerContext
from api.request import S3Request
from api.response import Response
from domain.cors import SUBRESOURCE, CorsConfiguration
from projections.namespace.queries import BUCKET_AND_CONFIG_SQL

log = logging.getLogger("chronicle.api")


async def bucket_cors(ctx: ServerContext, bucket: str) -> tuple[bool, CorsConfiguration | None]:
    """(whether the bucket exists, its CORS configuration or None)."""
    row = await ctx.fetch_one(BUCKET_AND_CONFIG_SQL, (SUBRESOURCE, bucket))
    if row is None:
        return False, None
    document = row["document"]
    return True, None if document is None else CorsConfiguration.from_document(orjson.loads(document))


async def add_cors_headers(req: S3Request, ctx: ServerContext, response: Response) -> None:
    """Add the matching rule's headers to the answer of an actual (not preflight) request."""
    origin = req.headers.get("origin")
    if origin is None or not req.bucket or req.method == "OPTIONS":
        return
    try:
        _exists, config = await bucket_cors(ctx, req.bucket)
    except Exception:  # noqa: BLE001 - the answer stands; only its CORS headers are missing
        log.warning("CORS rules of bucket %r unreadable; answered without CORS headers", req.bucket, exc_info=True)
        return
    if config is None:
        return
    method = req.headers.get("access-control-request-method") or req.method
    found = config.match(origin, method, req.headers.get("access-control-request-headers", ""))
    if found is not None:
        response.headers.update(found.response_headers(preflight=False))

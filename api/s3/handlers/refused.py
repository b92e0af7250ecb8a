"""Operations Chronicle recognises but does not offer: the answers that say so."""

from __future__ import annotations

from typing import NoReturn

from api.context import ServerContext
from api.errors import S3Error
from api.request import S3Request


async def cors_preflight(req: S3Request, ctx: ServerContext) -> NoReturn:
    """An OPTIONS preflight. No bucket has a CORS configuration yet, so none is allowed."""
    if "origin" not in req.headers:
        raise S3Error("BadRequest", "Insufficient information. Origin request header needed.")
    raise S3Error(
        "AccessForbidden",
        "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request "
        "method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the "
        "resource's CORS spec.",
        status=403,
    )


async def not_implemented(req: S3Request, ctx: ServerContext, *, sub: str) -> NoReturn:
    """A write to a subresource whose feature is not built (after authorization, as before)."""
    raise S3Error("NotImplemented", f"The {sub} subresource is not implemented yet.")

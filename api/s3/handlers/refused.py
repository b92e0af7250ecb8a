"""Operations Chronicle recognises but does not offer: the answers that say so."""

from __future__ import annotations

from typing import NoReturn

from api.context import ServerContext
from api.errors import S3Error
from api.request import S3Request


async def not_implemented(req: S3Request, ctx: ServerContext, *, sub: str) -> NoReturn:
    """A write to a subresource whose feature is not built (after authorization, as before)."""
    raise S3Error("NotImplemented", f"The {sub} subresource is not implemented yet.")

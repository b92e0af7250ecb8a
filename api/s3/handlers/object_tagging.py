"""Get/Put/DeleteObjectTagging."""

from __future__ import annotations

from typing import Any

from api.context import ServerContext
from api.request import S3Request
from api.response import Response, empty, xml
from api.s3.handlers.object_read import delete_marker_error, resolve_version
from api.s3.handlers.tagging import tagging_xml, tags_from_xml
from api.services import objects


async def _target(req: S3Request, ctx: ServerContext) -> dict[str, Any]:
    version_id = req.query.get("versionId")
    row = await ctx.read(resolve_version, req.bucket, req.key, version_id, load_inline=False)
    if row["is_delete_marker"]:
        raise delete_marker_error(row, version_id is not None)
    return row


def _vid(row: dict[str, Any]) -> dict[str, str]:
    if row["version_id"] != "null" or row.get("_versioned_bucket"):
        return {"x-amz-version-id": row["version_id"]}
    return {}


async def get_object_tagging(req: S3Request, ctx: ServerContext) -> Response:
    row = await _target(req, ctx)
    return xml(tagging_xml(row["tags"] or {}), headers=_vid(row))


async def _set_tags(req: S3Request, ctx: ServerContext, tags: dict[str, str]) -> dict[str, Any]:
    row = await _target(req, ctx)
    await objects.set_version_tags(ctx, row["id"], req.key, tags, req.actor())
    return row


async def put_object_tagging(req: S3Request, ctx: ServerContext) -> Response:
    tags = tags_from_xml(await req.read_all())
    row = await _set_tags(req, ctx, tags)
    return empty(200, _vid(row))


async def delete_object_tagging(req: S3Request, ctx: ServerContext) -> Response:
    row = await _set_tags(req, ctx, {})
    return empty(204, _vid(row))

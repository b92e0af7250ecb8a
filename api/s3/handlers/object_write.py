"""PutObject, CopyObject, DeleteObject, DeleteObjects."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from api.auth.authz import authorize_copy_source
from api.context import ServerContext
from api.errors import S3Error
from api.request import S3Request
from api.response import Response, empty, xml
from api.s3.acl_request import object_write_acl
from api.s3.body import DecodedBody
from api.s3.checksums import header_name
from api.s3.handlers.common import (
    bucket_must_exist,
    check_key,
    etag_header,
    etag_matches,
    header_value,
    iso8601,
    parse_http_date,
    stored_content_type,
    stored_headers,
    user_metadata,
)
from api.s3.handlers.object_read import resolve_version
from api.s3.handlers.tagging import tags_from_header
from api.s3.xml import X, children, parse, text
from api.services import objects
from domain.preconditions import ObjectMatches, VersionMatches
from projections.blobstore import StagedBlob
from projections.eventstore.tx import Tx
from projections.namespace.queries import version_by_id

DEFAULT_CONTENT_TYPE = "binary/octet-stream"


def write_conditions(req: S3Request, bucket: str, key: str) -> ObjectMatches | None:
    """If-Match / If-None-Match of a write, checked by the store atomically with it."""
    if_none = req.headers.get("if-none-match")
    if_match = req.headers.get("if-match")
    if if_none is None and if_match is None:
        return None
    return ObjectMatches(bucket, key, if_match=if_match, if_none_match=if_none)


def version_headers(version_id: str | None) -> dict[str, str]:
    return {"x-amz-version-id": version_id} if version_id and version_id != "null" else {}


def require_length(req: S3Request) -> None:
    if "content-length" not in req.headers and "chunked" not in req.headers.get("transfer-encoding", ""):
        raise S3Error("MissingContentLength")


async def put_object(req: S3Request, ctx: ServerContext) -> Response:
    check_key(req.key)
    require_length(req)
    meta = user_metadata(req)
    headers = stored_headers(req)
    tags = tags_from_header(req.header("x-amz-tagging"))
    ctype = stored_content_type(req.header("content-type"), DEFAULT_CONTENT_TYPE)
    acl = await object_write_acl(req, ctx)
    body = DecodedBody(req)
    if body.size is None or body.size > ctx.blobs.inline_limit:
        # Before streaming a large body, not after: small ones are checked at the append.
        await ctx.read(bucket_must_exist, req.bucket)
    staged = await ctx.blobs.stage(body.chunks(), body.sink, expected_size=body.size)
    try:
        checksums = body.verify()
    except BaseException:
        ctx.blobs.discard(staged)
        raise
    version_id = await commit_version(
        ctx, req, req.key, staged, etag=body.etag, content_type=ctype, headers=headers,
        meta=meta, tags=tags, checksums=checksums, acl=acl,
    )  # fmt: skip
    return empty(200, write_headers(body.etag, version_id, checksums))


async def commit_version(
    ctx: ServerContext,
    req: S3Request,
    key: str,
    staged: StagedBlob,
    *,
    etag: str,
    content_type: str,
    headers: dict[str, str],
    meta: dict[str, str],
    tags: dict[str, str],
    checksums: dict[str, str],
    acl: dict[str, Any] | None = None,
) -> str | None:
    """Append a new ObjectVersion of req.bucket/key for a staged blob; returns its version id.

    The blob is discarded when the append fails (precondition, missing bucket, ...)."""
    try:
        checksum_doc: dict[str, Any] = dict(checksums)
        if checksums:
            checksum_doc["type"] = "FULL_OBJECT"
        bucket = req.bucket
        fields: dict[str, Any] = dict(
            bucket=bucket, key=key, size=staged.size, etag=etag, content_type=content_type,
            headers=headers, metadata=meta, blob=staged.descriptor(), checksum=checksum_doc,
            tags=tags, parts=[], operation=_operation(req), actor=req.actor(), acl=acl,
        )  # fmt: skip
        return await objects.put_version(ctx, fields, staged, write_conditions(req, bucket, key))
    except BaseException:
        ctx.blobs.discard(staged)
        raise


def write_headers(etag: str, version_id: str | None, checksums: dict[str, str]) -> dict[str, str]:
    """ETag, x-amz-version-id and x-amz-checksum-* of a written object."""
    out = {"etag": etag_header(etag), **version_headers(version_id)}
    for algo, value in checksums.items():
        out[header_name(algo)] = value
    if checksums:
        out["x-amz-checksum-type"] = "FULL_OBJECT"
    return out


def _operation(req: S3Request) -> str:
    return "Post" if req.method == "POST" else "Put"


def parse_copy_source(value: str) -> tuple[str, str, str | None]:
    source = value
    version_id = None
    try:
        if "?" in source:
            source, _, qs = source.partition("?")
            for pair in qs.split("&"):
                name, _, val = pair.partition("=")
                if name == "versionId":
                    version_id = unquote(val, errors="strict")
        source = unquote(source, errors="strict").lstrip("/")
    except UnicodeDecodeError:
        raise S3Error(
            "InvalidArgument",
            "Invalid copy source encoding",
            extra={"ArgumentName": "x-amz-copy-source", "ArgumentValue": value},
        ) from None
    bucket, _, key = source.partition("/")
    if not bucket or not key:
        raise S3Error(
            "InvalidArgument",
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            extra={"ArgumentName": "x-amz-copy-source", "ArgumentValue": value},
        )
    return bucket, key, version_id


def check_copy_conditions(req: S3Request, row: dict[str, Any]) -> None:
    h = req.headers
    etag, mtime = row["etag"], row["mtime_us"] // 1_000_000 * 1_000_000
    if "x-amz-copy-source-if-match" in h and not etag_matches(h["x-amz-copy-source-if-match"], etag):
        raise S3Error("PreconditionFailed", extra={"Condition": "x-amz-copy-source-If-Match"})
    if "x-amz-copy-source-if-none-match" in h and etag_matches(h["x-amz-copy-source-if-none-match"], etag):
        raise S3Error("PreconditionFailed", extra={"Condition": "x-amz-copy-source-If-None-Match"})
    if "x-amz-copy-source-if-unmodified-since" in h and "x-amz-copy-source-if-match" not in h:
        since = parse_http_date(h["x-amz-copy-source-if-unmodified-since"])
        if since is not None and mtime > since:
            raise S3Error("PreconditionFailed", extra={"Condition": "x-amz-copy-source-If-Unmodified-Since"})
    if "x-amz-copy-source-if-modified-since" in h and "x-amz-copy-source-if-none-match" not in h:
        since = parse_http_date(h["x-amz-copy-source-if-modified-since"])
        if since is not None and mtime <= since:
            raise S3Error("PreconditionFailed", extra={"Condition": "x-amz-copy-source-If-Modified-Since"})


async def load_copy_source(req: S3Request, ctx: ServerContext) -> dict[str, Any]:
    src_bucket, src_key, src_version = parse_copy_source(req.headers["x-amz-copy-source"])
    await authorize_copy_source(req, ctx, src_bucket, src_key, src_version)
    row = await ctx.read(resolve_version, src_bucket, src_key, src_version, load_inline=False)
    if row["is_delete_marker"]:
        if src_version is not None:
            raise S3Error(
                "InvalidRequest",
                "The source of a copy request may not specifically refer to a delete marker by version id.",
            )
        raise S3Error("NoSuchKey", extra={"Key": src_key})
    row["_source"] = (src_bucket, src_key, src_version)
    check_copy_conditions(req, row)
    return row


def _copy_result(src: dict[str, Any], mtime_us: int) -> bytes:
    x = X().open("CopyObjectResult", xmlns=True).leaf("ETag", etag_header(src["etag"]))
    x.leaf("LastModified", iso8601(mtime_us))
    for algo, value in (src.get("checksum") or {}).items():
        if algo != "type":
            x.leaf(f"Checksum{algo}", value)
    return x.close("CopyObjectResult").bytes()


async def copy_object(req: S3Request, ctx: ServerContext) -> Response:
    check_key(req.key)
    src = await load_copy_source(req, ctx)
    src_bucket, src_key, _ = src["_source"]
    directive = (req.header("x-amz-metadata-directive") or "COPY").upper()
    tag_directive = (req.header("x-amz-tagging-directive") or "COPY").upper()
    if directive not in ("COPY", "REPLACE") or tag_directive not in ("COPY", "REPLACE"):
        raise S3Error("InvalidArgument", "Unknown metadata directive.")
    if directive == "REPLACE":
        meta, headers = user_metadata(req), stored_headers(req)
        ctype = stored_content_type(req.header("content-type"), DEFAULT_CONTENT_TYPE)
    else:
        meta, headers, ctype = src["metadata"], dict(src["headers"]), src["content_type"]
        if "x-amz-storage-class" in req.headers:
            headers["x-amz-storage-class"] = header_value("x-amz-storage-class", req.headers["x-amz-storage-class"])
    tags = tags_from_header(req.header("x-amz-tagging")) if tag_directive == "REPLACE" else src["tags"]
    acl = await object_write_acl(req, ctx)
    if (
        src_bucket == req.bucket
        and src_key == req.key
        and directive == "COPY"
        and "x-amz-storage-class" not in req.headers
        and "x-amz-copy-source-version-id" not in req.headers
        and req.query.get("versionId") is None
        and not src.get("_versioned_bucket")
    ):
        raise S3Error(
            "InvalidRequest",
            "This copy request is illegal because it is trying to copy an object to itself without changing the "
            "object's metadata, storage class, website redirect location or encryption attributes.",
        )
    actor = req.actor()
    bucket, key = req.bucket, req.key
    # The answer's length goes into the event (for the notification record); LastModified
    # has a fixed width, so the epoch stands in for the time the commit will give.
    length = len(_copy_result(src, 0))
    fields: dict[str, Any] = dict(
        bucket=bucket, key=key, size=src["size"], etag=src["etag"], content_type=ctype, headers=headers,
        metadata=meta, blob=src["blob"], checksum=src["checksum"], tags=tags, parts=[], operation="Copy",
        actor=actor, acl=acl, response_length=length,
    )  # fmt: skip
    version_id, mtime_us = await objects.copy_version(ctx, fields, src, write_conditions(req, bucket, key))
    body = _copy_result(src, mtime_us)
    out = version_headers(version_id)
    if src["version_id"] != "null" or src.get("_versioned_bucket"):
        out["x-amz-copy-source-version-id"] = src["version_id"]
    return xml(body, headers=out)


async def delete_object(req: S3Request, ctx: ServerContext) -> Response:
    version_id = req.query.get("versionId")
    result = await delete_one(ctx, req, req.bucket, req.key, version_id, delete_conditions_from_headers(req))
    return empty(204, result)


@dataclass(frozen=True)
class DeleteConditions:
    """Conditional delete (If-Match, x-amz-if-match-last-modified-time, -size), as parsed."""

    etag: str | None = None
    mtime_us: int | None = None
    size: int | None = None

    def of(self, bucket: str, key: str, version_id: str | None) -> VersionMatches:
        return VersionMatches(bucket, key, version_id, etag=self.etag, mtime_us=self.mtime_us, size=self.size)


def delete_conditions_from_headers(req: S3Request) -> DeleteConditions:
    h = req.headers
    size = h.get("x-amz-if-match-size")
    mtime = h.get("x-amz-if-match-last-modified-time")
    return DeleteConditions(
        etag=h.get("if-match"),
        mtime_us=parse_http_date(mtime) if mtime else None,
        size=int(size) if size is not None and size.isdigit() else None,
    )


async def delete_one(
    ctx: ServerContext,
    req: S3Request,
    bucket: str,
    key: str,
    version_id: str | None,
    conditions: DeleteConditions | None = None,
) -> dict[str, str]:
    actor = req.actor()
    conds = (conditions or DeleteConditions()).of(bucket, key, version_id)
    if version_id is None:
        deleted = await objects.add_delete_marker(ctx, bucket, key, actor, conds)
        if not deleted.delete_marker:
            return {"x-amz-delete-marker": "false"}
        return {"x-amz-delete-marker": "true", **version_headers(deleted.version_id)}
    if version_id != "null" and not (len(version_id) == 32 and all(c in "0123456789abcdef" for c in version_id)):
        raise S3Error(
            "InvalidArgument",
            "Invalid version id specified",
            extra={"ArgumentName": "versionId", "ArgumentValue": version_id},
        )
    row = await ctx.read(_find_version, bucket, key, version_id)
    if row is None:
        return {"x-amz-version-id": version_id}
    await objects.remove_version(ctx, row, actor, conds)
    out = {"x-amz-version-id": version_id}
    if row["is_delete_marker"]:
        out["x-amz-delete-marker"] = "true"
    return out


def _parse_iso(value: str) -> int | None:
    """LastModifiedTime in DeleteObjects: botocore sends an HTTP date; accept ISO 8601 too."""
    http = parse_http_date(value)
    if http is not None:
        return http
    try:
        return int(datetime.fromisoformat(value.strip().replace("Z", "+00:00")).timestamp() * 1_000_000)
    except ValueError:
        return None


def _find_version(tx: Tx, bucket: str, key: str, version_id: str) -> dict[str, Any] | None:
    bucket_must_exist(tx, bucket)
    return version_by_id(tx, bucket, key, version_id)


async def delete_objects(req: S3Request, ctx: ServerContext) -> Response:
    doc = parse(await req.read_all(), "Delete")
    quiet = (text(doc, "Quiet") or "false").strip().lower() == "true"
    objects = children(doc, "Object")
    if len(objects) > 1000 or not objects:
        raise S3Error("MalformedXML")
    await ctx.read(bucket_must_exist, req.bucket)
    targets = []
    for obj in objects:
        key = text(obj, "Key")
        if key is None:
            raise S3Error("MalformedXML")
        size = text(obj, "Size")
        mtime = text(obj, "LastModifiedTime")
        conds = DeleteConditions(
            etag=text(obj, "ETag"),
            mtime_us=_parse_iso(mtime) if mtime else None,
            size=int(size) if size is not None and size.strip().isdigit() else None,
        )
        targets.append((key, text(obj, "VersionId"), conds))

    async def one(
        key: str, vid: str | None, conds: DeleteConditions
    ) -> tuple[str, str | None, dict[str, str] | S3Error]:
        try:
            return key, vid, await delete_one(ctx, req, req.bucket, key, vid, conds)
        except S3Error as err:
            return key, vid, err

    results = await asyncio.gather(*(one(k, v, c) for k, v, c in targets))
    x = X().open("DeleteResult", xmlns=True)
    for key, vid, outcome in results:
        if isinstance(outcome, S3Error):
            x.open("Error").leaf("Key", key).leaf("VersionId", vid).leaf("Code", outcome.code)
            x.leaf("Message", outcome.message).close("Error")
        elif not quiet:
            x.open("Deleted").leaf("Key", key).leaf("VersionId", vid)
            if outcome.get("x-amz-delete-marker") == "true":
                x.leaf("DeleteMarker", "true")
                if vid is None and "x-amz-version-id" in outcome:
                    x.leaf("DeleteMarkerVersionId", outcome["x-amz-version-id"])
            x.close("Deleted")
    return xml(x.close("DeleteResult").bytes())

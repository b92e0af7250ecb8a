"""PutObject, CopyObject, DeleteObject, DeleteObjects."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from api.auth.authz import authorize_copy_source
from api.context import ServerContext
from api.errors import S3Error
from api.request import S3Request
from api.response import Response, empty, xml
from api.s3.body import DecodedBody
from api.s3.checksums import header_name
from api.s3.handlers.acl import object_write_acl
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
from domain.aggregates import DeleteMarker, ObjectVersion
from domain.created import created_event
from projections.blobstore import StagedBlob
from projections.eventstore.recorder import Change
from projections.eventstore.tx import Tx
from projections.namespace.queries import live_object, newest_object_version, version_by_id

DEFAULT_CONTENT_TYPE = "binary/octet-stream"


def write_preconditions(req: S3Request, bucket: str, key: str) -> Callable[[Tx], None]:
    """Checked inside the append transaction, after the store lock: atomic with the write."""
    if_none = req.headers.get("if-none-match")
    if_match = req.headers.get("if-match")

    def check(tx: Tx) -> None:
        bucket_must_exist(tx, bucket)
        if if_none is None and if_match is None:
            return
        current = live_object(tx, bucket, key)
        if if_none is not None and current is not None and etag_matches(if_none, current["etag"]):
            raise S3Error("PreconditionFailed", extra={"Condition": "If-None-Match"})
        if if_match is not None:
            if current is None:
                raise S3Error("NoSuchKey", extra={"Key": key})
            if not etag_matches(if_match, current["etag"]):
                raise S3Error("PreconditionFailed", extra={"Condition": "If-Match"})

    return check


def has_write_conditions(req: S3Request) -> bool:
    return "if-none-match" in req.headers or "if-match" in req.headers


def version_headers(version_id: str | None) -> dict[str, str]:
    return {"x-amz-version-id": version_id} if version_id and version_id != "null" else {}


def require_length(req: S3Request) -> None:
    if "content-length" not in req.headers and "chunked" not in req.headers.get("transfer-encoding", ""):
        raise S3Error("MissingContentLength")


async def put_object(req: S3Request, ctx: ServerContext) -> Response:
    if "x-amz-copy-source" in req.headers:
        return await copy_object(req, ctx)
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
        change = Change(
            build=lambda: [ObjectVersion(**fields)],
            new_events=lambda: [created_event(ObjectVersion, **fields)],
            check=write_preconditions(req, bucket, key),
            blobs=staged.db_rows(),
            check_reads_objects=has_write_conditions(req),
            build_is_pure=True,
            requires_bucket=None if has_write_conditions(req) else bucket,
            files_written_at=staged.file_written_at,
        )
        committed = await ctx.commit(change)
    except BaseException:
        ctx.blobs.discard(staged)
        raise
    return committed.results[0]


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
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
        )
    actor = req.actor()
    bucket, key = req.bucket, req.key
    # The answer's length goes into the event (for the notification record); LastModified
    # has a fixed width, so the epoch stands in for the time the commit will give.
    length = len(_copy_result(src, 0))
    change = Change(
        build=lambda: [
            ObjectVersion(
                bucket=bucket,
                key=key,
                size=src["size"],
                etag=src["etag"],
                content_type=ctype,
                headers=headers,
                metadata=meta,
                blob=src["blob"],
                checksum=src["checksum"],
                tags=tags,
                parts=[],
                operation="Copy",
                actor=actor,
                acl=acl,
                response_length=length,
            )
        ],
        check=_copy_check(req, bucket, key, src),
    )
    committed = await ctx.commit(change)
    body = _copy_result(src, int(committed.events[0].timestamp.timestamp() * 1_000_000))
    out = version_headers(committed.results[0])
    if src["version_id"] != "null" or src.get("_versioned_bucket"):
        out["x-amz-copy-source-version-id"] = src["version_id"]
    return xml(body, headers=out)


def _copy_check(req: S3Request, bucket: str, key: str, src: dict[str, Any]) -> Callable[[Tx], None]:
    base = write_preconditions(req, bucket, key)

    def check(tx: Tx) -> None:
        base(tx)
        copy_source_still_exists(tx, src)

    return check


def copy_source_still_exists(tx: Tx, src: dict[str, Any]) -> None:
    """Checked in the append transaction of anything that points at a source version's
    blobs (CopyObject, UploadPartCopy): the source row still exists, so it existed all along
    since it was read, and garbage collection saw its blobs referenced (workers.blob_gc)."""
    if tx.one("SELECT id FROM ns_versions WHERE id = ?", (src["id"],)) is None:
        raise S3Error("NoSuchKey", extra={"Key": src["key"]})


async def delete_object(req: S3Request, ctx: ServerContext) -> Response:
    version_id = req.query.get("versionId")
    result = await delete_one(ctx, req, req.bucket, req.key, version_id, delete_conditions_from_headers(req))
    return empty(204, result)


@dataclass
class DeleteConditions:
    """Conditional delete (If-Match, x-amz-if-match-last-modified-time, -size): checked
    against the target inside the append transaction; a missing target is no error."""

    etag: str | None = None
    mtime_us: int | None = None
    size: int | None = None

    def check(self, tx: Tx, bucket: str, key: str, version_id: str | None) -> None:
        if self.etag is None and self.mtime_us is None and self.size is None:
            return
        # The addressed version, or the key's newest object version even under a delete
        # marker (as RGW evaluates it); a key with no object version is no failure.
        target = version_by_id(tx, bucket, key, version_id) if version_id else newest_object_version(tx, bucket, key)
        if target is None or target["is_delete_marker"]:
            return
        if self.etag is not None and not etag_matches(self.etag, target["etag"]):
            raise S3Error("PreconditionFailed", extra={"Condition": "If-Match"})
        if self.mtime_us is not None and target["mtime_us"] // 1_000_000 != self.mtime_us // 1_000_000:
            raise S3Error("PreconditionFailed", extra={"Condition": "x-amz-if-match-last-modified-time"})
        if self.size is not None and int(target["size"]) != self.size:
            raise S3Error("PreconditionFailed", extra={"Condition": "x-amz-if-match-size"})


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
    conds = conditions or DeleteConditions()
    if version_id is None:

        def check_marker(tx: Tx) -> None:
            bucket_must_exist(tx, bucket)
            conds.check(tx, bucket, key, None)

        change = Change(
            build=lambda: [DeleteMarker(bucket=bucket, key=key, actor=actor)],
            check=check_marker,
        )
        committed = await ctx.commit(change)
        vid = committed.results[0]
        if vid is None:
            return {"x-amz-delete-marker": "false"}
        return {"x-amz-delete-marker": "true", **version_headers(vid)}
    if version_id != "null" and not (len(version_id) == 32 and all(c in "0123456789abcdef" for c in version_id)):
        raise S3Error(
            "InvalidArgument",
            "Invalid version id specified",
            extra={"ArgumentName": "versionId", "ArgumentValue": version_id},
        )
    row = await ctx.read(_find_version, bucket, key, version_id)
    if row is None:
        return {"x-amz-version-id": version_id}
    aggregate_id = row["id"]

    def build() -> list[Any]:
        from uuid import UUID

        aggregate = ctx.store.repository.get(UUID(aggregate_id))
        if aggregate.removed:
            return []
        aggregate.remove(actor=actor)
        return [aggregate]

    await ctx.commit(Change(build=build, check=lambda tx: conds.check(tx, bucket, key, version_id)))
    out = {"x-amz-version-id": version_id}
    if row["is_delete_marker"]:
        out["x-amz-delete-marker"] = "true"
    return out


def _parse_iso(value: str) -> int | None:
    """LastModifiedTime in DeleteObjects: botocore sends an HTTP date; accept ISO 8601 too."""
    from datetime import datetime

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

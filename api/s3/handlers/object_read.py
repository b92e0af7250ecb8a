"""GetObject and HeadObject: versions, conditionals, ranges, part numbers, overrides."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

from api.context import ServerContext
from api.errors import S3Error
from api.request import S3Request
from api.response import FileBody, Response
from api.s3.checksums import header_name
from api.s3.handlers.common import (
    etag_matches,
    header_value,
    http_date,
    object_headers,
    parse_http_date,
)
from api.services import objects
from projections.blobstore import BlobMissing, load_db_blob
from projections.eventstore.tx import Tx
from projections.namespace.queries import VERSION_COLUMNS, decode_version
from projections.notifications.subscriptions_generation import GENERATION_COLUMN

_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
OVERRIDES = {
    "response-content-type": "content-type",
    "response-content-language": "content-language",
    "response-expires": "expires",
    "response-cache-control": "cache-control",
    "response-content-disposition": "content-disposition",
    "response-content-encoding": "content-encoding",
}


_V_COLUMNS = ", ".join(f"v.{c.strip()}" for c in VERSION_COLUMNS.split(","))
# The bucket and the version in one statement: one round trip, one snapshot. With them the
# subscriptions generation, so a read knows whether its node's idea of who wants reads
# recorded is current.
_LATEST_SQL = (
    f"SELECT b.versioning AS bucket_versioning, {GENERATION_COLUMN}, {_V_COLUMNS} FROM ns_buckets b "
    "LEFT JOIN ns_versions v ON v.bucket = b.name AND v.key = ? AND v.is_latest WHERE b.name = ?"
)
_BY_ID_SQL = (
    f"SELECT b.versioning AS bucket_versioning, {GENERATION_COLUMN}, {_V_COLUMNS} FROM ns_buckets b "
    "LEFT JOIN ns_versions v ON v.bucket = b.name AND v.key = ? AND v.version_id = ? WHERE b.name = ?"
)


def resolve_version(tx: Tx, bucket: str, key: str, version_id: str | None, *, load_inline: bool) -> dict[str, Any]:
    if version_id is not None:
        found = tx.one(_BY_ID_SQL, (key, version_id, bucket))
    else:
        found = tx.one(_LATEST_SQL, (key, bucket))
    return finish_version(tx, found, bucket, key, version_id, load_inline=load_inline)


async def resolve_version_async(
    ctx: ServerContext, bucket: str, key: str, version_id: str | None, *, load_inline: bool
) -> dict[str, Any]:
    """resolve_version from the event loop (ServerContext.fetch_one): each statement on its
    own, so a small object's bytes may vanish in between (OSError: ask resolve_version)."""
    if version_id is not None:
        found = await ctx.fetch_one(_BY_ID_SQL, (key, version_id, bucket))
    else:
        found = await ctx.fetch_one(_LATEST_SQL, (key, bucket))
    row = check_version(found, bucket, key, version_id)
    if load_inline and not row["is_delete_marker"]:
        row["_inline"] = await load_inline_async(ctx, row)
    return row


_BLOB_SQL = "SELECT data FROM blob_data WHERE id = ?"


async def load_inline_async(ctx: ServerContext, row: dict[str, Any]) -> dict[str, bytes]:
    inline: dict[str, bytes] = {}
    for blob_id in inline_ids(row):
        found = await ctx.fetch_one(_BLOB_SQL, (blob_id,))
        if found is None:
            raise BlobMissing(f"blob {blob_id} missing from blob_data")
        inline[blob_id] = bytes(found["data"])
    return inline


def finish_version(
    tx: Tx, found: dict[str, Any] | None, bucket: str, key: str, version_id: str | None, *, load_inline: bool
) -> dict[str, Any]:
    """check_version, then the bytes of a small object (held in the database)."""
    row = check_version(found, bucket, key, version_id)
    if load_inline and not row["is_delete_marker"]:
        row["_inline"] = {blob_id: load_db_blob(tx, blob_id) for blob_id in inline_ids(row)}
    return row


def check_version(found: dict[str, Any] | None, bucket: str, key: str, version_id: str | None) -> dict[str, Any]:
    """The checks and decoding after the version row was read (`found`: the bucket's
    versioning as bucket_versioning, the subscriptions generation as n_gen and the version's
    columns, None when there is no bucket)."""
    if found is None:
        raise S3Error("NoSuchBucket", resource=f"/{bucket}", extra={"BucketName": bucket})
    versioning = found.pop("bucket_versioning")
    generation = found.pop("n_gen", None)
    if version_id is not None:
        if version_id != "null" and not re.fullmatch(r"[0-9a-f]{32}", version_id):
            raise S3Error(
                "InvalidArgument",
                "Invalid version id specified",
                extra={"ArgumentName": "versionId", "ArgumentValue": version_id},
            )
        if found["id"] is None:
            raise S3Error("NoSuchVersion", extra={"Key": key, "VersionId": version_id})
    elif found["id"] is None:
        raise S3Error("NoSuchKey", headers={"x-amz-delete-marker": "false"}, extra={"Key": key})
    row = decode_version(found)
    assert row is not None
    row["_versioned_bucket"] = versioning != ""
    row["_subscriptions_generation"] = generation
    return row


def inline_ids(row: dict[str, Any]) -> list[str]:
    """The ids of the version's blobs held in the database."""
    return [seg["id"] for seg in row["blob"].get("segments", []) if seg.get("db")]


def delete_marker_error(row: dict[str, Any], explicit_version: bool) -> S3Error:
    headers = {"x-amz-delete-marker": "true"}
    if row["version_id"] != "null" or row.get("_versioned_bucket"):
        headers["x-amz-version-id"] = row["version_id"]
    if explicit_version:
        headers["allow"] = "DELETE"
        return S3Error("MethodNotAllowed", headers=headers)
    return S3Error("NoSuchKey", headers=headers, extra={"Key": row["key"]})


def check_conditions(req: S3Request, row: dict[str, Any]) -> None:
    """RFC 7232 order, as S3 applies it: If-Match beats If-Unmodified-Since, and
    If-None-Match beats If-Modified-Since."""
    h = req.headers
    etag, mtime = row["etag"], row["mtime_us"]
    if_match = h.get("if-match")
    if if_match is not None:
        if not etag_matches(if_match, etag):
            raise S3Error("PreconditionFailed", extra={"Condition": "If-Match"})
    elif "if-unmodified-since" in h:
        since = parse_http_date(h["if-unmodified-since"])
        if since is not None and mtime // 1_000_000 * 1_000_000 > since:
            raise S3Error("PreconditionFailed", extra={"Condition": "If-Unmodified-Since"})
    if_none = h.get("if-none-match")
    if if_none is not None:
        if etag_matches(if_none, etag):
            raise _not_modified(etag, mtime)
    elif "if-modified-since" in h:
        since = parse_http_date(h["if-modified-since"])
        if since is not None and mtime // 1_000_000 * 1_000_000 <= since:
            raise _not_modified(etag, mtime)


def _not_modified(etag: str, mtime_us: int) -> S3Error:
    return S3Error("NotModified", status=304, headers={"etag": f'"{etag}"', "last-modified": http_date(mtime_us)})


def parse_range(value: str, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) or None when the header is to be ignored (invalid syntax)."""
    m = _RANGE_RE.match(value.strip())
    if not m:
        return None
    first, last = m.group(1), m.group(2)
    if first == "" and last == "":
        return None
    if first == "":
        n = int(last)
        if n == 0:
            raise S3Error(
                "InvalidRange",
                headers={"content-range": f"bytes */{size}"},
                extra={"ActualObjectSize": str(size), "RangeRequested": value},
            )
        return max(0, size - n), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        raise S3Error(
            "InvalidRange",
            headers={"content-range": f"bytes */{size}"},
            extra={"ActualObjectSize": str(size), "RangeRequested": value},
        )
    return start, min(end, size - 1)


def part_range(row: dict[str, Any], part_number: str) -> tuple[int, int, int]:
    if not part_number.isdigit() or not 1 <= int(part_number) <= 10000:
        raise S3Error(
            "InvalidArgument",
            "Part number must be an integer between 1 and 10000, inclusive",
            extra={"ArgumentName": "partNumber", "ArgumentValue": part_number},
        )
    n = int(part_number)
    parts = row.get("parts") or []
    if not parts:
        if n == 1:
            return 0, row["size"] - 1, 1
        raise S3Error("InvalidPart", "The requested partnumber is not satisfiable")
    if n > len(parts):
        raise S3Error("InvalidPart", "The requested partnumber is not satisfiable")
    start = sum(int(p["size"]) for p in parts[: n - 1])
    return start, start + int(parts[n - 1]["size"]) - 1, len(parts)


async def get_torrent(req: S3Request, ctx: ServerContext) -> Response:
    """Torrents are not served: S3 answers NoSuchKey where it has none."""
    raise S3Error("NoSuchKey", extra={"Key": req.key})


async def get_object(req: S3Request, ctx: ServerContext) -> Response:
    return await _serve(req, ctx, with_body=True)


async def head_object(req: S3Request, ctx: ServerContext) -> Response:
    return await _serve(req, ctx, with_body=False)


# A GET reads its metadata and the first span of bytes in one trip to a worker thread;
# objects up to FIRST_SPAN need no other. Larger ones continue in STREAM_SPAN pieces.
FIRST_SPAN = 4 * 1024 * 1024
STREAM_SPAN = 2 * 1024 * 1024
# From this size on, bodies held in files are sent with sendfile (api.http.zerocopy).
SENDFILE_MIN = 256 * 1024


async def _serve(req: S3Request, ctx: ServerContext, *, with_body: bool) -> Response:
    version_id = req.query.get("versionId")
    prefetched = req.prefetched_version
    if prefetched is not None and prefetched[0] == version_id:
        # Read together with the caller's credential (plain users' requests): no second trip.
        kind, row = prefetched[1]
        if kind == "error":
            raise row
    else:
        try:
            row = await resolve_version_async(ctx, req.bucket, req.key, version_id, load_inline=with_body)
        except OSError:
            # A small object's bytes vanished between the two statements (its version was
            # removed and collected meanwhile): ask again within one snapshot.
            row = await ctx.read(resolve_version, req.bucket, req.key, version_id, load_inline=with_body)
    response = await serve_resolved(req, ctx, row, with_body)
    event = "s3:ObjectAccessed:Get" if with_body else "s3:ObjectAccessed:Head"
    subscriptions = ctx.subscriptions
    generation = row["_subscriptions_generation"]
    if not subscriptions.current(generation):  # a rule or listener changed since last look
        await subscriptions.catch_up(generation)
    if subscriptions.wants(req.bucket, req.key, event):
        await record_access(req, ctx, row, response, event)
    return response


async def serve_resolved(req: S3Request, ctx: ServerContext, row: dict[str, Any], with_body: bool) -> Response:
    """The answer for a resolved version (conditions, range, the first span of bytes)."""
    response = _serve_row(req, ctx, row, with_body, may_block=False)
    if response is None:  # the first span is to be read from files: off the event loop
        response = await ctx.run_sync(_serve_row, req, ctx, row, with_body)
    return response


async def record_access(
    req: S3Request, ctx: ServerContext, row: dict[str, Any], response: Response, event: str
) -> None:
    """Append the read to the log before answering: a bucket rule or a listener wants it."""
    await objects.record_access(
        ctx,
        bucket=req.bucket,
        key=req.key,
        version_id="" if row["version_id"] == "null" else row["version_id"],
        method=event.rsplit(":", 1)[1],
        size=row["size"],
        etag=row["etag"],
        content_type=row["content_type"],
        metadata=row["metadata"],
        headers=row["headers"],
        range=req.headers.get("range", ""),
        content_length=response.headers.get("content-length", ""),
        actor=req.actor(),
    )


def _serve_row(
    req: S3Request, ctx: ServerContext, row: dict[str, Any], with_body: bool, *, may_block: bool = True
) -> Response | None:
    """Conditions, range and the first span of a resolved version. None when the first span
    is to be read from files and may_block is False."""
    version_id = req.query.get("versionId")
    if row["is_delete_marker"]:
        raise delete_marker_error(row, version_id is not None)
    check_conditions(req, row)
    headers = object_headers(row)
    size = row["size"]
    start, end = 0, size - 1
    status = 200
    part_number = req.query.get("partNumber")
    if part_number is not None:
        start, end, count = part_range(row, part_number)
        headers["x-amz-mp-parts-count"] = str(count)
        parts = row.get("parts") or []
        if parts:
            for algo, value in (parts[int(part_number) - 1].get("checksum") or {}).items():
                headers[header_name(algo)] = value
            if (row.get("checksum") or {}).get("type"):
                headers["x-amz-checksum-type"] = row["checksum"]["type"]
        if row.get("parts"):
            status = 206
            headers["content-range"] = f"bytes {start}-{end}/{size}"
    elif "range" in req.headers and size >= 0:
        if size == 0:
            rng = None
            if _RANGE_RE.match(req.headers["range"].strip()):
                raise S3Error("InvalidRange", headers={"content-range": "bytes */0"})
        else:
            rng = parse_range(req.headers["range"], size)
        if rng is not None:
            start, end = rng
            status = 206
            headers["content-range"] = f"bytes {start}-{end}/{size}"
    if status == 200 and req.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
        for algo, value in (row.get("checksum") or {}).items():
            if algo == "type":
                continue
            headers[header_name(algo)] = value
        ctype = (row.get("checksum") or {}).get("type")
        if ctype:
            headers["x-amz-checksum-type"] = ctype
    for param, header in OVERRIDES.items():
        if param in req.query:
            if req.auth is None or req.auth.access_key is None:
                raise S3Error(
                    "InvalidRequest", "Request specific response headers cannot be used for anonymous GET requests."
                )
            headers[header] = header_value(param, req.query[param])
    length = max(0, end - start + 1)
    headers["content-length"] = str(length)
    if not with_body or length == 0:
        return Response(status, headers, b"")
    inline: dict[str, bytes] = row.get("_inline") or {}
    segments = row["blob"].get("segments", [])
    # Missing bytes are found before the status line is sent (an error answer, not a body
    # cut short): workers.blob_gc explains how a read can outlive its object's bytes.
    if length >= SENDFILE_MIN:
        spans = ctx.blobs.file_spans(segments, start, length)
        if spans is not None:
            ctx.blobs.check_present(segments, start, length)
            return Response(status, headers, FileBody(spans), length=length)
    if not may_block and not all(seg.get("db") for seg in segments):
        return None
    ctx.blobs.check_present(segments, start, length)
    first = ctx.blobs.read_span(segments, start, min(length, FIRST_SPAN), inline.__getitem__)
    if len(first) == length:
        return Response(status, headers, first)
    return Response(status, headers, stream_rest(ctx, segments, inline, first, start, length), length=length)


async def stream_rest(
    ctx: ServerContext, segments: list[dict[str, Any]], inline: dict[str, bytes], first: bytes, start: int, length: int
) -> AsyncIterator[bytes]:
    """The bytes already read, then the rest of the range, one worker-thread trip per span."""
    yield first
    pos, left = start + len(first), length - len(first)
    while left > 0:
        n = min(left, STREAM_SPAN)
        chunk = await ctx.run_sync(ctx.blobs.read_span, segments, pos, n, inline.__getitem__)
        yield chunk
        pos += n
        left -= n

"""Reads as of a past time or log position: the `x-chronicle-as-of` request header on
GetObject, HeadObject, ListObjects (v1, v2) and ListObjectVersions, answered from the history
view (projections.history). Authorization is today's, done before this by the router. Any
other operation carrying the header is refused (invariant 8: never accepted and ignored).

An object's data is kept for its bucket's history retention after it was superseded
(projections.history.retention): GET and HEAD of a version superseded longer ago than that are
refused with InvalidObjectState naming the window, whether or not garbage collection has
reclaimed the bytes yet — never other bytes. Listings answer: the names, sizes and ETags of the
past are history, kept for ever."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from api.context import ServerContext
from api.errors import S3Error
from api.request import S3Request
from api.response import Response
from api.s3.handlers import listing, object_read
from domain.history_retention import format_retention
from projections.blobstore import BlobMissing
from projections.eventstore.tx import Tx
from projections.history import queries as history
from projections.history.retention import window_of

AS_OF_HEADER = "x-chronicle-as-of"
AS_OF_OPERATIONS = frozenset({"GetObject", "HeadObject", "ListObjects", "ListObjectsV2", "ListObjectVersions"})
# How long a read waits for the history view to reach its point before answering SlowDown.
CATCH_UP_WAIT = 2.0
_CATCH_UP_POLL = 0.05
RECLAIMED = (
    "The object's data as of that point was reclaimed: it is older than its bucket's history retention "
    "(the bucket's own, or CHRONICLE_HISTORY_RETENTION)."
)


@dataclass(frozen=True, slots=True)
class AsOf:
    position: int | None = None
    time_us: int | None = None


def parse_as_of(value: str) -> AsOf:
    """A log position (an integer) or an ISO 8601 time (UTC when it names no zone)."""
    text = value.strip()
    if text.isdigit():
        return AsOf(position=int(text))
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise S3Error(
            "InvalidArgument",
            "x-chronicle-as-of must be a log position or an ISO 8601 time",
            extra={"ArgumentName": AS_OF_HEADER, "ArgumentValue": value},
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return AsOf(time_us=int(when.timestamp() * 1_000_000))


async def resolve_point(ctx: ServerContext, as_of: AsOf) -> int:
    """The log position the request reads at, once the history view has reached it."""
    head_sql = ctx.store.store.head_sql()
    deadline = time.monotonic() + CATCH_UP_WAIT
    while True:
        try:
            return await ctx.read(
                history.resolve_point,
                head_sql,
                position=as_of.position,
                time_us=as_of.time_us,
                now_us=int(ctx.clock() * 1_000_000),
            )
        except history.HistoryBehind:
            if time.monotonic() >= deadline:
                raise S3Error("SlowDown", "The history view has not reached that point yet; retry.") from None
            await asyncio.sleep(_CATCH_UP_POLL)


async def serve_as_of(req: S3Request, ctx: ServerContext, operation: str) -> Response:
    if operation not in AS_OF_OPERATIONS:
        raise S3Error(
            "InvalidArgument",
            f"{AS_OF_HEADER} applies only to GetObject, HeadObject, ListObjects and ListObjectVersions",
            extra={"ArgumentName": AS_OF_HEADER, "ArgumentValue": req.headers[AS_OF_HEADER]},
        )
    point = await resolve_point(ctx, parse_as_of(req.headers[AS_OF_HEADER]))
    if operation in ("GetObject", "HeadObject"):
        return await _serve_object(req, ctx, point, with_body=operation == "GetObject")

    def objects_at(tx: Tx, bucket: str, prefix: str, delimiter: str, start: str | None, max_keys: int) -> Any:
        _bucket_must_exist(tx, bucket, point)
        return history.list_objects_at(
            tx, bucket, point, prefix=prefix, delimiter=delimiter, start_after=start, max_keys=max_keys
        )

    def versions_at(tx: Tx, bucket: str, prefix: str, delimiter: str, key_marker: Any, vid_marker: Any, n: int) -> Any:
        _bucket_must_exist(tx, bucket, point)
        return history.list_versions_at(
            tx,
            bucket,
            point,
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            version_marker=vid_marker,
            max_keys=n,
        )

    if operation == "ListObjects":
        return await listing.list_objects_v1(req, ctx, objects_at)
    if operation == "ListObjectsV2":
        return await listing.list_objects_v2(req, ctx, objects_at)
    return await listing.list_object_versions(req, ctx, versions_at)


def _bucket_must_exist(tx: Tx, bucket: str, point: int) -> None:
    if history.bucket_at(tx, bucket, point) is None:
        raise S3Error("NoSuchBucket", resource=f"/{bucket}", extra={"BucketName": bucket})


@dataclass(frozen=True, slots=True)
class Reading:
    """What one as-of GET or HEAD asks for, and the moment (µs) and default window it is judged by."""

    bucket: str
    key: str
    version_id: str | None
    point: int
    now_us: int
    default_retention: float


def _resolve(tx: Tx, reading: Reading, load_inline: bool) -> dict[str, Any]:
    found = history.version_at(tx, reading.bucket, reading.key, reading.version_id, reading.point)
    ended_us = found.pop("to_us", None) if found is not None else None
    if ended_us is not None and found is not None and not found["is_delete_marker"]:
        _refuse_past_window(tx, reading, int(ended_us))
    return object_read.finish_version(
        tx, found, reading.bucket, reading.key, reading.version_id, load_inline=load_inline
    )


def _refuse_past_window(tx: Tx, reading: Reading, ended_us: int) -> None:
    """InvalidObjectState when the version was superseded longer ago than its bucket's window."""
    window = window_of(tx, reading.bucket, reading.default_retention)
    if ended_us >= reading.now_us - int(window.seconds * 1_000_000):
        return
    ended = datetime.fromtimestamp(ended_us / 1_000_000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    whose = (
        f"bucket {reading.bucket}'s own history retention ({format_retention(window.seconds)})"
        if window.own
        else f"the history retention ({format_retention(window.seconds)}, CHRONICLE_HISTORY_RETENTION)"
    )
    raise S3Error(
        "InvalidObjectState",
        f"The object's data as of that point is no longer kept: it was superseded at {ended}, longer ago than "
        f"{whose}. `chronicle admin bucket retention get {reading.bucket}` shows the window.",
    )


async def _serve_object(req: S3Request, ctx: ServerContext, point: int, *, with_body: bool) -> Response:
    version_id = req.query.get("versionId")
    reading = Reading(
        req.bucket,
        req.key,
        version_id,
        point,
        int(ctx.clock() * 1_000_000),
        ctx.settings.history_retention,
    )
    try:
        row = await ctx.read(_resolve, reading, with_body)
        response = await object_read.serve_resolved(req, ctx, row, with_body)
    except BlobMissing:
        raise S3Error("InvalidObjectState", RECLAIMED) from None
    response.headers["x-chronicle-as-of-position"] = str(point)
    return response

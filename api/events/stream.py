"""The event stream for downstream systems: every change (objects, buckets and their settings,
IAM, notification targets) as change records (schema chronicle.change/1), in log order, over
HTTP — NDJSON, or Server-Sent Events whose `id:` is the log position so that an SSE client
resumes by itself through `Last-Event-ID`.

    GET    /minio/chronicle/v1/events?from=&consumer=&bucket=&prefix=&suffix=&event=&kind=&principal=&format=sse
    GET    /minio/chronicle/v1/events/consumers/NAME          a durable consumer's committed position
    PUT    /minio/chronicle/v1/events/consumers/NAME?position=N   commit (at-least-once: what it processed)
    DELETE /minio/chronicle/v1/events/consumers/NAME

Callers authenticate with SigV4 (headers or a presigned URL), as for the listen API. A caller
receives only what it may see: bucket, object and access events of a bucket where it holds
`s3:ListenBucketNotification`; IAM events with `admin:ExportIAM` (the right to read every IAM
entity); notification target events with `admin:ConfigUpdate`. Decisions are re-evaluated every
few seconds, so a revoked right stops the flow without a reconnect.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson

from api.auth.authenticate import authenticate_request
from api.auth.authz import decide
from api.context import ServerContext
from api.errors import S3Error
from api.events.index_watch import IndexWatch
from api.request import S3Request
from api.response import Response
from domain.stream_filter import BadStreamFilter, StreamFilter
from projections.stream import consumers
from projections.stream.minio_records import add_minio_records
from projections.stream.reader import Page, read_page, start_after

PREFIX = "/minio/chronicle/v1/events"
CONSUMERS = PREFIX + "/consumers/"
DEFAULT_PING = 15.0  # seconds of silence before a keep-alive line
DECISION_TTL = 5.0  # seconds a per-bucket decision is reused within one stream
ACTION_OF_KIND = {"iam": "admin:ExportIAM", "target": "admin:ConfigUpdate"}


class EventStream:
    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.watch = IndexWatch(ctx)
        self.pages_read = 0  # pages read for subscribers (metrics: idle subscribers read none)

    async def handle(self, req: S3Request) -> Response:
        req.bucket, req.key = None, None  # /minio/... names no bucket
        await authenticate_request(req, self.ctx)
        if req.identity is None:
            raise S3Error("AccessDenied")
        path = req.raw_path.rstrip("/")
        if path == PREFIX:
            if req.method != "GET":
                raise S3Error("MethodNotAllowed")
            return await self._stream(req)
        if path.startswith(CONSUMERS):
            return await self._consumer(req, unquote(path[len(CONSUMERS) :]))
        raise S3Error("NoSuchKey", "No such event stream resource.", status=404)

    async def _consumer(self, req: S3Request, name: str) -> Response:
        try:
            consumers.check_name(name)
        except consumers.BadConsumerName as exc:
            raise S3Error("InvalidArgument", str(exc)) from None
        owner = await self.ctx.read(consumers.owner, name)
        if owner is None and req.method != "PUT":
            raise S3Error("NoSuchKey", f"No consumer named {name}.", status=404)
        if owner is not None and not _owns(req, owner):
            raise S3Error("AccessDenied")
        if req.method == "GET":
            position = await self.ctx.read(consumers.committed, name)
            return _json({"name": name, "position": position})
        if req.method == "PUT":
            raw = req.query.get("position", "")
            if not raw.isdigit():
                raise S3Error("InvalidArgument", "position must be a log position (a non-negative integer).")
            await self.ctx.write(_commit, name, int(raw), _user_of(req))
            return _json({"name": name, "position": await self.ctx.read(consumers.committed, name)})
        if req.method == "DELETE":
            await self.ctx.write(lambda tx: tx.execute("DELETE FROM event_consumers WHERE name = ?", (name,)))
            return Response(204, {}, b"")
        raise S3Error("MethodNotAllowed")

    async def _stream(self, req: S3Request) -> Response:
        pairs = parse_qsl(req.query_string, keep_blank_values=True)
        many = {k: [v for key, v in pairs if key == k] for k in ("bucket", "event", "kind")}
        try:
            wanted = StreamFilter(
                buckets=tuple(many["bucket"]),
                prefix=req.query.get("prefix", ""),
                suffix=req.query.get("suffix", ""),
                events=tuple(many["event"]),
                kinds=tuple(many["kind"]),
                principal=req.query.get("principal") or None,
            )
        except BadStreamFilter as exc:
            raise S3Error("InvalidArgument", str(exc)) from None
        sse = req.query.get("format") == "sse" or "text/event-stream" in req.headers.get("accept", "")
        ping = _ping(req.query.get("ping"))
        after = await self._start(req)
        headers = {
            "content-type": "text/event-stream" if sse else "application/x-ndjson",
            "cache-control": "no-cache",
            "x-chronicle-position": str(after),
        }
        return Response(200, headers, self._records(req, wanted, after, sse, ping))

    async def _start(self, req: S3Request) -> int:
        last_id = req.headers.get("last-event-id", "").strip()
        if last_id:
            if not last_id.isdigit():
                raise S3Error("InvalidArgument", "Last-Event-ID must be a log position.")
            return int(last_id)
        start = req.query.get("from", "now")
        name = req.query.get("consumer")
        try:
            if name is None:
                return await self.ctx.read(start_after, start)
            consumers.check_name(name)
        except ValueError as exc:
            message = str(exc) if isinstance(exc, consumers.BadConsumerName) else ""
            raise S3Error(
                "InvalidArgument", message or "from must be beginning, now, a position or an ISO 8601 time."
            ) from None
        owner = await self.ctx.read(consumers.owner, name)
        if owner is not None and not _owns(req, owner):
            raise S3Error("AccessDenied")
        if owner is None:
            try:
                position = await self.ctx.read(start_after, start)
            except ValueError:
                raise S3Error(
                    "InvalidArgument", "from must be beginning, now, a position or an ISO 8601 time."
                ) from None
            await self.ctx.write(consumers.start, name, position, _user_of(req))
        committed = await self.ctx.read(consumers.committed, name)
        return int(committed or 0)

    async def _records(
        self, req: S3Request, wanted: StreamFilter, after: int, sse: bool, ping: float
    ) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        disconnected = loop.create_task(req.until_client_leaves())
        may_see = _Visibility(self.ctx, req)
        last_sent = loop.time()
        try:
            if sse:
                yield b"retry: 1000\n\n"
            while not disconnected.done():
                self.pages_read += 1
                page = await self.ctx.read(_page_with_minio, self.ctx, after, wanted)
                out = [_frame(r, sse) for r in page.records if await may_see(r)]
                if out:
                    yield b"".join(out)
                    last_sent = loop.time()
                after = max(after, page.through)
                if page.more:
                    continue
                # Idle: no query of its own until the shared watch sees the index pass `after`.
                while not disconnected.done() and self.watch.position <= after:
                    silent = loop.time() - last_sent
                    if silent >= ping:
                        yield b": keep-alive\n\n" if sse else b"\n"
                        last_sent = loop.time()
                        silent = 0.0
                    waiter = loop.create_task(self.watch.wait_past(after, ping - silent))
                    await asyncio.wait({waiter, disconnected}, return_when=asyncio.FIRST_COMPLETED)
                    waiter.cancel()
        finally:
            disconnected.cancel()


class _Visibility:
    """Whether the caller may see a record, with each decision kept for DECISION_TTL."""

    def __init__(self, ctx: ServerContext, req: S3Request) -> None:
        self.ctx, self.req = ctx, req
        self.root = req.identity is not None and req.identity.is_root
        self._decided: dict[tuple[str, str], tuple[bool, float]] = {}

    async def __call__(self, record: dict[str, Any]) -> bool:
        if self.root:
            return True
        kind = record.get("kind", "")
        bucket = record.get("bucket", "") if kind not in ACTION_OF_KIND else ""
        cache_key = (kind if not bucket else "bucket", bucket)
        hit = self._decided.get(cache_key)
        now = time.monotonic()
        if hit is not None and now - hit[1] < DECISION_TTL:
            return hit[0]
        if bucket:
            allowed, _reason, _row = await decide(
                self.ctx, self.req, "s3:ListenBucketNotification", f"arn:aws:s3:::{bucket}", bucket
            )
        elif kind in ACTION_OF_KIND:
            allowed, _reason, _row = await decide(self.ctx, self.req, ACTION_OF_KIND[kind], "*", None)
        else:
            allowed = False
        self._decided[cache_key] = (allowed, now)
        return allowed


def _page_with_minio(tx: Any, ctx: ServerContext, after: int, wanted: StreamFilter) -> Page:
    page = read_page(tx, after, wanted)
    add_minio_records(tx, ctx.store, page.records, ctx.targets.region, ctx.deployment_id)
    return page


def _frame(record: dict[str, Any], sse: bool) -> bytes:
    data = orjson.dumps(record)
    if sse:
        return b"id: %d\nevent: change\ndata: %s\n\n" % (record["position"], data)
    return data + b"\n"


def _ping(raw: str | None) -> float:
    if raw is None:
        return DEFAULT_PING
    try:
        value = float(int(raw))
    except ValueError:
        raise S3Error("InvalidArgument", "ping must be a number of seconds.") from None
    if value <= 0:
        raise S3Error("InvalidArgument", "ping must be a positive number of seconds.")
    return value


def _user_of(req: S3Request) -> str:
    identity = req.identity
    assert identity is not None
    return identity.user or identity.access_key


def _owns(req: S3Request, owner: str) -> bool:
    identity = req.identity
    return identity is not None and (identity.is_root or _user_of(req) == owner)


def _commit(tx: Any, name: str, position: int, owner: str) -> None:
    consumers.start(tx, name, 0, owner)
    consumers.commit(tx, name, position)


def _json(body: dict[str, Any]) -> Response:
    return Response(200, {"content-type": "application/json"}, orjson.dumps(body))

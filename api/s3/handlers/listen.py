"""MinIO's listen API: ``GET /bucket?events=...&prefix=&suffix=&ping=N`` (one bucket) and
``GET /?events=...`` (every bucket) stream newline-delimited ``{"Records":[...]}`` with
raw keys, as events happen.

Chronicle extension: ``after=<position>`` (a log position, or a record's 16-hex-digit
``sequencer``) first replays every matching event after that point from the log, then
continues live, so a subscriber that reconnects misses nothing — MinIO cannot do this.
Bucket events (s3:BucketCreated:*, s3:BucketRemoved:*) reach listeners only, as in MinIO.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl

from api.context import ServerContext
from api.errors import S3Error
from api.notify.subscriptions import Listener, single_names
from api.request import S3Request
from api.response import Response
from api.s3.handlers.common import bucket_must_exist
from domain.notifications import (
    NotificationError,
    dumps_go,
    namespace_value,
    new_pattern,
    parse_name,
    validate_filter_value,
)
from projections.notifications.reader import log_head, read_notices

PAGE = 500
LEGACY_KEEPALIVE = 0.5  # seconds: MinIO's whitespace keep-alive when no ping is asked for
KEEPALIVE_REFRESH = 10.0  # seconds between refreshes of this listener's row
_SEQUENCER = re.compile(r"^[0-9A-Fa-f]{16}$")
NULL_RECORDS = b'{"Records":null}\n'


def _parse(req: S3Request) -> tuple[Listener, float | None, int | None]:
    pairs = parse_qsl(req.query_string, keep_blank_values=True)
    names = [v for k, v in pairs if k == "events"]
    try:
        events = single_names(parse_name(n) for n in names)
        prefix = req.query.get("prefix", "")
        suffix = req.query.get("suffix", "")
        validate_filter_value(prefix)
        validate_filter_value(suffix)
    except NotificationError as err:
        raise S3Error(err.code, err.message, status=400) from None
    ping: float | None = None
    if "ping" in req.query:
        try:
            ping = float(int(req.query["ping"]))
        except ValueError:
            raise S3Error("InvalidArgument", "ping must be a number of seconds.") from None
        if ping <= 0:
            raise S3Error("InvalidArgument", "ping must be a positive number of seconds.")
    after: int | None = None
    if "after" in req.query:
        raw = req.query["after"].strip()
        try:
            after = int(raw, 16) if _SEQUENCER.match(raw) else int(raw)
        except ValueError:
            raise S3Error("InvalidArgument", "after must be a log position or a record's sequencer.") from None
        if after < 0:
            raise S3Error("InvalidArgument", "after must not be negative.")
    pattern = new_pattern(prefix, suffix) or "*"
    return Listener(bucket=req.bucket or "", events=events, pattern=pattern), ping, after


async def listen(req: S3Request, ctx: ServerContext) -> Response:
    listener, ping, after = _parse(req)
    if req.bucket:
        await ctx.read(bucket_must_exist, req.bucket)
    start = after if after is not None else await ctx.read(log_head, ctx.store)
    await ctx.subscriptions.add(listener)
    headers = {"content-type": "application/json", "x-chronicle-position": str(start)}
    return Response(200, headers, _stream(req, ctx, listener, start, ping))


async def _stream(
    req: S3Request, ctx: ServerContext, listener: Listener, position: int, ping: float | None
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    disconnected = loop.create_task(req.until_client_leaves())
    region, deployment = ctx.targets.region, ctx.deployment_id
    interval = ping if ping is not None else LEGACY_KEEPALIVE
    last_sent = loop.time()
    last_touch = loop.time()
    try:
        while not disconnected.done():
            notices, position, full = await ctx.read(read_notices, ctx.store, position, PAGE)
            lines = [
                namespace_value(dumps_go(n.record(region=region, key_encoding="raw", deployment_id=deployment))) + b"\n"
                for n in notices
                if listener.matches(n.bucket, n.key, n.event_name)
            ]
            if lines:
                yield b"".join(lines)
                last_sent = loop.time()
            if full:
                continue  # still catching up on history
            now = loop.time()
            if now - last_touch > KEEPALIVE_REFRESH:
                await ctx.subscriptions.keep_alive(listener)
                last_touch = now
            wait = max(0.0, interval - (now - last_sent))
            if wait == 0.0:
                yield NULL_RECORDS if ping is not None else b" "
                last_sent = loop.time()
                wait = interval
            listener.wake.clear()
            waker = loop.create_task(listener.wake.wait())
            await asyncio.wait({waker, disconnected}, timeout=min(wait, 0.5), return_when=asyncio.FIRST_COMPLETED)
            waker.cancel()
    finally:
        disconnected.cancel()
        await ctx.subscriptions.remove(listener)

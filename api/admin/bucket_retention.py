"""A bucket's history retention (Chronicle's own admin calls; MinIO has none): how long its
superseded and deleted object data stays readable as of the past, instead of the server
default (CHRONICLE_HISTORY_RETENTION). Setting and clearing it are events of the bucket
(Bucket.HistoryRetentionSet / HistoryRetentionCleared), so they are part of the history,
the event stream and `chronicle audit`.

``PUT chronicle/set-bucket-retention?bucket=B`` with ``{"retention": "30d"}`` (12h, 90m, 45s,
2w, 0 or a number of seconds); ``GET chronicle/get-bucket-retention?bucket=B``; ``DELETE
chronicle/clear-bucket-retention?bucket=B``. Each answers the bucket's window as it now is:
``{"bucket", "retention", "seconds", "source": "bucket" | "default"}``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from api.admin.errors import invalid_argument, malformed_json
from api.errors import S3Error
from api.services.buckets import change_bucket
from domain.errors import DomainError
from domain.history_retention import HOW, format_retention, parse_retention
from projections.eventstore.tx import Tx
from projections.history.retention import Window, window_of
from projections.namespace.queries import get_bucket

if TYPE_CHECKING:
    from api.admin.call import AdminCall
    from api.response import Response

MAX_BODY = 1024


async def set_retention(call: AdminCall) -> Response:
    await call.authorize()
    bucket = _bucket(call)
    seconds = _seconds(await call.body(limit=MAX_BODY))
    await change_bucket(call.ctx, bucket, call.actor(), lambda b, a: b.set_history_retention(seconds=seconds, actor=a))
    return await _answer(call, bucket)


async def get_retention(call: AdminCall) -> Response:
    await call.authorize()
    return await _answer(call, _bucket(call))


async def clear_retention(call: AdminCall) -> Response:
    await call.authorize()
    bucket = _bucket(call)
    await change_bucket(call.ctx, bucket, call.actor(), lambda b, a: b.clear_history_retention(actor=a))
    return await _answer(call, bucket)


def _bucket(call: AdminCall) -> str:
    bucket = call.q("bucket")
    if not bucket:
        raise invalid_argument("name the bucket: ?bucket=NAME")
    return bucket


def _seconds(body: bytes) -> int:
    try:
        document = json.loads(body)
    except ValueError:
        raise malformed_json('expected {"retention": "30d"}') from None
    if not isinstance(document, dict) or set(document) != {"retention"}:
        raise malformed_json('expected {"retention": "30d"}')
    try:
        return parse_retention(document["retention"])
    except DomainError as err:
        raise invalid_argument(err.message or f"history retention must be {HOW}") from None


def _window(tx: Tx, bucket: str, default_seconds: float) -> Window | None:
    """The bucket's window, None when there is no such bucket."""
    if get_bucket(tx, bucket) is None:
        return None
    return window_of(tx, bucket, default_seconds)


async def _answer(call: AdminCall, bucket: str) -> Response:
    window = await call.read(_window, bucket, call.ctx.settings.history_retention)
    if window is None:
        raise S3Error("NoSuchBucket", resource=f"/{bucket}", extra={"BucketName": bucket})
    return call.json(describe(bucket, window))


def describe(bucket: str, window: Window) -> dict[str, Any]:
    seconds: float | int = int(window.seconds) if window.seconds == int(window.seconds) else window.seconds
    return {
        "bucket": bucket,
        "retention": format_retention(window.seconds),
        "seconds": seconds,
        "source": "bucket" if window.own else "default",
    }

"""What every notification target shares: the record to deliver, the interface, the error,
and the two payload wrappers MinIO puts around a record.

A target receives an ordered batch of already-serialised records and returns only once
the target confirmed all of them (Redis reply, SQL commit, AMQP publisher confirm,
webhook 2xx). Anything else raises ``TargetError``; the caller retries from its
checkpoint, so delivery is at-least-once and in log order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from domain.notifications import dumps_go


@dataclass(frozen=True, slots=True)
class Delivery:
    """One notification record to deliver."""

    position: int  # log position (ordering, checkpoints)
    event_name: str  # "s3:ObjectCreated:Put"
    bucket: str
    key: str  # unescaped object key
    event_time: str  # the record's eventTime, "2006-01-02T15:04:05.000Z"
    record: bytes  # the record JSON, serialised as Go does


class TargetError(Exception):
    """Delivery (or connecting) failed. ``delivered`` counts the leading records of the
    batch that the target is known to have confirmed (0 when unknown); the caller may
    advance its checkpoint past them and must re-send the rest."""

    def __init__(self, message: str, *, delivered: int = 0) -> None:
        super().__init__(message)
        self.delivered = delivered


@runtime_checkable
class Target(Protocol):
    id: str  # the target id, "1" or "_"
    type: str  # ARN type: "redis", "postgresql", "mysql", "amqp", "webhook"

    async def open(self) -> None: ...

    async def deliver(self, batch: list[Delivery]) -> None: ...

    async def close(self) -> None: ...


def arn(target_id: str, target_type: str, region: str = "") -> str:
    """MinIO's queue ARN for a target: ``arn:minio:sqs::1:redis``."""
    return f"arn:minio:sqs:{region}:{target_id}:{target_type}"


# -- payloads ------------------------------------------------------------------------


def go_json_string(s: str) -> bytes:
    """``s`` as Go's encoding/json writes a string (HTML-safe escaping, raw UTF-8)."""
    return dumps_go(s)


def records_body(record: bytes) -> bytes:
    """``{"Records":[<record>]}``: Redis namespace, PostgreSQL and MySQL values."""
    return b'{"Records":[' + record + b"]}"


def event_log_body(d: Delivery) -> bytes:
    """MinIO's ``event.Log`` (AMQP and webhook bodies):
    ``{"EventName":"s3:ObjectCreated:Put","Key":"bucket/key","Records":[<record>]}``.

    Kept in one small function so it can be swapped for the record module's helper."""
    return (
        b'{"EventName":'
        + go_json_string(d.event_name)
        + b',"Key":'
        + go_json_string(d.bucket + "/" + d.key)
        + b',"Records":['
        + d.record
        + b"]}"
    )


def redis_access_body(d: Delivery) -> bytes:
    """``[{"Event":[<record>],"EventTime":"..."}]``: one Redis access-format list entry."""
    return b'[{"Event":[' + d.record + b'],"EventTime":' + go_json_string(d.event_time) + b"}]"


def namespace_key(d: Delivery) -> str:
    """The namespace-format key: ``bucket/unescaped-key``."""
    return d.bucket + "/" + d.key


def is_namespace_delete(d: Delivery) -> bool:
    """Only ``s3:ObjectRemoved:Delete`` removes the namespace entry (as in MinIO); every
    other event, delete markers included, stores the record."""
    return d.event_name == "s3:ObjectRemoved:Delete"


def parse_event_time(value: str) -> datetime:
    """The record's eventTime (``2006-01-02T15:04:05.000Z``) as an aware UTC datetime."""
    try:
        t = datetime.fromisoformat(value)
    except ValueError as e:
        raise TargetError(f"record has an unparseable eventTime {value!r}") from e
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC)


def describe(exc: BaseException) -> str:
    """A one-line reason for a TargetError message."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__

"""One record per event, the form in which the history is read: by auditors (`chronicle
audit`), by the audit index and by downstream systems. Versioned (SCHEMA); secrets never
appear in it.

A record names what changed (kind, event, bucket / key / version, or the IAM subject or
notification target), who changed it (access key and parent user), from where (source IP,
user agent, request id), when (the event's time and position) and the event's own data. An
event that carries no bucket or subject of its own (a tag change of an object version, a
part of an upload, ...) takes them from its aggregate's first event, which the caller looks
up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

SCHEMA = "chronicle.change/1"

KINDS = ("bucket", "object", "access", "iam", "target")
_KIND = {
    "Bucket": "bucket",
    "ObjectVersion": "object",
    "DeleteMarker": "object",
    "MultipartUpload": "object",
    "UploadedPart": "object",
    "ObjectAccess": "access",
    "User": "iam",
    "Group": "iam",
    "ManagedPolicy": "iam",
    "AccessKey": "iam",
    "Role": "iam",
    "OidcProvider": "iam",
    "StsSession": "iam",
    "NotificationTarget": "target",
}
# Fields every event has, or that the record carries elsewhere; `blob` says where the bytes
# are stored (an internal detail, and no part of what changed).
_HEAD = {"originator_id", "originator_version", "timestamp", "originator_topic", "actor", "blob"}
# Fields that hold secrets (sealed, but not for anyone's eyes) or their proof.
_SECRET = {"sealed_secret", "token_hash", "sealed_private_key"}

RedactSettings = Callable[[str, Mapping[str, str]], Mapping[str, str]]


def event_name(topic: str) -> str:
    """`chronicle.ObjectVersion.Created` -> `ObjectVersion.Created`."""
    return topic.removeprefix("chronicle.")


def kind_of(topic: str) -> str:
    return _KIND.get(event_name(topic).split(".", 1)[0], "other")


def describe(
    position: int,
    topic: str,
    event: Any,
    *,
    first: Any | None = None,
    parent_first: Any | None = None,
    redact_settings: RedactSettings | None = None,
) -> dict[str, Any]:
    """The record of `event` (a decoded domain event) at `position`. `first`: its
    aggregate's first event when it is not that event; `parent_first`: for a part, its
    upload's first event."""
    name = event_name(topic)
    aggregate = name.split(".", 1)[0]
    actor = dict(getattr(event, "actor", None) or {})
    source = first if first is not None else event
    record: dict[str, Any] = {
        "schema": SCHEMA,
        "position": position,
        "time": _iso(event.timestamp),
        "event": name,
        "kind": _KIND.get(aggregate, "other"),
        "aggregate": event.originator_id.hex,
        "principal": {"accessKey": actor.get("access_key", ""), "parentUser": actor.get("parent_user", "")},
        "sourceIp": actor.get("source_ip", ""),
        "userAgent": actor.get("user_agent", ""),
        "requestId": actor.get("request_id", ""),
    }
    if aggregate == "UploadedPart":
        upload = parent_first
        record["bucket"] = getattr(upload, "bucket", "")
        record["key"] = getattr(upload, "key", "")
        record["upload"] = event.upload_id.hex if hasattr(event, "upload_id") else ""
    elif aggregate in ("ObjectVersion", "DeleteMarker", "MultipartUpload", "ObjectAccess"):
        record["bucket"] = getattr(source, "bucket", "")
        record["key"] = getattr(source, "key", "")
        if aggregate in ("ObjectVersion", "DeleteMarker"):
            record["version"] = event.originator_id.hex
    elif aggregate == "Bucket":
        record["bucket"] = getattr(event, "name", "") or getattr(source, "name", "")
    elif aggregate == "NotificationTarget":
        record["subject"] = f"{getattr(source, 'subsystem', '')}:{getattr(source, 'target_id', '')}"
    elif aggregate in ("AccessKey", "StsSession"):
        record["subject"] = getattr(source, "access_key", "")
    else:
        record["subject"] = getattr(source, "name", "")
    record["data"] = _data(event, aggregate, redact_settings)
    return record


def _data(event: Any, aggregate: str, redact_settings: RedactSettings | None) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for field, value in vars(event).items():
        if field in _HEAD or field in _SECRET:
            continue
        if field == "changes" and isinstance(value, dict):
            value = {k: ("*redacted*" if k in _SECRET else v) for k, v in value.items()}
        if field == "settings" and aggregate == "NotificationTarget" and isinstance(value, dict):
            subsystem = getattr(event, "subsystem", "")
            value = dict(redact_settings(subsystem, value)) if redact_settings else dict.fromkeys(value, "*redacted*")
        data[field] = _plain(value)
    return data


def _plain(value: Any) -> Any:
    """JSON's types (UUIDs as hex, times as ISO 8601)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return _iso(value)
    if hasattr(value, "hex") and type(value).__name__ == "UUID":
        return value.hex
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    return value


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="microseconds").replace("+00:00", "Z")

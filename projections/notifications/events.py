"""From domain events to S3 notification events (``Notice``): what happened to which key.

Shared by the notification follower (which matches notices against bucket rules and
writes per-target views) and the listen API (which streams them to subscribers).

Most facts come with the event itself. Events that follow an object's creation
(tags set, removed) carry only the aggregate id, so the caller looks up the creating
event (``FIRST_EVENT_OF``) and passes it as ``created``. Whether a version shows as a
UUID, "null" or no versionId at all depends on the bucket's versioning state at the
version's creation, which the caller tracks (``VersioningHistory``).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from domain.aggregates import Bucket, DeleteMarker, ObjectAccess, ObjectVersion
from domain.notifications import build_record, dumps_go, sequencer_for
from projections.eventstore.deployment import node_id
from projections.namespace.projection import version_id_of

NOTIFICATION_SUBRESOURCE = "notification"

# Events whose notice needs the aggregate's first event (for bucket, key and object facts).
FIRST_EVENT_OF = (ObjectVersion.TagsSet, ObjectVersion.Removed, DeleteMarker.Removed, Bucket.Deleted)

# MinIO keeps these request headers among an object's "user-defined" metadata, lowercased.
# DeleteObject and Put/DeleteObjectTagging send their event after an empty response was
# written, whose Content-Length ("0") MinIO copies into responseElements.
_EMPTY_RESPONSE = "0"

_SUPPORTED_HEADERS = (
    "content-type",
    "cache-control",
    "content-language",
    "content-encoding",
    "content-disposition",
    "expires",
)


@dataclass(slots=True)
class Notice:
    position: int
    event_name: str
    bucket: str
    key: str
    event_time: datetime
    actor: dict[str, str]
    size: int = 0
    etag: str = ""
    content_type: str = ""
    user_metadata: dict[str, str] = field(default_factory=dict)
    version_id: str = ""
    content_length: str | None = None
    range: str = ""

    def record(self, *, region: str = "", key_encoding: str = "minio", deployment_id: str = "") -> dict[str, Any]:
        principal = self.actor.get("parent_user") or self.actor.get("access_key") or ""
        origin = self.actor.get("node", "")
        return build_record(
            node_id=node_id(origin),
            origin_endpoint=origin,
            deployment_id=deployment_id,
            event_name=self.event_name,
            bucket=self.bucket,
            key=self.key,
            event_time=self.event_time,
            sequencer=sequencer_for(self.position),
            principal_id=principal,
            region=region,
            source_ip=self.actor.get("source_ip", ""),
            user_agent=self.actor.get("user_agent", ""),
            request_id=self.actor.get("request_id", ""),
            content_length=self.content_length,
            range=self.range or None,
            size=self.size,
            etag=self.etag,
            content_type=self.content_type,
            user_metadata=self.user_metadata,
            version_id=self.version_id,
            key_encoding=key_encoding,
        )

    def record_bytes(self, *, region: str = "", key_encoding: str = "minio", deployment_id: str = "") -> bytes:
        return dumps_go(self.record(region=region, key_encoding=key_encoding, deployment_id=deployment_id))


class VersioningHistory:
    """One bucket's versioning status over log positions ('' = never versioned)."""

    __slots__ = ("changes",)

    def __init__(self, changes: list[tuple[int, str]] | None = None) -> None:
        self.changes = changes or []  # (position, status), ascending

    def set(self, position: int, status: str) -> None:
        self.changes.append((position, status))

    def at(self, position: int) -> str:
        i = bisect.bisect_right(self.changes, (position, "\uffff"))
        return self.changes[i - 1][1] if i else ""

    def label(self, version_id: str, created_at: int) -> str:
        """The versionId a record shows: the id when versioning was on, "null" when
        suspended, nothing in a bucket that had never versioned."""
        status = self.at(created_at)
        if status == "Enabled":
            return version_id
        return "null" if status == "Suspended" else ""


def minio_user_metadata(metadata: dict[str, str], headers: dict[str, str], content_type: str) -> dict[str, str]:
    """An object's metadata as MinIO's UserDefined map holds it: ``X-Amz-Meta-Foo`` keys in
    canonical header case plus the lowercased content headers."""
    out = {"X-Amz-Meta-" + _canonical(k): v for k, v in metadata.items()}
    for name in _SUPPORTED_HEADERS:
        if name in headers:
            out[name] = headers[name]
    if content_type:
        out["content-type"] = content_type
    return out


def _canonical(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def _object_facts(created: Any) -> dict[str, Any]:
    return {
        "size": int(created.size),
        "etag": created.etag,
        "content_type": created.content_type,
        "user_metadata": minio_user_metadata(created.metadata, created.headers, created.content_type),
    }


def _length(value: int | None) -> str | None:
    return None if value is None else str(value)


def notice_of(
    position: int,
    event: Any,
    *,
    created: Any | None = None,
    created_at: int = 0,
    versioning: VersioningHistory | None = None,
) -> Notice | None:
    """The notice an event makes, or None. ``created`` / ``created_at``: the aggregate's
    first event and its position, for events listed in FIRST_EVENT_OF. ``versioning``:
    the bucket's versioning history (for the versionId)."""
    make = _NOTICE_MAKERS.get(type(event))
    if make is None:
        return None
    facts = _EventFacts(position, event, dict(getattr(event, "actor", None) or {}), versioning or VersioningHistory())
    if type(event) in FIRST_EVENT_OF:
        if created is None:
            return None
        return make(facts, created, created_at)
    return make(facts, None, 0)


class _EventFacts(NamedTuple):
    position: int
    event: Any
    actor: dict[str, str]
    history: VersioningHistory

    def notice(self, name: str, bucket: str, key: str, **fields: Any) -> Notice:
        return Notice(self.position, name, bucket, key, self.event.timestamp, self.actor, **fields)

    def version_id(self, position: int) -> str:
        return self.history.label(version_id_of(self.event.originator_id), position)


def _object_created(f: _EventFacts, created: Any, created_at: int) -> Notice:
    e = f.event
    return f.notice(
        "s3:ObjectCreated:" + e.operation,
        e.bucket,
        e.key,
        version_id=f.version_id(f.position),
        # MinIO sends PutObject's event before it writes the response headers (since
        # 2023), so a Put record has no content-length. Copy and CompleteMultipartUpload
        # carry the length of their XML response, which their event records.
        content_length=_length(getattr(e, "response_length", None)),
        **_object_facts(e),
    )


def _delete_marker_created(f: _EventFacts, created: Any, created_at: int) -> Notice:
    e = f.event
    if f.history.at(f.position) == "":
        # A bucket that never versioned keeps no marker: the delete removes the object.
        return f.notice("s3:ObjectRemoved:Delete", e.bucket, e.key, content_length=_EMPTY_RESPONSE)
    return f.notice(
        "s3:ObjectRemoved:DeleteMarkerCreated",
        e.bucket,
        e.key,
        version_id=f.version_id(f.position),
        content_length=_EMPTY_RESPONSE,
    )


def _object_accessed(f: _EventFacts, created: Any, created_at: int) -> Notice:
    e = f.event
    return f.notice(
        "s3:ObjectAccessed:" + e.method,
        e.bucket,
        e.key,
        size=int(e.size),
        etag=e.etag,
        content_type=e.content_type,
        user_metadata=minio_user_metadata(e.metadata, e.headers, e.content_type),
        version_id=e.version_id,
        content_length=e.content_length or None,
        range=e.range,
    )


def _bucket_created(f: _EventFacts, created: Any, created_at: int) -> Notice:
    return f.notice("s3:BucketCreated:*", f.event.name, "")


def _bucket_removed(f: _EventFacts, created: Any, created_at: int) -> Notice:
    return f.notice("s3:BucketRemoved:*", created.name, "")


def _tags_set(f: _EventFacts, created: Any, created_at: int) -> Notice:
    name = "s3:ObjectCreated:PutTagging" if f.event.tags else "s3:ObjectCreated:DeleteTagging"
    return f.notice(
        name,
        created.bucket,
        created.key,
        version_id=f.version_id(created_at),
        content_length=_EMPTY_RESPONSE,
        **_object_facts(created),
    )


def _version_removed(f: _EventFacts, created: Any, created_at: int) -> Notice:
    return f.notice(
        "s3:ObjectRemoved:Delete",
        created.bucket,
        created.key,
        version_id=f.version_id(created_at),
        content_length=_EMPTY_RESPONSE,
    )


_NOTICE_MAKERS: dict[type, Callable[[_EventFacts, Any, int], Notice]] = {
    ObjectVersion.Created: _object_created,
    DeleteMarker.Created: _delete_marker_created,
    ObjectAccess.Created: _object_accessed,
    Bucket.Created: _bucket_created,
    Bucket.Recreated: _bucket_created,
    Bucket.Deleted: _bucket_removed,
    ObjectVersion.TagsSet: _tags_set,
    **{kind: _version_removed for kind in FIRST_EVENT_OF if kind not in (Bucket.Deleted, ObjectVersion.TagsSet)},
}

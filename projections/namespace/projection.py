"""NamespaceProjection: buckets, versions, current objects and uploads, applied inline.

`apply` runs inside the transaction that appends the event, so a successful response is
visible to every node. Every column derives from the event (its position, timestamp and
fields), so replaying the log reproduces the tables exactly.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson

from domain.aggregates import Bucket, DeleteMarker, MultipartUpload, ObjectVersion, UploadedPart
from projections.eventstore.tx import Tx
from projections.namespace.queries import get_bucket
from projections.notifications import subscriptions_generation

NULL_VERSION = "null"
NOTIFICATION = "notification"  # the bucket configuration holding notification rules


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _us(event: Any) -> int:
    return int(event.timestamp.timestamp() * 1_000_000)


def version_id_of(aggregate_id: UUID) -> str:
    return aggregate_id.hex


class NamespaceProjection:
    """Maps each event to row changes. Returns a per-event result for the request (e.g. the
    version id the client sees), which is also what replay would compute."""

    def apply(self, tx: Tx, position: int, event: Any) -> Any:
        handler = _HANDLERS.get(type(event))
        if handler is None:
            return None
        return handler(tx, position, event)


def _forget_bucket(tx: Tx, name: str) -> None:
    tx.cache.pop(("bucket", name), None)


def _bucket_created(tx: Tx, position: int, e: Any) -> None:
    _forget_bucket(tx, _name_of(tx, e))
    tx.execute("DELETE FROM ns_bucket_configs WHERE bucket = ?", (_name_of(tx, e),))
    # A new bucket of a deleted one's name starts at the server default: the deleted bucket's
    # window kept its history until now (see _bucket_deleted).
    tx.execute("DELETE FROM ns_bucket_retention WHERE bucket = ?", (_name_of(tx, e),))
    tx.execute(
        """INSERT INTO ns_buckets (name, id, owner, region, created_us, versioning, position)
           VALUES (?, ?, ?, ?, ?, '', ?)
           ON CONFLICT (name) DO UPDATE SET id = excluded.id, owner = excluded.owner,
             region = excluded.region, created_us = excluded.created_us, versioning = '',
             position = excluded.position, quota_bytes = 0, quota_objects = 0""",
        (_name_of(tx, e), e.originator_id.hex, e.owner, e.region, _us(e), position),
    )
    for name, document in (e.settings or {}).items():
        _set_config(tx, _name_of(tx, e), name, document)
    if NOTIFICATION in (e.settings or {}):
        subscriptions_generation.bump(tx)


def _name_of(tx: Tx, e: Any) -> str:
    name = getattr(e, "name", None)
    if name:
        return name
    row = tx.one("SELECT name FROM ns_buckets WHERE id = ?", (e.originator_id.hex,))
    if row is None:
        raise LookupError(f"bucket {e.originator_id} not projected")
    return row["name"]


def _bucket_deleted(tx: Tx, position: int, e: Any) -> None:
    name = _name_of(tx, e)
    _forget_bucket(tx, name)
    if tx.one("SELECT 1 FROM ns_bucket_configs WHERE bucket = ? AND name = ?", (name, NOTIFICATION)):
        subscriptions_generation.bump(tx)  # its notification rules go with it
    tx.execute("DELETE FROM ns_buckets WHERE name = ?", (name,))
    tx.execute("DELETE FROM ns_bucket_configs WHERE bucket = ?", (name,))
    # Its history retention stays: the deleted bucket's superseded data is kept (and readable
    # as of the past) for the window it had, until a bucket of that name is created again.
    for row in tx.all("SELECT id FROM ns_uploads WHERE bucket = ?", (name,)):
        tx.execute("DELETE FROM ns_parts WHERE upload_id = ?", (row["id"],))
    tx.execute("DELETE FROM ns_uploads WHERE bucket = ?", (name,))


def _versioning_changed(tx: Tx, position: int, e: Any) -> None:
    _forget_bucket(tx, _name_of(tx, e))
    tx.execute("UPDATE ns_buckets SET versioning = ? WHERE id = ?", (e.status, e.originator_id.hex))


def _quota_set(tx: Tx, position: int, e: Any) -> None:
    _forget_bucket(tx, _name_of(tx, e))
    tx.execute(
        "UPDATE ns_buckets SET quota_bytes = ?, quota_objects = ? WHERE id = ?",
        (e.max_bytes, e.max_objects, e.originator_id.hex),
    )


def _set_config(tx: Tx, bucket: str, name: str, document: Any) -> None:
    tx.execute(
        """INSERT INTO ns_bucket_configs (bucket, name, document) VALUES (?, ?, ?)
           ON CONFLICT (bucket, name) DO UPDATE SET document = excluded.document""",
        (bucket, name, _json(document)),
    )


def _configuration_set(tx: Tx, position: int, e: Any) -> None:
    _set_config(tx, _name_of(tx, e), e.subresource, e.document)
    if e.subresource == NOTIFICATION:
        subscriptions_generation.bump(tx)


def _configuration_deleted(tx: Tx, position: int, e: Any) -> None:
    tx.execute("DELETE FROM ns_bucket_configs WHERE bucket = ? AND name = ?", (_name_of(tx, e), e.subresource))
    if e.subresource == NOTIFICATION:
        subscriptions_generation.bump(tx)


def _history_retention_set(tx: Tx, position: int, e: Any) -> None:
    tx.execute(
        """INSERT INTO ns_bucket_retention (bucket, seconds, position) VALUES (?, ?, ?)
           ON CONFLICT (bucket) DO UPDATE SET seconds = excluded.seconds, position = excluded.position""",
        (_name_of(tx, e), e.seconds, position),
    )


def _history_retention_cleared(tx: Tx, position: int, e: Any) -> None:
    tx.execute("DELETE FROM ns_bucket_retention WHERE bucket = ?", (_name_of(tx, e),))


def _versioning(tx: Tx, bucket: str) -> str:
    row = get_bucket(tx, bucket)
    if row is None:
        raise LookupError(f"no bucket {bucket!r} at this log position")
    return str(row["versioning"])


def _drop_null_version(tx: Tx, bucket: str, key: str) -> None:
    tx.execute(
        "DELETE FROM ns_versions WHERE bucket = ? AND key = ? AND version_id = ?",
        (bucket, key, NULL_VERSION),
    )


def _demote_latest(tx: Tx, bucket: str, key: str) -> None:
    tx.execute(
        "UPDATE ns_versions SET is_latest = FALSE WHERE bucket = ? AND key = ? AND is_latest",
        (bucket, key),
    )


_VERSION_UPSERT = """INSERT INTO ns_versions (id, bucket, key, version_id, position, is_latest,
             is_delete_marker, size, etag, mtime_us, content_type, headers, metadata, blob,
             checksum, tags, parts, owner, operation, acl)
           VALUES (?, ?, ?, ?, ?, TRUE, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (bucket, key, version_id) DO UPDATE SET id = excluded.id,
             position = excluded.position, is_latest = TRUE,
             is_delete_marker = excluded.is_delete_marker, size = excluded.size,
             etag = excluded.etag, mtime_us = excluded.mtime_us,
             content_type = excluded.content_type, headers = excluded.headers,
             metadata = excluded.metadata, blob = excluded.blob, checksum = excluded.checksum,
             tags = excluded.tags, parts = excluded.parts, owner = excluded.owner,
             operation = excluded.operation, acl = excluded.acl"""


def version_columns(e: Any, *, marker: bool) -> tuple[Any, ...]:
    """What a version (or delete marker) row holds besides its identity and position, from
    is_delete_marker to acl in ns_versions' column order; ns_history's rows hold the same
    (projections.history.follower), so an as-of read decodes them as a live one."""
    return (
        marker,
        0 if marker else e.size,
        "" if marker else e.etag,
        _us(e),
        "" if marker else e.content_type,
        _json({} if marker else e.headers),
        _json({} if marker else e.metadata),
        _json({} if marker else e.blob),
        _json({} if marker else e.checksum),
        _json({} if marker else e.tags),
        _json([] if marker else e.parts),
        e.actor.get("parent_user") or e.actor.get("access_key", ""),
        "DeleteMarker" if marker else e.operation,
        acl_text(None if marker else getattr(e, "acl", None)),
    )


def _version_params(position: int, e: Any, *, marker: bool, version_id: str) -> tuple[Any, ...]:
    """_VERSION_UPSERT's parameters (projections.eventstore.fast_append picks from them by index)."""
    return (e.originator_id.hex, e.bucket, e.key, version_id, position, *version_columns(e, marker=marker))


def _insert_version(tx: Tx, position: int, e: Any, *, marker: bool, version_id: str) -> None:
    """Insert the version; a new null version replaces the old one in the same statement."""
    tx.execute(_VERSION_UPSERT, _version_params(position, e, marker=marker, version_id=version_id))


def acl_text(acl: Any) -> str:
    """'' when the version has no explicit ACL (private to its owner)."""
    return "" if acl is None else _json(acl)


def _object_created(tx: Tx, position: int, e: Any) -> str:
    status = _versioning(tx, e.bucket)
    version_id = version_id_of(e.originator_id) if status == "Enabled" else NULL_VERSION
    if status != "":
        # A bucket that never versioned holds only null versions: nothing else to demote,
        # and the upsert replaces the old null version.
        _demote_latest(tx, e.bucket, e.key)
    _insert_version(tx, position, e, marker=False, version_id=version_id)
    return version_id


def bulk_null_versions(tx: Tx, items: list[tuple[int, Any]]) -> None:
    """Apply many ObjectVersion.Created events of never-versioned buckets in one statement.
    Equivalent to applying them one by one: each key keeps only its newest null version."""
    newest: dict[tuple[str, str], tuple[int, Any]] = {}
    for position, e in items:
        newest[(e.bucket, e.key)] = (position, e)
    head, rest = _VERSION_UPSERT.split("VALUES", 1)
    row, tail = rest.split("ON CONFLICT", 1)
    params: list[Any] = []
    for position, e in newest.values():
        params.extend(_version_params(position, e, marker=False, version_id=NULL_VERSION))
    rows = ", ".join([row.strip()] * len(newest))
    tx.execute(f"{head} VALUES {rows} ON CONFLICT{tail}", params)


def is_null_version_put(tx: Tx, event: Any) -> bool:
    """An ObjectVersion.Created in a bucket that never versioned (bulk-appliable)."""
    if type(event) is not ObjectVersion.Created:
        return False
    row = get_bucket(tx, event.bucket)
    return row is not None and row["versioning"] == ""


def _marker_created(tx: Tx, position: int, e: Any) -> str | None:
    status = _versioning(tx, e.bucket)
    if status == "":
        # Unversioned: a delete simply removes the null version; no marker is kept.
        _drop_null_version(tx, e.bucket, e.key)
        _promote_newest(tx, e.bucket, e.key)
        return None
    version_id = version_id_of(e.originator_id) if status == "Enabled" else NULL_VERSION
    _demote_latest(tx, e.bucket, e.key)
    _insert_version(tx, position, e, marker=True, version_id=version_id)
    return version_id


def _promote_newest(tx: Tx, bucket: str, key: str) -> None:
    if tx.one("SELECT id FROM ns_versions WHERE bucket = ? AND key = ? AND is_latest", (bucket, key)):
        return
    newest = tx.one(
        """SELECT id FROM ns_versions WHERE bucket = ? AND key = ?
           ORDER BY position DESC LIMIT 1""",
        (bucket, key),
    )
    if newest is not None:
        tx.execute("UPDATE ns_versions SET is_latest = TRUE WHERE id = ?", (newest["id"],))


def _version_removed(tx: Tx, position: int, e: Any) -> None:
    row = tx.one("SELECT bucket, key FROM ns_versions WHERE id = ?", (e.originator_id.hex,))
    if row is None:
        return
    tx.execute("DELETE FROM ns_versions WHERE id = ?", (e.originator_id.hex,))
    _promote_newest(tx, row["bucket"], row["key"])


def _tags_set(tx: Tx, position: int, e: Any) -> None:
    tx.execute("UPDATE ns_versions SET tags = ? WHERE id = ?", (_json(e.tags), e.originator_id.hex))


def _acl_set(tx: Tx, position: int, e: Any) -> None:
    tx.execute("UPDATE ns_versions SET acl = ? WHERE id = ?", (acl_text(e.acl), e.originator_id.hex))


def _upload_created(tx: Tx, position: int, e: Any) -> None:
    tx.execute(
        """INSERT INTO ns_uploads (id, bucket, key, initiated_us, content_type, headers, metadata,
             tags, checksum_algorithm, checksum_type, owner, position)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (
            e.originator_id.hex,
            e.bucket,
            e.key,
            _us(e),
            e.content_type,
            _json(e.headers),
            _json(e.metadata),
            _json(e.tags),
            e.checksum_algorithm,
            e.checksum_type,
            e.actor.get("parent_user") or e.actor.get("access_key", ""),
            position,
        ),
    )


def _upload_closed(tx: Tx, position: int, e: Any) -> None:
    tx.execute("DELETE FROM ns_parts WHERE upload_id = ?", (e.originator_id.hex,))
    tx.execute("DELETE FROM ns_uploads WHERE id = ?", (e.originator_id.hex,))


def _part_created(tx: Tx, position: int, e: Any) -> None:
    tx.execute(
        """INSERT INTO ns_parts (upload_id, part_number, id, size, etag, blob, checksum, mtime_us,
             position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (upload_id, part_number) DO UPDATE SET id = excluded.id,
             size = excluded.size, etag = excluded.etag, blob = excluded.blob,
             checksum = excluded.checksum, mtime_us = excluded.mtime_us,
             position = excluded.position""",
        (
            e.upload_id.hex,
            e.part_number,
            e.originator_id.hex,
            e.size,
            e.etag,
            _json(e.blob),
            _json(e.checksum),
            _us(e),
            position,
        ),
    )


_HANDLERS: dict[type, Any] = {
    Bucket.Created: _bucket_created,
    Bucket.Recreated: _bucket_created,
    Bucket.Deleted: _bucket_deleted,
    Bucket.VersioningChanged: _versioning_changed,
    Bucket.ConfigurationSet: _configuration_set,
    Bucket.ConfigurationDeleted: _configuration_deleted,
    Bucket.QuotaSet: _quota_set,
    Bucket.HistoryRetentionSet: _history_retention_set,
    Bucket.HistoryRetentionCleared: _history_retention_cleared,
    ObjectVersion.Created: _object_created,
    ObjectVersion.TagsSet: _tags_set,
    ObjectVersion.AclSet: _acl_set,
    ObjectVersion.Removed: _version_removed,
    DeleteMarker.Created: _marker_created,
    DeleteMarker.Removed: _version_removed,
    MultipartUpload.Created: _upload_created,
    MultipartUpload.Completed: _upload_closed,
    MultipartUpload.Aborted: _upload_closed,
    UploadedPart.Created: _part_created,
}

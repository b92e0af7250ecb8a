"""The one-round-trip append of plain PUTs on PostgreSQL.

A batch of plain PUTs (new ObjectVersions in buckets that never versioned, no condition
but "the bucket exists") is sent as one pipeline: BEGIN, the store's table lock, an
assertion that every bucket exists unversioned, one statement that inserts the events and
upserts their null versions, one blob insert, NOTIFY, COMMIT; then a single sync. The
table lock is therefore held only while PostgreSQL executes the batch, never across a
client round trip, and a second committer's batch queued behind the lock starts the moment
this one commits. Statements use arrays (unnest), so their text is constant and psycopg
prepares them once per connection.

If the assertion fails (a bucket was deleted, or turned versioning on) the transaction
aborts as a whole and the caller replays the batch on the careful path, which gives each
change its own outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.aggregates import ObjectVersion
from projections.namespace import NULL_VERSION, _version_params

# ns_versions columns sent per row (position comes from the event insert, is_latest is
# TRUE, is_delete_marker FALSE and version_id 'null' for every row of this path).
_ROW_COLUMNS = (
    ("id", "text"),
    ("bucket", "text"),
    ("key", "text"),
    ("size", "bigint"),
    ("etag", "text"),
    ("mtime_us", "bigint"),
    ("content_type", "text"),
    ("headers", "text"),
    ("metadata", "text"),
    ("blob", "text"),
    ("checksum", "text"),
    ("tags", "text"),
    ("parts", "text"),
    ("owner", "text"),
    ("operation", "text"),
    ("acl", "text"),
)
# Where each column sits in _version_params' tuple.
_PARAM_INDEX = {
    "id": 0, "bucket": 1, "key": 2, "size": 6, "etag": 7, "mtime_us": 8, "content_type": 9,
    "headers": 10, "metadata": 11, "blob": 12, "checksum": 13, "tags": 14, "parts": 15,
    "owner": 16, "operation": 17, "acl": 18,
}  # fmt: skip

_UPDATED = [name for name, _ in _ROW_COLUMNS if name not in ("id", "bucket", "key")]


def append_sql(events_table: str) -> str:
    columns = ", ".join(name for name, _ in _ROW_COLUMNS)
    arrays = ", ".join(f"%b::{kind}[]" for _, kind in _ROW_COLUMNS)
    selected = ", ".join(
        f"v.{name}" for name, _ in _ROW_COLUMNS if name not in ("id", "bucket", "key")
    )
    updates = ", ".join(f"{name} = excluded.{name}" for name in _UPDATED)
    return f"""
WITH ev AS (
  INSERT INTO {events_table} (originator_id, originator_version, topic, state)
  SELECT * FROM unnest(%b::uuid[], %b::integer[], %b::text[], %b::bytea[])
  RETURNING notification_id, originator_id
), up AS (
  INSERT INTO ns_versions (id, bucket, key, version_id, position, is_latest, is_delete_marker,
                           {", ".join(n for n, _ in _ROW_COLUMNS if n not in ("id", "bucket", "key"))})
  SELECT v.id, v.bucket, v.key, '{NULL_VERSION}', ev.notification_id, TRUE, FALSE, {selected}
  FROM unnest({arrays}) AS v({columns})
  JOIN ev ON ev.originator_id = v.id::uuid
  ON CONFLICT (bucket, key, version_id) DO UPDATE SET id = excluded.id, position = excluded.position,
    is_latest = TRUE, is_delete_marker = FALSE, {updates}
)
SELECT notification_id, originator_id FROM ev"""


# Division by zero unless every named bucket exists and never versioned: the statement
# fails, the transaction aborts, nothing of the batch is written.
ASSERT_BUCKETS_SQL = (
    "SELECT 1 / (count(*) = %s)::integer AS ok FROM ns_buckets "
    "WHERE name = ANY(%b::text[]) AND versioning = ''"
)

BLOBS_SQL = "INSERT INTO blob_data (id, data) SELECT * FROM unnest(%b::text[], %b::bytea[])"


def is_plain_put(change: Any) -> bool:
    """A change this path can append: new ObjectVersions whose only precondition is that
    their bucket exists."""
    if change.requires_bucket is None or not change.events:
        return False
    return all(
        type(e) is ObjectVersion.Created and e.bucket == change.requires_bucket
        for e in change.events
    )


class AppendBatch:
    """The parameters of one batch, computed before the table lock is taken."""

    def __init__(self, changes: Sequence[Any], mapper: Any) -> None:
        self.changes = changes
        ids: list[Any] = []
        versions: list[int] = []
        topics: list[str] = []
        states: list[bytes] = []
        newest: dict[tuple[str, str], tuple[Any, ...]] = {}
        blob_ids: list[str] = []
        blob_data: list[bytes] = []
        buckets: set[str] = set()
        for change in changes:
            buckets.add(change.requires_bucket)
            for e in change.events:
                stored = mapper.to_stored_event(e)
                ids.append(stored.originator_id)
                versions.append(stored.originator_version)
                topics.append(stored.topic)
                states.append(stored.state)
                # Events are numbered in this order, so the last PUT of a key in the batch
                # is the newest: it alone is upserted, as replaying one by one would leave.
                newest[(e.bucket, e.key)] = _version_params(
                    0, e, marker=False, version_id=NULL_VERSION
                )
            for blob_id, data in change.blobs:
                blob_ids.append(blob_id)
                blob_data.append(data)
        columns: list[list[Any]] = [[] for _ in _ROW_COLUMNS]
        for params in newest.values():
            for i, (name, _) in enumerate(_ROW_COLUMNS):
                columns[i].append(params[_PARAM_INDEX[name]])
        self.buckets = sorted(buckets)
        self.append_params: list[Any] = [ids, versions, topics, states, *columns]
        self.blob_params = [blob_ids, blob_data] if blob_ids else None

    def finish(self, rows: list[dict[str, Any]]) -> None:
        """Hand each change its positions and results (the null version id)."""
        position = {r["originator_id"]: int(r["notification_id"]) for r in rows}
        for change in self.changes:
            for e in change.events:
                change.positions.append(position[e.originator_id])
                change.results.append(NULL_VERSION)

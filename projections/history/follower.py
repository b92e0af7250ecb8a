"""The history view, built from the log by a follower (projections.log_follower), off the
request path: each object version (or delete marker) with the log positions and times
between which it was part of its bucket, each bucket life, and the time of every event it
applied. It mirrors projections.namespace.projection event by event, except that nothing is
ever removed: a row is closed (to_position, to_us) where the namespace deletes or replaces it.
Each page and its tracking row are one transaction, so a crash repeats a page or none of it.
"""

from __future__ import annotations

from typing import Any

import orjson

from domain.aggregates import Bucket, DeleteMarker, ObjectVersion
from projections.eventstore.recorder import ChronicleApplication
from projections.eventstore.tx import Tx
from projections.log_follower import LogFollower
from projections.namespace.projection import NULL_VERSION, acl_text, version_columns

PAGE = 2000
# An as-of read of a point the view has not reached waits for it (api.s3.as_of), so a tenth
# of a second of lag is paid only by reads of the last tenth of a second.
LINGER = 0.1
TRACKING = "history"
_HISTORY_LOCK = 0x6368726F6E686973  # "chronhis"
HISTORY_TABLES = ("ns_history", "ns_history_buckets", "ns_history_clock", "ns_history_tracking")


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _us(event: Any) -> int:
    return int(event.timestamp.timestamp() * 1_000_000)


class HistoryFollower(LogFollower):
    lock_key = _HISTORY_LOCK
    name = "history"
    linger = LINGER

    def __init__(self, app: ChronicleApplication, *, page: int = PAGE) -> None:
        super().__init__(app)
        self.page = page

    def apply(self, tx: Tx) -> int:
        after = int(tx.scalar("SELECT position FROM ns_history_tracking WHERE name = ?", (TRACKING,)) or 0)
        rows = tx.all(self.app.store.events_page_sql(), (after + 1, self.page))
        if not rows:
            return 0
        batch = _CreatedBatch()
        last_position, last_us = after, 0
        for row in rows:
            position, event = int(row["notification_id"]), self.app.decode_row(row)
            if type(event) is ObjectVersion.Created:
                batch.add(tx, position, event)
            elif (handler := _HANDLERS.get(type(event))) is not None:
                batch.flush(tx)  # the handler reads and changes rows the batch may hold
                handler(tx, position, event)
                batch.clock.append((position, _us(event)))
            last_position, last_us = position, _us(event)
        batch.flush(tx)
        tx.execute(
            "INSERT INTO ns_history_tracking (name, position, time_us) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position, time_us = excluded.time_us",
            (TRACKING, last_position, last_us),
        )
        return len(rows)


_INSERT_COLUMNS = (
    "id, bucket, key, version_id, from_position, from_us, to_position, to_us, is_delete_marker, size, etag, "
    "mtime_us, content_type, headers, metadata, blob, checksum, tags, parts, owner, operation, acl"
)
_CHUNK = 200


class _CreatedBatch:
    """ObjectVersion.Created events (most of the log) applied a page at a time: a few
    statements per page instead of four per event (measured: the follower fell behind a PUT
    benchmark applying them one by one). A null version replaced within the page is closed
    in memory; one replaced from an earlier page is closed by an UPDATE before the inserts."""

    def __init__(self) -> None:
        self.versioning: dict[str, str | None] = {}
        self.rows: list[list[Any]] = []
        self.open_null: dict[tuple[str, str], list[Any]] = {}
        self.closes: list[tuple[int, int, str, str]] = []
        self.clock: list[tuple[int, int]] = []

    def add(self, tx: Tx, position: int, e: Any) -> None:
        if e.bucket not in self.versioning:
            bucket = _open_bucket(tx, name=e.bucket)
            self.versioning[e.bucket] = None if bucket is None else str(bucket["versioning"])
        status = self.versioning[e.bucket]
        self.clock.append((position, _us(e)))
        if status is None:
            return
        if status == "Enabled":
            self.rows.append(_row(position, e, marker=False, version_id=e.originator_id.hex))
            return
        # Unversioned or suspended: the new null version replaces the old one.
        replaced = self.open_null.get((e.bucket, e.key))
        if replaced is not None:
            replaced[6], replaced[7] = position, _us(e)
        else:
            self.closes.append((position, _us(e), e.bucket, e.key))
        row = _row(position, e, marker=False, version_id=NULL_VERSION)
        self.rows.append(row)
        self.open_null[(e.bucket, e.key)] = row

    def flush(self, tx: Tx) -> None:
        if self.closes:
            tx.cursor.executemany(
                tx.dialect.sql(
                    "UPDATE ns_history SET to_position = ?, to_us = ? "
                    "WHERE bucket = ? AND key = ? AND version_id = 'null' AND to_position IS NULL"
                ),
                self.closes,
            )
        marks = "(" + ", ".join(["?"] * 22) + ")"
        for i in range(0, len(self.rows), _CHUNK):
            chunk = self.rows[i : i + _CHUNK]
            tx.execute(
                f"INSERT INTO ns_history ({_INSERT_COLUMNS}) VALUES {', '.join([marks] * len(chunk))}",
                [v for row in chunk for v in row],
            )
        for i in range(0, len(self.clock), _CHUNK):
            chunk_clock = self.clock[i : i + _CHUNK]
            tx.execute(
                f"INSERT INTO ns_history_clock (position, time_us) VALUES {', '.join(['(?, ?)'] * len(chunk_clock))}",
                [v for pair in chunk_clock for v in pair],
            )
        self.versioning.clear()
        self.rows, self.open_null, self.closes, self.clock = [], {}, [], []


def _open_bucket(tx: Tx, *, name: str | None = None, bucket_id: str | None = None) -> dict[str, Any] | None:
    if name is not None:
        return tx.one("SELECT * FROM ns_history_buckets WHERE name = ? AND to_position IS NULL", (name,))
    return tx.one("SELECT * FROM ns_history_buckets WHERE id = ? AND to_position IS NULL", (bucket_id,))


def _bucket_created(tx: Tx, position: int, e: Any) -> None:
    name = getattr(e, "name", None)
    if not name:
        return
    tx.execute("UPDATE ns_history_buckets SET to_position = ? WHERE name = ? AND to_position IS NULL", (position, name))
    tx.execute(
        "INSERT INTO ns_history_buckets (name, id, from_position, to_position, versioning) VALUES (?, ?, ?, NULL, '')",
        (name, e.originator_id.hex, position),
    )


def _bucket_deleted(tx: Tx, position: int, e: Any) -> None:
    row = _open_bucket(tx, bucket_id=e.originator_id.hex)
    if row is None:
        return
    tx.execute(
        "UPDATE ns_history_buckets SET to_position = ? WHERE id = ? AND to_position IS NULL", (position, row["id"])
    )
    # The namespace keeps nothing of a deleted bucket: whatever the history still holds open ends here.
    tx.execute(
        "UPDATE ns_history SET to_position = ?, to_us = ? WHERE bucket = ? AND to_position IS NULL",
        (position, _us(e), row["name"]),
    )


def _versioning_changed(tx: Tx, position: int, e: Any) -> None:
    tx.execute(
        "UPDATE ns_history_buckets SET versioning = ? WHERE id = ? AND to_position IS NULL",
        (e.status, e.originator_id.hex),
    )


def _close_null_version(tx: Tx, position: int, e: Any) -> None:
    tx.execute(
        "UPDATE ns_history SET to_position = ?, to_us = ? "
        "WHERE bucket = ? AND key = ? AND version_id = ? AND to_position IS NULL",
        (position, _us(e), e.bucket, e.key, NULL_VERSION),
    )


def _row(position: int, e: Any, *, marker: bool, version_id: str) -> list[Any]:
    """The ns_history row of a version created at `position` (still open), in _INSERT_COLUMNS
    order: the namespace's columns for it, with the version's life where ns_versions has its
    position."""
    identity = [e.originator_id.hex, e.bucket, e.key, version_id]
    return [*identity, position, _us(e), None, None, *version_columns(e, marker=marker)]


def _insert(tx: Tx, position: int, e: Any, *, marker: bool, version_id: str) -> None:
    marks = ", ".join(["?"] * 22)
    tx.execute(
        f"INSERT INTO ns_history ({_INSERT_COLUMNS}) VALUES ({marks})",
        _row(position, e, marker=marker, version_id=version_id),
    )


def _marker_created(tx: Tx, position: int, e: Any) -> None:
    bucket = _open_bucket(tx, name=e.bucket)
    if bucket is None:
        return
    status = bucket["versioning"]
    if status != "Enabled":
        _close_null_version(tx, position, e)
    if status == "":
        return  # unversioned: a delete removes the null version and keeps no marker
    version_id = e.originator_id.hex if status == "Enabled" else NULL_VERSION
    _insert(tx, position, e, marker=True, version_id=version_id)


def _version_removed(tx: Tx, position: int, e: Any) -> None:
    tx.execute(
        "UPDATE ns_history SET to_position = ?, to_us = ? WHERE id = ? AND to_position IS NULL",
        (position, _us(e), e.originator_id.hex),
    )


# Tags and ACL are not part of the point-in-time answer's bytes or listing: the row keeps the
# newest (authorization uses today's state anyway).
def _tags_set(tx: Tx, position: int, e: Any) -> None:
    tx.execute("UPDATE ns_history SET tags = ? WHERE id = ?", (_json(e.tags), e.originator_id.hex))


def _acl_set(tx: Tx, position: int, e: Any) -> None:
    tx.execute("UPDATE ns_history SET acl = ? WHERE id = ?", (acl_text(e.acl), e.originator_id.hex))


_HANDLERS: dict[type, Any] = {
    Bucket.Created: _bucket_created,
    Bucket.Recreated: _bucket_created,
    Bucket.Deleted: _bucket_deleted,
    Bucket.VersioningChanged: _versioning_changed,
    ObjectVersion.TagsSet: _tags_set,
    ObjectVersion.AclSet: _acl_set,
    ObjectVersion.Removed: _version_removed,
    DeleteMarker.Created: _marker_created,
    DeleteMarker.Removed: _version_removed,
}

"""The notification projection: an async, batched follower of the log.

Each step reads a page of events after its tracking position and, in one transaction,
matches them against the bucket rules as they stood at each event's position, appends
the matching records to the per-target access view, keeps the namespace view current
and moves its tracking row — so a crash repeats a whole page or none of it. One page per
transaction keeps it at thousands of events per second (one transaction per event, as
eventsourcing's ProcessRunner does, manages a few hundred).

Targets are named ``notify_<subsystem>:<id>`` (the ARN ``arn:minio:sqs::1:redis`` names
``notify_redis:1``). Records are stored with MinIO's default key escaping; a target set
to another key encoding rewrites the key when it delivers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

from domain.aggregates import Bucket, bucket_id
from domain.notifications import ARN, format_event_time
from domain.notifications.arn import SUBSYSTEM_FOR_TYPE
from projections.eventstore.deployment import deployment_id
from projections.eventstore.recorder import (
    ChronicleApplication,
    PostgresChronicleRecorder,
    pg_connect_kwargs,
)
from projections.eventstore.tx import Tx
from projections.notifications.bucket_state import BucketState, BucketStates
from projections.notifications.events import (
    FIRST_EVENT_OF,
    NOTIFICATION_SUBRESOURCE,
    notice_of,
)
from projections.notifications.reader import first_events

log = logging.getLogger("chronicle.notify")

FOLLOWER_NAME = "notifications"
PAGE = 2000
# Advisory lock key: one active follower across processes (held by its session).
_FOLLOWER_LOCK = 0x6368726F6E6E6F74  # "chronnot"


def target_name(arn: ARN) -> str:
    """``arn:minio:sqs::1:redis`` → ``notify_redis:1``."""
    return f"{SUBSYSTEM_FOR_TYPE.get(arn.type, 'notify_' + arn.type)}:{arn.id}"


@dataclass(frozen=True, slots=True)
class Appended:
    """What one committed step added to the access view: every record of log positions
    (after, upto], per target (a target missing from ``records`` got none). Handed to
    in-process workers so they need not read back what the follower just wrote."""

    after: int
    upto: int
    records: dict[str, list[tuple[Any, ...]]]  # target → (position, event_name, bucket, key, event_time, record)


class NotificationFollower:
    def __init__(
        self,
        app: ChronicleApplication,
        *,
        region: str = "",
        page: int = PAGE,
        on_records: Callable[[Appended], None] | None = None,
    ) -> None:
        self.app = app
        self.region = region
        self.page = page
        self.on_records = on_records  # called after every step that committed
        self._deployment: str | None = None
        # Bucket states as this follower last wrote them, valid while the tracking position
        # is still the one it committed (no other process stepped in between): most steps
        # then read no notify_rules row.
        self._states: dict[str, BucketState] = {}
        self._states_at = -1
        # PostgreSQL: the connection holding the follower's session lock (one active
        # follower across processes), and the position it has written.
        self._conn: Any = None
        self._holding = False
        self._position = 0
        self._retry_at = 0.0
        self._page_sql = ""
        # The last step found no bucket with notification rules (nor any configured in its
        # page): nothing can be delivered from the events it skipped, so the supervisor may
        # step less often (see workers.supervisor).
        self.no_rules = False

    def position(self) -> int:
        store = self.app.store
        with store.datastore.transaction(commit=False) as cursor:
            return _tracking(Tx(cursor, store.dialect))

    def step(self) -> int:
        """Process up to one page; returns how many events it read (0: caught up, or
        another process's follower holds the log)."""
        try:
            if isinstance(self.app.store, PostgresChronicleRecorder):
                done = self._step_pg()
            else:
                done = self._step_sqlite()
        except BaseException:
            self._states_at = -1  # the cached states may hold this failed step's changes
            self._release()  # did the write commit? Whoever follows next reads the position
            raise
        if done is None:
            return 0
        appended, count = done
        if self.on_records is not None:
            self.on_records(appended)
        return count

    def _step_sqlite(self) -> tuple[Appended, int] | None:
        store = self.app.store
        with store.datastore.transaction(commit=False) as cursor:
            # Most polls find nothing new: find that out without taking SQLite's writer lock.
            tx = Tx(cursor, store.dialect)
            if _tracking(tx) >= int(tx.scalar(store.head_sql()) or 0):
                return None
        with store.datastore.transaction(commit=True) as cursor:
            tx = Tx(cursor, store.dialect)
            start = _tracking(tx)
            rows = tx.all(store.events_page_sql(), (start + 1, self.page))
            if not rows:
                return None
            appended = self._apply(tx, start, _any_rules(tx), rows)
        return appended, len(rows)

    def _step_pg(self) -> tuple[Appended, int] | None:
        """Two round trips, both single autocommitted statements: the page of events, then
        every view write with the tracking row (one statement is one transaction). Under
        load each round trip costs this thread a wait for the GIL, and a transaction
        block would add BEGIN and COMMIT."""
        conn = self._session()
        if conn is None:
            return None
        store = self.app.store
        assert isinstance(store, PostgresChronicleRecorder)
        tx = Tx(conn.cursor(), store.dialect)
        start = self._position
        self._page_sql = self._page_sql or _page_sql(store)
        rows = tx.all(self._page_sql, (start, self.page))
        if not rows or rows[0].get("notification_id") is None:
            return None
        access, namespace, buckets, last = self._match_page(tx, start, bool(rows[0]["any_rules"]), rows)
        states = [(bid, buckets.states[bid].dumps()) for bid in buckets.dirty]
        params = [*_columns(access, 7), *_namespace_columns(namespace), *_columns(states, 2)]
        conn.execute(_WRITE_SQL, [*params, FOLLOWER_NAME, last])
        self._position = self._states_at = last
        return _appended(start, last, access), len(rows)

    def _session(self) -> Any:
        """The connection holding the follower lock, or None while another process's
        follower holds it (asked again at most once a second). The lock is the session's:
        a follower that dies or loses its connection lets another take over, and writes
        only ever go through the session that holds it."""
        conn = self._conn
        if conn is not None and (conn.closed or conn.broken):
            self._release()
            conn = None
        if conn is not None and self._holding:
            return conn
        now = time.monotonic()
        if now < self._retry_at:
            return None
        self._retry_at = now + STANDBY_RETRY
        if conn is None:
            conn = psycopg.connect(
                **pg_connect_kwargs(self.app), autocommit=True, row_factory=dict_row, connect_timeout=5
            )
            self._conn = conn
            # The views are a projection: a step that a crash loses is made again, the
            # same, from the log (whose appends did wait for the disk). So a step need not
            # wait for its WAL flush; a checkpoint that moves past its records flushes it
            # anyway (WAL is flushed in order).
            conn.execute("SET synchronous_commit = off")
        row = conn.execute("SELECT pg_try_advisory_lock(%s) AS got", (_FOLLOWER_LOCK,)).fetchone()
        if not row or not row["got"]:
            return None
        self._holding = True
        self._position = _tracking(Tx(conn.cursor(), self.app.store.dialect))
        self._states_at = -1  # another follower may have moved the rules meanwhile
        return conn

    def _release(self) -> None:
        conn, self._conn = self._conn, None
        self._holding = False
        if conn is not None:
            try:
                conn.close()  # ends the session: the follower lock goes with it
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass

    def close(self) -> None:
        self._release()

    def _apply(self, tx: Tx, start: int, any_rules: bool, rows: list[dict[str, Any]]) -> Appended:
        """(SQLite) Match a page of events after ``start``; write the views and the tracking row."""
        access, namespace, buckets, last = self._match_page(tx, start, any_rules, rows)
        _write(tx, access, namespace, buckets)
        tx.execute(
            "INSERT INTO notify_tracking (name, position) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
            (FOLLOWER_NAME, last),
        )
        self._states_at = last  # (reset by step() if the commit fails)
        return _appended(start, last, access)

    def _match_page(
        self, tx: Tx, start: int, any_rules: bool, rows: list[dict[str, Any]]
    ) -> tuple[list[tuple[Any, ...]], dict[tuple[str, str, str], tuple[int, str | None]], BucketStates, int]:
        self.no_rules = False
        last = int(rows[-1]["notification_id"])
        if not any_rules:
            # No bucket has rules before the page's first configuration event: until then
            # only bucket events (versioning history, configuration) matter. Most
            # deployments, most of the time.
            configured = next((i for i, r in enumerate(rows) if r["topic"] == _CONFIG_TOPIC), None)
            if configured is None:
                self.no_rules = True
                configured = len(rows)
            # Rules may start at that event: the events after it are matched as when rules
            # exist (PostgreSQL sent their states, see _page_sql), in this same step. Ending
            # the step there instead made the next one read the rest of the page again.
            rows = [r for r in rows[:configured] if r["topic"].startswith(_BUCKET_TOPICS)] + rows[configured:]
        events = [(int(r["notification_id"]), self.app.decode_row(r)) for r in rows]
        if self._states_at != start or len(self._states) > _STATES_CACHED:
            self._states = {}
        self._states_at = -1  # until this step's writes are committed
        buckets = BucketStates(tx, self._states)
        access, namespace = self._match(tx, events, buckets)
        return access, namespace, buckets, last

    def run_until_caught_up(self, progress: Callable[[int], None] | None = None) -> int:
        total = 0
        while n := self.step():
            total += n
            if progress is not None:
                progress(total)
        return total

    # -- one page ------------------------------------------------------------------------

    def _match(
        self, tx: Tx, events: list[tuple[int, Any]], buckets: BucketStates
    ) -> tuple[list[tuple[Any, ...]], dict[tuple[str, str, str], tuple[int, str | None]]]:
        firsts = first_events(self.app, tx, (e.originator_id for _, e in events if type(e) in FIRST_EVENT_OF))
        if not self._deployment:
            self._deployment = deployment_id(tx)
        access: list[tuple[Any, ...]] = []
        namespace: dict[tuple[str, str, str], tuple[int, str | None]] = {}
        for position, event in events:
            kind = type(event)
            if kind in (Bucket.Created, Bucket.Recreated):
                buckets.replace(event.originator_id.hex, BucketState())
            elif kind is Bucket.Deleted:
                buckets.replace(event.originator_id.hex, BucketState())
            elif kind is Bucket.VersioningChanged:
                bid = event.originator_id.hex
                buckets.get(bid).versioning.set(position, event.status)
                buckets.dirty.add(bid)
            elif kind in (Bucket.ConfigurationSet, Bucket.ConfigurationDeleted):
                if event.subresource == NOTIFICATION_SUBRESOURCE:
                    bid = event.originator_id.hex
                    document = event.document if kind is Bucket.ConfigurationSet else None
                    buckets.get(bid).set_config(document)
                    buckets.dirty.add(bid)
                continue
            created_at, created = firsts.get(event.originator_id, (0, None))
            bucket_name = getattr(event, "bucket", None) or getattr(created, "bucket", None)
            state = buckets.get(bucket_id(bucket_name).hex) if bucket_name else BucketState()
            notice = notice_of(position, event, created=created, created_at=created_at, versioning=state.versioning)
            if notice is None or not notice.key:
                continue  # bucket events reach listeners only, as in MinIO
            arns = state.rules.match(notice.event_name, notice.key)
            if not arns:
                continue
            record = notice.record_bytes(region=self.region, deployment_id=self._deployment).decode()
            event_time = format_event_time(notice.event_time)
            for arn in arns:
                name = target_name(arn)
                access.append(
                    (
                        name,
                        position,
                        notice.event_name,
                        notice.bucket,
                        notice.key,
                        event_time,
                        record,
                    )
                )
                removed = notice.event_name == "s3:ObjectRemoved:Delete"
                namespace[(name, notice.bucket, notice.key)] = (
                    position,
                    None if removed else record,
                )
        return access, namespace


def _write(
    tx: Tx,
    access: list[tuple[Any, ...]],
    namespace: dict[tuple[str, str, str], tuple[int, str | None]],
    buckets: BucketStates,
) -> None:
    if access:
        _insert_many(
            tx,
            "notify_access_view",
            ("target", "position", "event_name", "bucket", "object_key", "event_time", "record"),
            access,
        )
    _write_namespace(tx, namespace)
    buckets.save()


_CONFIG_TOPIC = "chronicle.Bucket.ConfigurationSet"
_BUCKET_TOPICS = "chronicle.Bucket."
_STATES_CACHED = 10_000  # buckets whose state the follower keeps between steps
STANDBY_RETRY = 1.0  # seconds between attempts to take the follower lock from another process


# Whether any bucket has notification rules (states are stored as {"config":...,...}).
_ANY_RULES = """SELECT 1 FROM notify_rules WHERE config NOT LIKE '{"config":null%'"""


def _page_sql(store: PostgresChronicleRecorder) -> str:
    """Whether any rules exist and the page of events after a position, in one statement
    (one row with null event columns when there are none). While no bucket has rules only
    bucket events are decoded (see _match_page): the other events' states stay in the
    database (a null state), up to the page's first configuration event, from which rules
    may apply (`configured` counts the configuration events up to each row)."""
    page = store.events_page_sql().replace("notification_id >= ?", "notification_id > ?")
    return (
        "SELECT h.any_rules, e.notification_id, e.originator_id, e.originator_version, e.topic, "
        f"CASE WHEN h.any_rules OR e.configured > 0 OR e.topic LIKE '{_BUCKET_TOPICS}%' THEN e.state END AS state "
        f"FROM (SELECT EXISTS ({_ANY_RULES}) AS any_rules) h "
        "LEFT JOIN LATERAL (SELECT p.*, count(*) FILTER (WHERE p.topic = "
        f"'{_CONFIG_TOPIC}') OVER (ORDER BY p.notification_id) AS configured FROM ({page}) p) e ON true "
        "ORDER BY e.notification_id"
    )


# PostgreSQL: a step's writes in one statement (so one transaction without BEGIN and
# COMMIT round trips), whole columns as binary arrays: the text is constant (parsed once
# by psycopg, prepared by the server) and the records' quotes need no escaping. A VALUES
# list per row made psycopg parse a new, long statement every step. Namespace rows the
# page removes are deleted, the others upserted (disjoint keys: one statement may not
# touch a row twice).
_WRITE_SQL = """
WITH a AS (
  INSERT INTO notify_access_view (target, position, event_name, bucket, object_key, event_time, record)
  SELECT * FROM unnest(%b::text[], %b::bigint[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[])
), d AS (
  DELETE FROM notify_namespace_view v USING unnest(%b::text[], %b::text[], %b::text[]) AS x(target, bucket, key)
  WHERE v.target = x.target AND v.bucket = x.bucket AND v.object_key = x.key
), n AS (
  INSERT INTO notify_namespace_view (target, bucket, object_key, position, record)
  SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::bigint[], %b::text[])
  ON CONFLICT (target, bucket, object_key) DO UPDATE SET position = excluded.position, record = excluded.record
), r AS (
  INSERT INTO notify_rules (bucket, config) SELECT * FROM unnest(%b::text[], %b::text[])
  ON CONFLICT (bucket) DO UPDATE SET config = excluded.config
)
INSERT INTO notify_tracking (name, position) VALUES (%b, %b)
ON CONFLICT (name) DO UPDATE SET position = excluded.position"""


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


def _namespace_columns(latest: dict[tuple[str, str, str], tuple[int, str | None]]) -> list[list[Any]]:
    removed = [key for key, (_, record) in latest.items() if record is None]
    upserts = [(*key, position, record) for key, (position, record) in latest.items() if record is not None]
    return [*_columns(removed, 3), *_columns(upserts, 5)]


def _appended(start: int, last: int, access: list[tuple[Any, ...]]) -> Appended:
    records: dict[str, list[tuple[Any, ...]]] = {}
    for row in access:
        records.setdefault(row[0], []).append(row[1:])
    return Appended(start, last, records)


def _any_rules(tx: Tx) -> bool:
    return tx.one(_ANY_RULES + " LIMIT 1") is not None


def _tracking(tx: Tx) -> int:
    value = tx.scalar("SELECT position FROM notify_tracking WHERE name = ?", (FOLLOWER_NAME,))
    return int(value or 0)


def _insert_many(tx: Tx, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    marks = "(" + ", ".join(["?"] * len(columns)) + ")"
    for i in range(0, len(rows), 500):
        chunk = rows[i : i + 500]
        tx.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([marks] * len(chunk))}",
            [v for row in chunk for v in row],
        )


def _write_namespace(tx: Tx, latest: dict[tuple[str, str, str], tuple[int, str | None]]) -> None:
    """Bring the namespace view to the page's latest record per (target, bucket, key), in
    a few statements: one DELETE + INSERT per key (two round trips each) made the
    follower manage ~200 events/s with five targets on PostgreSQL."""
    removed: dict[tuple[str, str], list[str]] = {}
    upserts: list[tuple[Any, ...]] = []
    for (name, bucket, key), (position, record) in latest.items():
        removed.setdefault((name, bucket), []).append(key)  # the old row goes either way
        if record is not None:
            upserts.append((name, bucket, key, position, record))
    for (name, bucket), keys in removed.items():
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            tx.execute(
                "DELETE FROM notify_namespace_view WHERE target = ? AND bucket = ? AND object_key IN ("
                + ", ".join(["?"] * len(chunk))
                + ")",
                (name, bucket, *chunk),
            )
    if upserts:
        _insert_many(
            tx,
            "notify_namespace_view",
            ("target", "bucket", "object_key", "position", "record"),
            upserts,
        )

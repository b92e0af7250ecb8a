"""The event store: eventsourcing's recorders, extended to apply the namespace projection
inline, in the transaction that appends the events (DESIGN invariant 2), for a whole batch
of concurrent requests at once (group commit), each request isolated by a savepoint so a
failed precondition fails only its own request."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import ParseResult, parse_qs, unquote, urlparse
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import InterfaceError as PersistenceInterfaceError
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.persistence import OperationalError as PersistenceOperationalError
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.pq import TransactionStatus
from psycopg.rows import tuple_row
from psycopg_pool import PoolTimeout

from domain.errors import DomainError
from projections.blobstore import STAGE_DEADLINE
from projections.eventstore.eventsourcing_internals import lock_events_table, notify_events_channel, select_events_once
from projections.eventstore.fast_append import (
    BUCKET_ASSERTION,
    CALL_SQL,
    EVENTS_SCHEMA,
    EVENTS_TABLE,
    FUNCTION,
    AppendBatch,
    is_plain_put,
)
from projections.eventstore.inline import InlineProjections
from projections.eventstore.session_name import session_name
from projections.eventstore.sql import Dialect, PostgresDialect
from projections.eventstore.tx import Tx
from projections.namespace.projection import NULL_VERSION, bulk_null_versions, is_null_version_put

log = logging.getLogger("chronicle.eventstore")

UNDEFINED_FUNCTION = "42883"


@dataclass
class Change:
    """One request's unit of work, committed together with other requests' changes."""

    build: Callable[[], Sequence[Aggregate]]
    check: Callable[[Tx], None] | None = None
    blobs: list[tuple[str, bytes]] = field(default_factory=list)
    results: list[Any] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    error: BaseException | None = None
    conflict: bool = False
    events: list[Any] = field(default_factory=list)
    # False when the check reads nothing but bucket rows (cached per batch): such a change
    # may be checked before earlier changes of its batch are applied.
    check_reads_objects: bool = True
    # build() does no I/O (it only creates new aggregates): run it on the caller's side,
    # off the committer's serial path.
    build_is_pure: bool = False
    # The events build() would record, made without building the aggregates (a pure
    # build's cheaper twin, see domain.created); used on the caller's side.
    new_events: Callable[[], list[Any]] | None = None
    prebuilt: bool = False
    # Set when check asks nothing but that this bucket exists: on PostgreSQL a batch of such
    # PUTs may be appended in one round trip, the bucket verified in SQL under the lock.
    requires_bucket: str | None = None
    # When the oldest blob file this change writes was written: past STAGE_DEADLINE the
    # change is refused, because garbage collection may then reclaim the file (see
    # workers.blob_gc).
    files_written_at: float | None = None

    def reset(self) -> None:
        self.results.clear()
        self.positions.clear()
        self.error = None
        self.conflict = False

    def check_staging_deadline(self) -> None:
        if self.files_written_at is not None and time.time() - self.files_written_at > STAGE_DEADLINE:
            raise StagingExpired()

    @property
    def create_only(self) -> bool:
        """Only first events of randomly-identified aggregates: it cannot collide with
        anything, and changes nothing another change's check reads but object rows."""
        return all(type(e) in CREATE_ONLY_EVENTS for e in self.events)


def _create_only_events() -> frozenset[type]:
    from domain.aggregates import (
        DeleteMarker,
        MultipartUpload,
        ObjectAccess,
        ObjectVersion,
        UploadedPart,
    )

    return frozenset(
        {
            ObjectVersion.Created,
            DeleteMarker.Created,
            UploadedPart.Created,
            MultipartUpload.Created,
            ObjectAccess.Created,
        }
    )


CREATE_ONLY_EVENTS = _create_only_events()


class _InlineProjecting:
    dialect: Dialect
    projection = InlineProjections()
    mapper: Mapper[UUID] | None = None

    def read(self) -> Any:
        """A read-only transaction yielding a cursor (used by query views)."""
        return self.datastore.transaction(commit=False)  # type: ignore[attr-defined]

    @contextmanager
    def snapshot(self) -> Iterator[Any]:
        """A transaction whose every statement sees one moment of the database (garbage
        collection decides from one). SQLite's read transaction already does (WAL: the
        snapshot is taken at its first read); PostgreSQL's default, READ COMMITTED, takes a
        new snapshot per statement, so it is asked for REPEATABLE READ."""
        with self.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
            if self.dialect.name == "postgres":
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield cursor

    def _apply_change(self, tx: Tx, change: Change) -> None:
        assert self.mapper is not None
        if change.check is not None:
            change.check(tx)
        for domain_event in change.events:
            stored = self.mapper.to_stored_event(domain_event)
            position = self._insert_one(tx, stored)
            change.positions.append(position)
            change.results.append(self.projection.apply(tx, position, domain_event))
        for blob_id, data in change.blobs:
            tx.execute("INSERT INTO blob_data (id, data) VALUES (?, ?)", (blob_id, data))

    def _insert_one(self, tx: Tx, stored: Any) -> int:
        raise NotImplementedError

    def _commit(self, cursor: Any, changes: Sequence[Change], tx: Tx | None = None) -> None:
        tx = tx or Tx(cursor, self.dialect, cache={})
        for change in changes:
            cursor.execute("SAVEPOINT chg")
            try:
                self._apply_change(tx, change)
            except Exception as exc:  # noqa: BLE001 - any failure fails only this change
                cursor.execute("ROLLBACK TO SAVEPOINT chg")
                tx.cache.clear()
                change.positions.clear()
                change.results.clear()
                if self.dialect.is_integrity_error(exc):
                    change.conflict = True
                else:
                    change.error = exc
            else:
                cursor.execute("RELEASE SAVEPOINT chg")


class PostgresChronicleRecorder(_InlineProjecting, PostgresApplicationRecorder):
    dialect = PostgresDialect()
    slow_batches = 0  # batches that fell back to change-by-change (should stay rare)
    one_trip_batches = 0  # batches of plain PUTs appended in one round trip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # bucket -> its versioning status as last read under the lock: a hint only.
        self.versioning_hint: dict[str, str] = {}
        # One careful batch at a time: changes of one aggregate that a batch deferred must
        # not race each other from two committer threads (one-round-trip batches hold only
        # new aggregates and may overlap anything).
        self._careful = threading.Lock()

    def select_events(self, *args: Any, **kwargs: Any) -> Any:
        """Aggregates are loaded with one more try on a fresh connection (one that broke
        while idle in the pool: the server restarted), not eventsourcing's ten, each of
        which waited the pool's timeout while the server was out of reach."""
        try:
            return select_events_once(self, *args, **kwargs)
        except (PersistenceOperationalError, PersistenceInterfaceError) as exc:
            if isinstance(exc.__cause__, PoolTimeout):
                raise
            return select_events_once(self, *args, **kwargs)

    def _insert_one(self, tx: Tx, stored: Any) -> int:
        tx.cursor.execute(
            self._insert_sql, (stored.originator_id, stored.originator_version, stored.topic, stored.state)
        )
        return int(tx.cursor.fetchone()["notification_id"])

    @property
    def _insert_sql(self) -> str:
        schema = self.datastore.schema or "public"
        return (
            f'INSERT INTO "{schema}"."{self.events_table_name}" '
            "(originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %s) "
            "RETURNING notification_id"
        )

    def events_page_sql(self) -> str:
        schema = self.datastore.schema or "public"
        return (
            "SELECT notification_id, originator_id, originator_version, topic, state "
            f'FROM "{schema}"."{self.events_table_name}" WHERE notification_id >= ? '
            "ORDER BY notification_id LIMIT ?"
        )

    def first_events_sql(self, count: int) -> str:
        schema = self.datastore.schema or "public"
        marks = ", ".join(["?"] * count)
        return (
            "SELECT notification_id, originator_id, originator_version, topic, state "
            f'FROM "{schema}"."{self.events_table_name}" '
            f"WHERE originator_id IN ({marks}) AND originator_version = 1"
        )

    def originator_param(self, originator_id: UUID) -> Any:
        return originator_id

    def head_sql(self) -> str:
        schema = self.datastore.schema or "public"
        return f'SELECT MAX(notification_id) AS head FROM "{schema}"."{self.events_table_name}"'

    def commit_changes(self, changes: Sequence[Change]) -> None:
        plain = [c for c in changes if is_plain_put(c) and self.versioning_hint.get(c.requires_bucket) == ""]
        if plain and self._append_plain_puts(plain):
            done = {id(c) for c in plain}
            changes = [c for c in changes if id(c) not in done]
        elif plain:
            for change in plain:
                change.reset()
                self.versioning_hint.pop(change.requires_bucket, None)
        if changes:
            with self._careful:
                self._commit_careful(changes)

    def _append_plain_puts(self, changes: Sequence[Change]) -> bool:
        """One statement for a batch of plain PUTs (see projections.eventstore.fast_append). False when
        the batch was not appended (a bucket is missing or versioned): nothing was written."""
        if not self._append_function:
            return False
        batch = AppendBatch(changes, self.mapper)
        with self.datastore.get_connection() as conn:
            try:
                with conn.cursor(row_factory=tuple_row) as cursor:
                    cursor.execute(CALL_SQL, (batch.doc, batch.data, self._lock_timeout), prepare=True)
                    rows = cursor.fetchall()
            except psycopg.Error as exc:
                if conn.broken or conn.closed:
                    # The connection went away: whether the COMMIT landed is unknown, so the
                    # batch fails as a whole rather than being appended a second time.
                    raise
                if exc.sqlstate == UNDEFINED_FUNCTION:
                    log.warning("%s is missing (run `chronicle migrate`): PUTs take the slower path", FUNCTION)
                    self._append_function = False
                elif exc.sqlstate != BUCKET_ASSERTION:
                    log.debug("one-statement append failed; taking the careful path", exc_info=True)
                if conn.info.transaction_status != TransactionStatus.IDLE:
                    conn.execute("ROLLBACK")
                return False
        batch.finish(rows)
        self.one_trip_batches += 1
        return True

    @cached_property
    def _append_function(self) -> bool:
        """The function is written for eventsourcing's default table of this application."""
        return (self.datastore.schema or "public", self.events_table_name) == (EVENTS_SCHEMA, EVENTS_TABLE)

    @cached_property
    def _lock_timeout(self) -> str:
        return f"{self.datastore.lock_timeout}s"

    def _remember_versioning(self, tx: Tx) -> None:
        for key, row in tx.cache.items():
            if isinstance(key, tuple) and key[0] == "bucket":
                if row is None:
                    self.versioning_hint.pop(key[1], None)
                else:
                    self.versioning_hint[key[1]] = row["versioning"]

    def _commit_careful(self, changes: Sequence[Change]) -> None:
        try:
            self._commit_pipelined(changes)
        except Exception as exc:  # noqa: BLE001 - retry the batch the careful way, change by change
            if isinstance(exc.__cause__, PoolTimeout):
                raise  # no connection came within the pool's wait: a retry would wait as long
            log.debug("pipelined commit failed; retrying change by change", exc_info=True)
            self.slow_batches += 1
            for change in changes:
                change.reset()
            with self.datastore.transaction(commit=True) as cursor:
                lock_events_table(self, cursor)
                self._commit(cursor, changes)
                notify_events_channel(self, cursor)

    def _commit_pipelined(self, changes: Sequence[Change]) -> None:
        """The fast path: one transaction in psycopg pipeline mode. Create-only changes are
        appended together with one multi-row INSERT and their projection writes are
        pipelined; a change that may collide, or whose check reads objects, first flushes
        what is pending and then runs alone under a savepoint."""
        with self.datastore.get_connection() as conn:
            with conn.pipeline() as pipeline, conn.transaction():
                cursor = conn.cursor()
                # Serialises appends across nodes (ids visible in commit order) and makes
                # the preconditions checked below atomic with the append.
                lock_events_table(self, cursor)
                tx = Tx(cursor, self.dialect, cache={})
                pending: list[Change] = []
                for change in changes:
                    heavy = not change.create_only
                    if pending and (heavy or change.check_reads_objects):
                        self._flush(tx, pending)
                        pending = []
                    if heavy:
                        self._commit(cursor, [change], tx=tx)
                        pipeline.sync()
                        continue
                    try:
                        if change.check is not None:
                            change.check(tx)
                    except Exception as exc:  # noqa: BLE001 - a failed check writes nothing
                        change.error = exc
                        continue
                    pending.append(change)
                if pending:
                    self._flush(tx, pending)
                notify_events_channel(self, cursor)
            # Committed: the bucket rows read under the lock tell which buckets' plain PUTs
            # may take the one-round-trip path next time (it verifies that itself).
            self._remember_versioning(tx)

    def _flush(self, tx: Tx, pending: list[Change]) -> None:
        assert self.mapper is not None
        stored = [self.mapper.to_stored_event(e) for c in pending for e in c.events]
        if stored:
            schema = self.datastore.schema or "public"
            values = ", ".join(["(%s, %s, %s, %s)"] * len(stored))
            params: list[Any] = []
            for s in stored:
                params.extend((s.originator_id, s.originator_version, s.topic, s.state))
            tx.cursor.execute(
                f'INSERT INTO "{schema}"."{self.events_table_name}" '
                f"(originator_id, originator_version, topic, state) VALUES {values} "
                "RETURNING notification_id",
                params,
            )
            positions = [int(r["notification_id"]) for r in tx.cursor.fetchall()]
        else:
            positions = []
        i = 0
        blobs: list[tuple[str, bytes]] = []
        bulk: list[tuple[int, Any]] = []
        for change in pending:
            for domain_event in change.events:
                position = positions[i]
                i += 1
                change.positions.append(position)
                # Plain PUTs into never-versioned buckets are applied with one statement per
                # flush; anything else is applied in order after them.
                if is_null_version_put(tx, domain_event):
                    bulk.append((position, domain_event))
                    change.results.append(NULL_VERSION)
                    continue
                if bulk:
                    bulk_null_versions(tx, bulk)
                    bulk = []
                change.results.append(self.projection.apply(tx, position, domain_event))
            blobs.extend(change.blobs)
        if bulk:
            bulk_null_versions(tx, bulk)
        if blobs:
            values = ", ".join(["(%s, %s)"] * len(blobs))
            tx.cursor.execute(f"INSERT INTO blob_data (id, data) VALUES {values}", [v for b in blobs for v in b])


class SQLiteChronicleRecorder(_InlineProjecting, SQLiteApplicationRecorder):
    dialect = Dialect()

    def _insert_one(self, tx: Tx, stored: Any) -> int:
        originator_id = stored.originator_id
        tx.cursor.execute(
            self.insert_events_statement,
            (
                originator_id.hex if isinstance(originator_id, UUID) else originator_id,
                stored.originator_version,
                stored.topic,
                stored.state,
            ),
        )
        return int(tx.cursor.lastrowid)

    def events_page_sql(self) -> str:
        return (
            "SELECT rowid AS notification_id, originator_id, originator_version, topic, state "
            f"FROM {self.events_table_name} WHERE rowid >= ? ORDER BY rowid LIMIT ?"
        )

    def first_events_sql(self, count: int) -> str:
        marks = ", ".join(["?"] * count)
        return (
            "SELECT rowid AS notification_id, originator_id, originator_version, topic, state "
            f"FROM {self.events_table_name} WHERE originator_id IN ({marks}) AND originator_version = 1"
        )

    def originator_param(self, originator_id: UUID) -> Any:
        return originator_id.hex

    def head_sql(self) -> str:
        return f"SELECT MAX(rowid) AS head FROM {self.events_table_name}"

    def commit_changes(self, changes: Sequence[Change]) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            self._commit(cursor, changes)


class ChronicleApplication(Application[UUID]):
    name = "chronicle"
    is_snapshotting_enabled = False

    @property
    def store(self) -> PostgresChronicleRecorder | SQLiteChronicleRecorder:
        recorder = self.recorder
        assert isinstance(recorder, (PostgresChronicleRecorder, SQLiteChronicleRecorder))
        return recorder

    def decode_row(self, row: Mapping[str, Any]) -> Any:
        """The domain event of an events-table row (as events_page_sql selects it)."""
        originator_id = row["originator_id"]
        stored = StoredEvent(
            originator_id=self.store.convert_originator_id(originator_id)
            if isinstance(originator_id, str)
            else originator_id,
            originator_version=row["originator_version"],
            topic=row["topic"],
            state=bytes(row["state"]),
        )
        assert self.mapper is not None
        return self.mapper.to_domain_event(stored)


def store_environment(database_url: str | None, data_dir: Path, *, create_table: bool) -> dict[str, str]:
    """eventsourcing settings for our two deployments: PostgreSQL, or SQLite in the data dir."""
    env = {"CREATE_TABLE": "y" if create_table else "n"}
    if database_url:
        u = urlparse(database_url)
        if u.scheme not in ("postgres", "postgresql", "postgresql+psycopg"):
            raise ValueError(f"CHRONICLE_DATABASE_URL must be postgresql://..., got {u.scheme}://")
        host, port = _url_host_port(u)
        env.update(
            PERSISTENCE_MODULE="projections.eventstore.recorder:PostgresStoreFactory",
            APPLICATION_RECORDER_TOPIC="projections.eventstore.recorder:PostgresChronicleRecorder",
            POSTGRES_DBNAME=unquote(u.path.lstrip("/")) or "chronicle",
            POSTGRES_HOST=host,
            POSTGRES_PORT=port,
            POSTGRES_USER=unquote(u.username or "postgres"),
            POSTGRES_PASSWORD=unquote(u.password or ""),
            # Kept connections, and extra ones opened under load and closed after use: many
            # nodes (and test servers) share one PostgreSQL's max_connections.
            POSTGRES_POOL_SIZE=os.environ.get("CHRONICLE_PG_POOL_SIZE", "4"),
            POSTGRES_MAX_OVERFLOW=os.environ.get("CHRONICLE_PG_MAX_OVERFLOW", "12"),
            POSTGRES_CONN_MAX_AGE="",
            # How long a request waits for a pooled connection (all busy, or the server
            # out of reach) before it is answered 503 SlowDown.
            POSTGRES_CONNECT_TIMEOUT=os.environ.get("CHRONICLE_PG_POOL_TIMEOUT", "5"),
        )
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        env.update(
            PERSISTENCE_MODULE="eventsourcing.sqlite",
            APPLICATION_RECORDER_TOPIC="projections.eventstore.recorder:SQLiteChronicleRecorder",
            SQLITE_DBNAME=str(data_dir / "chronicle.sqlite3"),
            SQLITE_LOCK_TIMEOUT="30",
        )
    return env


def _url_host_port(u: ParseResult) -> tuple[str, str]:
    """Host and port of a libpq connection URI, including its two spellings of a Unix-socket
    directory: `postgresql:///db?host=/var/run/postgresql` and a percent-encoded host,
    `postgresql://%2Fvar%2Frun%2Fpostgresql/db` (the socket saves PostgreSQL and us the TCP
    loopback on every statement when both run on one host)."""
    query = parse_qs(u.query)
    host = query.get("host", [""])[0]
    if not host:
        netloc_host = u.netloc.rpartition("@")[2]
        if netloc_host.startswith("%2F") or netloc_host.startswith("%2f"):
            host = unquote(netloc_host.split(":", 1)[0])
        else:
            host = u.hostname or "127.0.0.1"
    port = query.get("port", [""])[0] or (str(u.port) if u.port else "") or "5432"
    return host, port


class PostgresStoreFactory(PostgresFactory):
    """eventsourcing's PostgreSQL factory, its pool set up before the first session opens:
    sessions named in pg_stat_activity, a bounded connect time, and short reconnection
    attempts."""

    SESSION_NAME = "POSTGRES_SESSION_NAME"
    # While the server is out of reach the pool retries a connection with a backoff that
    # doubles for this long, then gives up until a request asks again: with the default
    # (5 min) it kept requests waiting a minute or more after the server was back.
    RECONNECT_TIMEOUT = 4.0

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        pool = self.datastore.pool
        name = self.env.get(self.SESSION_NAME) or "chronicle"
        pool.kwargs = {**(pool.kwargs or {}), "fallback_application_name": name, "connect_timeout": 5}
        pool.reconnect_timeout = self.RECONNECT_TIMEOUT


def pg_url_kwargs(database_url: str) -> dict[str, Any]:
    """psycopg.connect() keyword arguments for CHRONICLE_DATABASE_URL (before a store is open)."""
    env = store_environment(database_url, Path(), create_table=False)
    return {
        "dbname": env["POSTGRES_DBNAME"],
        "host": env["POSTGRES_HOST"],
        "port": env["POSTGRES_PORT"],
        "user": env["POSTGRES_USER"],
        "password": env["POSTGRES_PASSWORD"],
    }


def open_store(
    database_url: str | None, data_dir: Path, *, create_table: bool, application_name: str | None = None
) -> ChronicleApplication:
    """Open the event store. With create_table, the event table is created by eventsourcing
    and the projection tables by the Alembic migrations. On PostgreSQL every session the
    store opens (its pool, and the connections of one's own from pg_connect_kwargs) shows
    application_name in pg_stat_activity, unless PGAPPNAME names it otherwise."""
    env = store_environment(database_url, data_dir, create_table=create_table)
    if database_url:
        env[PostgresStoreFactory.SESSION_NAME] = application_name or session_name("cli")
    app = ChronicleApplication(env=env)
    app.store.mapper = app.mapper
    if create_table:
        from projections.eventstore.migrate import upgrade

        upgrade(database_url, Path(env.get("SQLITE_DBNAME", "")))
    return app


class PreconditionFailed(DomainError):
    pass


class StagingExpired(DomainError):
    """The request's bytes were written too long before its commit (see Change)."""

    def __init__(self) -> None:
        super().__init__("ServiceUnavailable", "The upload took too long to be recorded; please retry it.")


def pg_connect_kwargs(app: ChronicleApplication) -> dict[str, Any]:
    """psycopg.connect() keyword arguments for a connection of one's own (the store's pool
    settings, read at each call: the password may come from a callback)."""
    pool = app.store.datastore.pool  # type: ignore[union-attr]
    return {k: v for k, v in (pool.kwargs or {}).items() if k not in ("row_factory", "connect_timeout")}

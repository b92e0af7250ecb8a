"""The event store: eventsourcing's recorders, extended to apply the namespace projection
inline, in the transaction that appends the events (DESIGN invariant 2), for a whole batch
of concurrent requests at once (group commit), each request isolated by a savepoint so a
failed precondition fails only its own request."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, cast
from urllib.parse import ParseResult, parse_qs, unquote, urlparse
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import InterfaceError as PersistenceInterfaceError
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.persistence import OperationalError as PersistenceOperationalError
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg_pool import PoolTimeout

from domain.write_plan import WritePlan
from projections.eventstore import fast_path
from projections.eventstore.eventsourcing_internals import lock_events_table, notify_events_channel, select_events_once
from projections.eventstore.fast_append import EVENTS_SCHEMA, EVENTS_TABLE
from projections.eventstore.inline import InlineProjections
from projections.eventstore.preconditions import verify
from projections.eventstore.session_name import session_name
from projections.eventstore.sql import Dialect, PostgresDialect
from projections.eventstore.tx import Tx

log = logging.getLogger("chronicle.eventstore")


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

    def apply_in_savepoints(self, cursor: Any, plans: Sequence[WritePlan], tx: Tx | None = None) -> None:
        """The careful way: each plan under its own savepoint, its preconditions verified,
        then its events inserted and projected one by one. A failure fails only its plan."""
        tx = tx or Tx(cursor, self.dialect, cache={})
        for plan in plans:
            cursor.execute("SAVEPOINT chg")
            try:
                self._apply_plan(tx, plan)
            except Exception as exc:  # noqa: BLE001 - any failure fails only this plan
                cursor.execute("ROLLBACK TO SAVEPOINT chg")
                tx.cache.clear()
                plan.positions.clear()
                plan.results.clear()
                if self.dialect.is_integrity_error(exc):
                    plan.conflict = True
                else:
                    plan.error = exc
            else:
                cursor.execute("RELEASE SAVEPOINT chg")

    def _apply_plan(self, tx: Tx, plan: WritePlan) -> None:
        assert self.mapper is not None
        verify(tx, plan.preconditions)
        for domain_event in plan.events:
            stored = self.mapper.to_stored_event(domain_event)
            position = self._insert_one(tx, stored)
            plan.positions.append(position)
            plan.results.append(self.projection.apply(tx, position, domain_event))
        for blob_id, data in plan.blobs:
            tx.execute("INSERT INTO blob_data (id, data) VALUES (?, ?)", (blob_id, data))

    def _insert_one(self, tx: Tx, stored: Any) -> int:
        raise NotImplementedError


class PostgresChronicleRecorder(_InlineProjecting, PostgresApplicationRecorder):
    dialect = PostgresDialect()
    slow_batches = 0  # pipelined batches that fell back to plan by plan (should stay rare)
    one_trip_batches = 0  # batches of plain PUTs appended in one round trip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Set by open_store from the settings (see projections.eventstore.fast_path).
        self.fast_path = True
        # bucket -> its versioning status as last read under the lock: a hint only.
        self.versioning_hint: dict[str, str] = {}
        # One careful batch at a time: changes of one aggregate that a batch deferred must
        # not race each other from two committer threads (one-round-trip batches hold only
        # new aggregates and may overlap anything).
        self.careful_lock = threading.Lock()

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

    def append(self, plans: Sequence[WritePlan]) -> None:
        """Append a batch of write plans: each is recorded, or refused with its own error
        (plan.error) or version conflict (plan.conflict)."""
        if self.fast_path:
            fast_path.append(self, plans)
        else:
            with self.careful_lock:
                self.append_carefully(plans)

    def append_carefully(self, plans: Sequence[WritePlan]) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            lock_events_table(self, cursor)
            self.apply_in_savepoints(cursor, plans)
            notify_events_channel(self, cursor)

    @staticmethod
    def is_pool_timeout(exc: BaseException) -> bool:
        return isinstance(exc.__cause__, PoolTimeout)

    @cached_property
    def _append_function(self) -> bool:
        """The one-statement append is written for eventsourcing's default table of this
        application (see projections.eventstore.fast_append)."""
        return (self.datastore.schema or "public", self.events_table_name) == (EVENTS_SCHEMA, EVENTS_TABLE)

    @cached_property
    def lock_timeout(self) -> str:
        return f"{self.datastore.lock_timeout}s"

    @cached_property
    def events_table_sql(self) -> str:
        return f'"{self.datastore.schema or "public"}"."{self.events_table_name}"'


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

    def append(self, plans: Sequence[WritePlan]) -> None:
        """Append a batch of write plans (see PostgresChronicleRecorder.append)."""
        with self.datastore.transaction(commit=True) as cursor:
            self.apply_in_savepoints(cursor, plans)


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
            originator_id=cast(Any, self.store).convert_originator_id(originator_id)
            if isinstance(originator_id, str)
            else originator_id,
            originator_version=row["originator_version"],
            topic=row["topic"],
            state=bytes(row["state"]),
        )
        assert self.mapper is not None
        return self.mapper.to_domain_event(stored)


@dataclass(frozen=True)
class StoreOptions:
    """How the store uses PostgreSQL, from the settings (cli.settings): connections kept and
    opened under load per process, how long a request waits for one, and the fast path."""

    pool_size: int = 4
    max_overflow: int = 12
    pool_timeout: float = 5.0
    fast_path: bool = True


def store_environment(
    database_url: str | None, data_dir: Path, *, create_table: bool, options: StoreOptions = StoreOptions()
) -> dict[str, str]:
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
            POSTGRES_POOL_SIZE=str(options.pool_size),
            POSTGRES_MAX_OVERFLOW=str(options.max_overflow),
            POSTGRES_CONN_MAX_AGE="",
            # How long a request waits for a pooled connection (all busy, or the server
            # out of reach) before it is answered 503 SlowDown.
            POSTGRES_CONNECT_TIMEOUT=f"{options.pool_timeout:g}",
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
        pool = cast(Any, self.datastore.pool)  # eventsourcing types kwargs loosely (dict or callable)
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
    database_url: str | None,
    data_dir: Path,
    *,
    create_table: bool,
    application_name: str | None = None,
    options: StoreOptions = StoreOptions(),
) -> ChronicleApplication:
    """Open the event store. With create_table, the event table is created by eventsourcing
    and the projection tables by the Alembic migrations. On PostgreSQL every session the
    store opens (its pool, and the connections of one's own from pg_connect_kwargs) shows
    application_name in pg_stat_activity, unless PGAPPNAME names it otherwise."""
    env = store_environment(database_url, data_dir, create_table=create_table, options=options)
    if database_url:
        env[PostgresStoreFactory.SESSION_NAME] = application_name or session_name("cli")
    app = ChronicleApplication(env=env)
    app.store.mapper = app.mapper
    if isinstance(app.store, PostgresChronicleRecorder):
        app.store.fast_path = options.fast_path
    if create_table:
        from projections.eventstore.migrate import upgrade  # noqa: PLC0415 - Alembic loads only to create tables

        upgrade(database_url, Path(env.get("SQLITE_DBNAME", "")))
    return app


def pg_connect_kwargs(app: ChronicleApplication) -> dict[str, Any]:
    """psycopg.connect() keyword arguments for a connection of one's own (the store's pool
    settings, read at each call: the password may come from a callback)."""
    pool = cast(Any, app.store.datastore).pool  # PostgreSQL only: its psycopg pool
    return {k: v for k, v in (pool.kwargs or {}).items() if k not in ("row_factory", "connect_timeout")}

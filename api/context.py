"""Everything a handler may use: the event store, the committer, the blob store, settings."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any, TypeVar

import anyio
import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from api.auth.identity import IdentityStore
from api.auth.policy_cache import PolicyCache
from api.auth.sealing import Sealer
from api.errors import S3Error
from api.notify.subscriptions import Subscriptions
from api.notify.targets import TargetDirectory, TargetRegistry
from domain.preconditions import Refused
from domain.write_plan import WritePlan
from projections.blobstore import BlobStore
from projections.eventstore.committer import GroupCommitter
from projections.eventstore.deployment import KEY_CHECK_SETTING, deployment_id_for
from projections.eventstore.loop_append import LoopAppender
from projections.eventstore.pg_async import AsyncReads
from projections.eventstore.recorder import ChronicleApplication, pg_connect_kwargs
from projections.eventstore.tx import Tx

T = TypeVar("T")


class ReadConnections:
    """PostgreSQL connections for single-statement reads, in autocommit mode: a read is
    one round trip (no BEGIN / ROLLBACK), and taking a connection is a list pop (no pool
    bookkeeping). Opened on demand, so there are never more than the concurrent readers
    (bounded by the readers' limiter); a connection that broke is dropped, and the read is
    tried once more on a fresh one."""

    def __init__(self, connect_kwargs: Callable[[], dict[str, Any]]) -> None:
        self._kwargs = connect_kwargs
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False

    def _connect(self) -> Any:
        kwargs = dict(self._kwargs(), autocommit=True, row_factory=dict_row)
        kwargs.setdefault("connect_timeout", 5)
        return psycopg.connect(**kwargs)

    def run(self, fn: Callable[[Any], T]) -> T:
        for attempt in (0, 1):
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                conn = self._connect()
            try:
                with conn.cursor() as cursor:
                    result = fn(cursor)
            except psycopg.OperationalError:
                if conn.broken or conn.closed:
                    conn.close()
                    if attempt == 0:
                        continue  # a stale connection (server restarted): once more, fresh
                else:
                    self._give_back(conn)
                raise
            except BaseException:
                if conn.broken or conn.closed:
                    conn.close()
                else:
                    self._give_back(conn)
                raise
            self._give_back(conn)
            return result
        raise AssertionError("unreachable")

    def _give_back(self, conn: Any) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _conninfo(kwargs: dict[str, Any]) -> str:
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    kwargs.setdefault("connect_timeout", 5)
    return make_conninfo("", **kwargs, client_encoding="utf8")


def s3_error(err: Refused) -> S3Error:
    return S3Error(err.code, err.message, status=err.status, resource=err.resource, extra=err.extra)


@dataclass
class Settings:
    root_user: str
    root_password: str
    region: str = "us-east-1"
    domain: str | None = None
    max_header_bytes: int = 8 * 1024
    # Read from the environment once by the composition root (cli.settings), which
    # documents each; the defaults here are the same.
    body_timeout: float = 20.0  # seconds a request or response body may stall
    min_part_size: int = 5 * 1024 * 1024  # smallest multipart part but the last
    prometheus_public: bool = False  # the metrics endpoint without a token
    commit_threads: int = 2  # group committers (PostgreSQL)
    append_connections: int = 1  # batches of plain PUTs in flight (PostgreSQL)
    audit_requests: str = "off"  # off | on | bucket,bucket: requests recorded in the request audit
    fast_path: bool = True  # CHRONICLE_FAST_PATH: off builds every new version through its aggregate too
    history_retention: float = 7 * 86400.0  # CHRONICLE_HISTORY_RETENTION: buckets without a window of their own
    extra: dict[str, Any] = field(default_factory=dict)


class ServerContext:
    def __init__(
        self,
        store: ChronicleApplication,
        blobs: BlobStore,
        settings: Settings,
        master_key: bytes,
        clock: Callable[[], float] = time.time,
        targets: Any = None,
    ) -> None:
        self.started_monotonic = time.monotonic()  # the server's start, for its uptime
        self.store = store
        self.blobs = blobs
        self.settings = settings
        self.sealer = Sealer(master_key)
        self.clock = clock
        # The notification targets in effect: a TargetDirectory that follows configuration
        # changes (the server's), or a fixed TargetRegistry.
        if isinstance(targets, TargetDirectory):
            self.notify = targets
        else:
            self.notify = TargetDirectory()
            if isinstance(targets, TargetRegistry):
                self.notify._registry = targets
        self.delivery: Any = None  # the notification delivery supervisor, when this process runs one
        postgres = store.store.dialect.name == "postgres"
        # Two committers on PostgreSQL overlap one batch's commit with the next one's send.
        threads = settings.commit_threads if postgres else 1
        self.committer = GroupCommitter(store, threads=max(1, threads))
        if postgres and store.store.fast_path:  # type: ignore[union-attr]
            self.committer.appender = LoopAppender(
                store.store,
                lambda: _conninfo(pg_connect_kwargs(store)),
                hooks=self.committer.on_commit,
                # One batch in flight per process: PUTs arriving meanwhile make the next
                # batch larger, and a batch costs PostgreSQL ~270 us whatever its size
                # (~60 us more per PUT); with two, batches halved and every PUT cost more.
                connections=settings.append_connections,
            )
        self.subscriptions = Subscriptions(self)
        self.subscriptions.attach(self.committer)
        # Readers' threads (at most 32 reads and file reads at a time, as before).
        self.readers = ThreadPoolExecutor(max_workers=32, thread_name_prefix="chronicle-read")
        self._reads: ReadConnections | None = None
        self._areads: AsyncReads | None = None
        if store.store.dialect.name == "postgres":
            self._reads = ReadConnections(lambda: pg_connect_kwargs(store))
            self._areads = AsyncReads(lambda: _conninfo(pg_connect_kwargs(store)))
        self.identities = IdentityStore(self)
        self.policies = PolicyCache()

    @property
    def targets(self) -> Any:
        """The last known TargetRegistry (no database access): see current_targets."""
        return self.notify.registry

    async def current_targets(self) -> Any:
        """The TargetRegistry in effect, rebuilt first if the target configuration changed
        (checked at most once a second, and at once after a change made here)."""
        if self.notify.due():
            await self.read(self.notify.refresh)
        return self.notify.registry

    @cached_property
    def deployment_id(self) -> str:
        # The master key never changes in a running process; deriving the id costs an HMAC
        # and a UUID, which the request audit would otherwise pay on every request.
        return deployment_id_for(self.sealer.check_value())

    def check_master_key(self) -> None:
        """Record the key's check value on first start; refuse a different key afterwards."""
        value = self.sealer.check_value()
        with self.store.store.datastore.transaction(commit=True) as cursor:
            tx = Tx(cursor, self.store.store.dialect)
            stored = tx.scalar("SELECT value FROM chronicle_settings WHERE name = ?", (KEY_CHECK_SETTING,))
            if stored is None:
                tx.execute(
                    "INSERT INTO chronicle_settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                    (KEY_CHECK_SETTING, value),
                )
            elif stored != value:
                raise SystemExit(
                    "CHRONICLE_MASTER_KEY does not match the key this database was set up with: "
                    "start every node with the same key."
                )

    def read_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self.store.store.read() as cursor:
            return fn(Tx(cursor, self.store.store.dialect), *args, **kwargs)

    def query_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Like read_sync, for views that need no snapshot shared between statements (one
        statement, or statements that tolerate a commit in between): on PostgreSQL each
        statement runs on its own on an autocommit connection, sparing the BEGIN and
        ROLLBACK round trips of a read-only transaction."""
        if self._reads is None:
            return self.read_sync(fn, *args, **kwargs)
        dialect = self.store.store.dialect
        return self._reads.run(lambda cursor: fn(Tx(cursor, dialect), *args, **kwargs))

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a query view off the event loop, in a read-only transaction."""
        return await self._offload(partial(self.read_sync, fn, *args, **kwargs))

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run fn in a transaction that commits, off the event loop: for state that is not
        in the log (listen API subscribers), never for anything a projection derives."""

        def run() -> T:
            store = self.store.store
            with store.datastore.transaction(commit=True) as cursor:
                return fn(Tx(cursor, store.dialect), *args, **kwargs)

        # anyio waits for the thread even when the request is cancelled: the caller's
        # cleanup never runs before this write has landed.
        return await anyio.to_thread.run_sync(run)

    async def query(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """query_sync off the event loop: for views that need no shared snapshot."""
        return await self._offload(partial(self.query_sync, fn, *args, **kwargs))

    async def fetch_one(self, statement: str, params: tuple[Any, ...] = ()) -> dict[str, Any] | None:
        """One statement's first row, for views that need no snapshot shared with another
        statement: on PostgreSQL straight from the event loop (projections.eventstore.pg_async, no
        worker thread), on SQLite through query()."""
        if self._areads is not None:
            return await self._areads.one(statement, params)
        return await self.query(lambda tx: tx.one(statement, params))

    async def run_sync(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking work (reads, file I/O) off the event loop, on the readers' threads."""
        return await self._offload(partial(fn, *args))

    async def _offload(self, call: Callable[[], T]) -> T:
        # A plain executor hop: anyio's to_thread (limiter, cancel scopes, backend lookup)
        # cost about a quarter of the event loop's time on a 1 MiB GET. Work here only
        # reads, so a cancelled request may leave its thread to finish alone.
        return await asyncio.get_running_loop().run_in_executor(self.readers, call)

    async def submit(self, plan: WritePlan) -> WritePlan:
        """Append a write plan (group-committed); a precondition that did not hold is raised
        as the S3 error it names (the one place the api layer maps them)."""
        try:
            return await self.committer.submit(plan)
        except Refused as err:
            raise s3_error(err) from None

    def submit_sync(self, plan: WritePlan) -> WritePlan:
        """submit() from a thread outside the event loop."""
        try:
            return self.committer.submit_sync(plan)
        except Refused as err:
            raise s3_error(err) from None

    def close(self) -> None:
        if self._areads is not None:
            self._areads.close()
        if self.committer.appender is not None:
            self.committer.appender.close()
        if self._reads is not None:
            self._reads.close()
        self.committer.close()
        self.readers.shutdown(wait=False, cancel_futures=True)
        self.store.close()

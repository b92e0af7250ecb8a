"""A view that follows the log off the request path, a page at a time.

One follower of a kind is active per deployment: on PostgreSQL it holds a session advisory
lock (its key names the kind) on a connection of its own, and a standby asks again every few
seconds; on SQLite the one server process follows. Each step runs in one transaction, so a
page is applied whole or not at all. The loop steps while there is work, then waits for a
wake-up or POLL seconds. On PostgreSQL the leader LISTENs, on its own connection, to the
channel the event store NOTIFYs on every append (any process, any node), so it wakes as soon
as events commit; on SQLite this process's commits wake it (`wake`). POLL stays the fallback.

Why not eventsourcing's ProjectionRunner / TrackingRecorder (9.5): the runner subscribes one
application instance per projection and processes event by event, each in its own tracked
transaction; it elects no leader among nodes (a second node's duplicate tracking insert fails
rather than standing by) and runs only where the subscription exists (PostgreSQL's
LISTEN/NOTIFY or POPO, not our SQLite store). The followers here need one active leader per
deployment, a page of thousands of events per transaction (the audit index and the chain keep
up with the group committer only in pages), and the embedded SQLite mode.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from projections.eventstore.recorder import ChronicleApplication, PostgresChronicleRecorder, pg_connect_kwargs
from projections.eventstore.tx import Tx
from projections.eventstore.unavailable import STORE_OUTAGE, is_unavailable

POLL = 0.25
STANDBY_RETRY = 2.0  # seconds between a standby's tries for the lock


class LogFollower:
    """Subclasses give `lock_key` and `apply(tx) -> int` (the events handled, 0 when caught up).

    `linger`: seconds a follower waits after a wake-up before it reads, so that under a stream
    of small commits it reads one page of many events instead of a page per commit (each
    page costs a transaction, a read of the log and the decoding of every event in it, in the
    serving process). Followers nobody waits on linger; the audit index feeds the event
    stream's subscribers, so it does not."""

    lock_key: int = 0
    name = "follower"
    linger: float = 0.0

    def __init__(self, app: ChronicleApplication) -> None:
        self.app = app
        self.wake = threading.Event()
        self.log = logging.getLogger(f"chronicle.{self.name}")
        self._conn: Any = None
        self._holding = False
        self._retry_at = 0.0

    def apply(self, tx: Tx) -> int:
        raise NotImplementedError

    def after(self, tx_factory: Any) -> None:
        """Work after a step's commit (e.g. publishing); `tx_factory()` opens a transaction."""

    def step(self) -> int:
        store = self.app.store
        if isinstance(store, PostgresChronicleRecorder):
            conn = self._leader_connection()
            if conn is None:
                return 0
            with conn.transaction():
                done = self.apply(Tx(conn.cursor(), store.dialect))
            self.after(lambda: _pg_transaction(conn, store))
            return done
        with store.datastore.transaction(commit=True) as cursor:
            done = self.apply(Tx(cursor, store.dialect))
        self.after(lambda: _sqlite_transaction(store))
        return done

    def run_until_caught_up(self) -> int:
        total = 0
        while n := self.step():
            total += n
        return total

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                done = self.step()
                STORE_OUTAGE.succeeded()
            except Exception as exc:  # noqa: BLE001 - a follower must outlive a failing step
                if is_unavailable(exc):
                    STORE_OUTAGE.failed(exc)
                else:
                    self.log.exception("%s step failed", self.name)
                self.close()
                done = 0
                stop.wait(1.0)
            if done:
                continue
            self._wait_for_appends()
            if self.linger:
                stop.wait(self.linger)
        self.close()

    def _wait_for_appends(self) -> None:
        conn = self._conn
        if conn is not None and self._holding and not self.wake.is_set():
            try:
                # Returns at the first NOTIFY, including those that came during the step
                # (psycopg keeps them), so an append during a step is never missed.
                for _ in conn.notifies(timeout=POLL, stop_after=1):
                    pass
            except Exception:  # noqa: BLE001 - a broken connection: the next step reconnects
                self.close()
        else:
            self.wake.wait(POLL)
        self.wake.clear()

    def _leader_connection(self) -> Any:
        """The connection holding this follower's lock, or None while another process
        holds it (asked again at most every STANDBY_RETRY seconds, on the same connection)."""
        conn = self._conn
        if conn is not None and (conn.closed or conn.broken):
            self.close()
            conn = None
        if conn is not None and self._holding:
            return conn
        now = time.monotonic()
        if now < self._retry_at:
            return None
        self._retry_at = now + STANDBY_RETRY
        if conn is None:
            conn = self._conn = psycopg.connect(
                **pg_connect_kwargs(self.app), autocommit=True, row_factory=dict_row, connect_timeout=5
            )
        got = conn.execute("SELECT pg_try_advisory_lock(%s) AS got", (self.lock_key,)).fetchone()
        self._holding = bool(got and got["got"])
        if self._holding:
            # A follower's page is derived from the log and recorded with its tracking row in
            # one transaction: if a crash loses a commit that was not yet flushed, the page and
            # its position are lost together and the page is applied again, identically. So its
            # commits need not wait for the WAL flush (which was most of a page's time under a
            # stream of writes, and what the event stream's latency waited on).
            conn.execute("SET synchronous_commit = off")
        channel = getattr(self.app.store, "channel_name", "")
        if self._holding and channel:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        return conn if self._holding else None

    def close(self) -> None:
        conn, self._conn = self._conn, None
        self._holding = False
        if conn is not None:
            try:
                conn.close()  # the session's advisory lock goes with it
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass


class _pg_transaction:  # noqa: N801 - used as a context manager factory
    def __init__(self, conn: Any, store: Any) -> None:
        self.conn, self.store = conn, store

    def __enter__(self) -> Tx:
        self._tx = self.conn.transaction()
        self._tx.__enter__()
        return Tx(self.conn.cursor(), self.store.dialect)

    def __exit__(self, *exc: Any) -> Any:
        return self._tx.__exit__(*exc)


class _sqlite_transaction:  # noqa: N801 - used as a context manager factory
    def __init__(self, store: Any) -> None:
        self.store = store

    def __enter__(self) -> Tx:
        self._cm = self.store.datastore.transaction(commit=True)
        return Tx(self._cm.__enter__(), self.store.dialect)

    def __exit__(self, *exc: Any) -> Any:
        return self._cm.__exit__(*exc)

"""Links every event into the hash chain, signs checkpoints of its head and publishes them.

One linker is active per deployment (PostgreSQL: a session advisory lock, as the
notification follower holds one; SQLite: the one server process). It reads the events after
the last link in pages and writes their links in one transaction per page, so a page is
linked whole or not at all. Off the request path: appends never wait for it. It looks for
new events at least every POLL seconds and at once when this process commits, so an event is
linked well within a second of its commit (bench.history measures the lag).

A checkpoint is signed at least every SIGN_EVERY_EVENTS events and every SIGN_EVERY_SECONDS
seconds while events arrive: a page stops at the position where a checkpoint is due.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.rows import dict_row

from domain.chain import GENESIS, Checkpoint, link
from projections.chain import store as chain
from projections.chain.keys import SigningKey
from projections.eventstore.recorder import ChronicleApplication, PostgresChronicleRecorder, pg_connect_kwargs
from projections.eventstore.tx import Tx
from projections.eventstore.unavailable import STORE_OUTAGE, is_unavailable

log = logging.getLogger("chronicle.chain")

PAGE = 5000
POLL = 0.25
STANDBY_RETRY = 2.0  # seconds between a standby's tries for the linker lock
SIGN_EVERY_EVENTS = 10_000
SIGN_EVERY_SECONDS = 60.0
_LINKER_LOCK = 0x6368726F6E636861  # "chroncha": one active linker across processes

Publish = Callable[[Checkpoint], None]


class ChainLinker:
    def __init__(
        self,
        app: ChronicleApplication,
        key: SigningKey | None,
        *,
        publish: Publish | None = None,
        page: int = PAGE,
        sign_every_events: int = SIGN_EVERY_EVENTS,
        sign_every_seconds: float = SIGN_EVERY_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.key = key
        self.publish = publish
        self.page = page
        self.sign_every_events = sign_every_events
        self.sign_every_seconds = sign_every_seconds
        self.clock = clock
        self.wake = threading.Event()
        self._conn: Any = None
        self._holding = False
        self._retry_at = 0.0
        self._publish_failing = False

    # -- one step -----------------------------------------------------------------------------

    def step(self) -> int:
        """Link at most one page; sign a checkpoint when one is due; publish what is not yet
        published. Returns how many events were linked (0: caught up, or another process
        links)."""
        if isinstance(self.app.store, PostgresChronicleRecorder):
            conn = self._leader_connection()
            if conn is None:
                return 0
            with conn.transaction():
                linked = self._link_page(Tx(conn.cursor(), self.app.store.dialect))
            if self.publish is not None:
                with conn.transaction():
                    self._publish_pending(Tx(conn.cursor(), self.app.store.dialect))
            return linked
        with self.app.store.datastore.transaction(commit=True) as cursor:
            linked = self._link_page(Tx(cursor, self.app.store.dialect))
        if self.publish is not None:
            with self.app.store.datastore.transaction(commit=True) as cursor:
                self._publish_pending(Tx(cursor, self.app.store.dialect))
        return linked

    def run_until_caught_up(self) -> int:
        total = 0
        while n := self.step():
            total += n
        return total

    def _link_page(self, tx: Tx) -> int:
        last = chain.last_link(tx)
        position, previous = last if last is not None else (0, GENESIS)
        checkpoint = chain.last_checkpoint(tx)
        since = checkpoint.position if checkpoint is not None else 0
        # Never further than a checkpoint's worth past the last one (positions count at
        # least one per event, so this bounds the events too).
        bound = since + self.sign_every_events if self.key is not None else None
        events = chain.events_page(self.app.store, tx, position, self.page)
        due_now = False
        if bound is not None:
            within = [e for e in events if e.position <= bound]
            if events and not within:
                # The next event lies past the bound (a gap in positions): sign what is
                # linked first, or, when nothing is linked since the last checkpoint, take it.
                due_now = position > since
                within = [] if due_now else events[:1]
            events = within
        links = []
        for event in events:
            previous = link(previous, event)
            links.append((event.position, previous))
        if links:
            chain.insert_links(tx, links)
            position = links[-1][0]
        if self.key is not None and position > since and (due_now or self._checkpoint_due(checkpoint, position, bound)):
            chain.insert_checkpoint(tx, self.key.sign(position, previous, int(self.clock() * 1_000_000)))
        return len(links)

    def _checkpoint_due(self, last: Checkpoint | None, position: int, bound: int | None) -> bool:
        if last is None or (bound is not None and position >= bound):
            return True
        return self.clock() - last.time_us / 1_000_000 >= self.sign_every_seconds

    def _publish_pending(self, tx: Tx) -> None:
        assert self.publish is not None
        for cp in chain.unpublished_checkpoints(tx):
            try:
                self.publish(cp)
            except Exception as exc:  # noqa: BLE001 - a witness that is down is tried again next step
                if not self._publish_failing:
                    log.warning("publishing the chain checkpoint at position %d failed: %s", cp.position, exc)
                self._publish_failing = True
                return
            if self._publish_failing:
                log.info("chain checkpoints are published again")
            self._publish_failing = False
            chain.mark_published(tx, cp.position, int(self.clock() * 1_000_000))

    # -- leadership (PostgreSQL) ----------------------------------------------------------------

    def _leader_connection(self) -> Any:
        """The connection holding the linker lock, or None while another process holds it
        (asked again at most every STANDBY_RETRY seconds, on the same connection)."""
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
        got = conn.execute("SELECT pg_try_advisory_lock(%s) AS got", (_LINKER_LOCK,)).fetchone()
        self._holding = bool(got and got["got"])
        return conn if self._holding else None

    def close(self) -> None:
        conn, self._conn = self._conn, None
        self._holding = False
        if conn is not None:
            try:
                conn.close()  # the session's advisory lock goes with it
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass

    # -- the loop ---------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Until `stop`: step while there is work, else wait for a wake-up (this process
        committed) or POLL seconds (another process may have)."""
        while not stop.is_set():
            try:
                linked = self.step()
                STORE_OUTAGE.succeeded()
            except Exception as exc:  # noqa: BLE001 - the linker must outlive a failing step
                if is_unavailable(exc):
                    STORE_OUTAGE.failed(exc)
                else:
                    log.exception("chain linker step failed")
                self.close()
                linked = 0
                stop.wait(1.0)
            if linked:
                continue
            self.wake.wait(POLL)
            self.wake.clear()
        self.close()

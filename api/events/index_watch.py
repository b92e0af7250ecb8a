"""One watch per process over how far the audit index reaches, shared by every waiting
event-stream subscriber: a thousand idle subscribers cost one look, not a thousand.

It looks when woken and, as a fallback, every few moments. Wake-ups: on PostgreSQL one LISTEN
connection per process hears the audit indexer's NOTIFY after each committed page (the indexer
may run in another process or on another node); in the process that runs the indexer (SQLite's
one server process) the indexer also calls it directly (projections.audit.progress). Until the
LISTEN connection is up (or when it breaks) the watch polls every POLL_UNHEARD seconds.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg

from api.context import ServerContext
from projections.audit.progress import INDEX_PROGRESS, INDEXED_CHANNEL
from projections.eventstore.recorder import PostgresChronicleRecorder, pg_connect_kwargs

POLL_UNHEARD = 0.05  # seconds between looks while nothing would wake the watch
POLL_HEARD = 1.0  # seconds between looks while wake-ups arrive: a fallback only
RELISTEN = 1.0  # seconds before listening again after the connection failed

log = logging.getLogger("chronicle.events")


class IndexWatch:
    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.position = -1
        self.looks = 0  # how many times this process asked the store (metrics; tests)
        self.waiting = 0  # subscribers waiting now
        self._changed = asyncio.Condition()
        self._nudge = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._heard = False  # a wake-up will come when the index grows
        self._postgres = isinstance(ctx.store.store, PostgresChronicleRecorder)

    async def wait_past(self, position: int, timeout: float) -> None:
        if self.position > position:
            return
        self.waiting += 1
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._watch())
        try:
            async with self._changed:
                await asyncio.wait_for(self._changed.wait_for(lambda: self.position > position), timeout)
        except TimeoutError:
            pass
        finally:
            self.waiting -= 1

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()

        def nudge_from_indexer() -> None:  # called on the indexer's thread
            try:
                loop.call_soon_threadsafe(self._nudge.set)
            except RuntimeError:  # the loop closed: nobody is waiting
                pass

        INDEX_PROGRESS.add(nudge_from_indexer)
        listener = loop.create_task(self._listen()) if self._postgres else None
        self._heard = not self._postgres  # SQLite: the one process's indexer calls
        try:
            while self.waiting > 0:
                self._nudge.clear()  # before the look: a wake-up during it means look again
                await self._look()
                poll = POLL_HEARD if self._heard else POLL_UNHEARD
                try:
                    await asyncio.wait_for(self._nudge.wait(), poll)
                except TimeoutError:
                    pass
        finally:
            INDEX_PROGRESS.remove(nudge_from_indexer)
            if listener is not None:
                listener.cancel()

    async def _look(self) -> None:
        self.looks += 1
        try:
            now = await self.ctx.query(_indexed_up_to)
        except Exception:  # noqa: BLE001 - the store out of reach: subscribers wait for it
            return
        if now != self.position:
            self.position = now
            async with self._changed:
                self._changed.notify_all()

    async def _listen(self) -> None:
        kwargs: dict[str, Any] = pg_connect_kwargs(self.ctx.store)
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(**kwargs, autocommit=True, connect_timeout=5)
                async with conn:
                    await conn.execute(f"LISTEN {INDEXED_CHANNEL}")
                    self._heard = True
                    self._nudge.set()  # pages committed before LISTEN went unheard
                    async for _ in conn.notifies():
                        self._nudge.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the database restarting: poll meanwhile
                log.debug("event stream watch: listening failed (polling meanwhile): %s", exc)
            self._heard = False
            self._nudge.set()
            await asyncio.sleep(RELISTEN)


def _indexed_up_to(tx: Any) -> int:
    return int(tx.scalar("SELECT position FROM audit_tracking WHERE name = 'audit'") or 0)

"""Group commit: concurrent requests' changes are appended in one transaction.

The event store serialises appends with a table lock, so one transaction per request caps
writes at a few hundred per second; batching whatever arrived while the previous commit
was in flight lifts that cap without adding latency when the load is light.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from time import perf_counter
from typing import Any

from domain.errors import DomainError
from domain.write_plan import WritePlan
from projections.blobstore import STAGE_DEADLINE
from projections.eventstore.recorder import ChronicleApplication

log = logging.getLogger("chronicle.committer")

MAX_BATCH = 256
MAX_CONFLICT_RETRIES = 8


class StagingExpired(DomainError):
    """The request's bytes were written too long before its commit: garbage collection may
    have reclaimed them (STAGE_DEADLINE, workers.blob_gc)."""

    def __init__(self) -> None:
        super().__init__("ServiceUnavailable", "The upload took too long to be recorded; please retry it.")


def check_staging_deadline(plan: WritePlan) -> None:
    if plan.files_written_at is not None and time.time() - plan.files_written_at > STAGE_DEADLINE:
        raise StagingExpired()


class _LoopFuture:
    """The committer's side of an asyncio future: resolves it on its event loop (lighter
    than wrapping a concurrent.futures.Future per request). Outcomes are collected while a
    batch is settled and handed to each loop in one wake-up (see _Settled)."""

    __slots__ = ("loop", "future", "settled")

    def __init__(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[WritePlan]) -> None:
        self.loop = loop
        self.future = future
        self.settled: _Settled | None = None

    def set_result(self, result: WritePlan) -> None:
        if self.settled is not None:
            self.settled.add(self.loop, self.future, result, None)
        else:
            self.loop.call_soon_threadsafe(_resolve, self.future, result, None)

    def set_exception(self, exc: BaseException) -> None:
        if self.settled is not None:
            self.settled.add(self.loop, self.future, None, exc)
        else:
            self.loop.call_soon_threadsafe(_resolve, self.future, None, exc)


class _Settled:
    """A batch's outcomes per event loop: one call_soon_threadsafe (one write to the loop's
    self-pipe, one wake-up) per loop and batch instead of one per request."""

    __slots__ = ("by_loop",)

    def __init__(self) -> None:
        self.by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, Any, Any]]] = {}

    def add(self, loop: asyncio.AbstractEventLoop, future: Any, result: Any, exc: Any) -> None:
        items = self.by_loop.get(loop)
        if items is None:
            items = self.by_loop[loop] = []
        items.append((future, result, exc))

    def flush(self) -> None:
        by_loop, self.by_loop = self.by_loop, {}
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve_all, items)
            except RuntimeError:  # the loop is closed: nobody waits any more
                pass


def _resolve_all(items: list[tuple[Any, Any, Any]]) -> None:
    for future, result, exc in items:
        _resolve(future, result, exc)


def _resolve(future: asyncio.Future[WritePlan], result: WritePlan | None, exc: BaseException | None) -> None:
    if future.done():  # the request was cancelled (client went away)
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)  # type: ignore[arg-type]


class GroupCommitter:
    """threads > 1 (PostgreSQL): while one batch waits for its commit, the next is already
    built, sent and queued behind the store's table lock, which PostgreSQL hands over the
    moment the previous batch commits (log order stays the commit order)."""

    def __init__(self, app: ChronicleApplication, threads: int = 1) -> None:
        self.app = app
        # Called (in the committer thread) after each committed batch: wakes followers.
        self.on_commit: list[Callable[[], None]] = []
        # PostgreSQL servers: plain PUTs appended from the event loop (see
        # projections.eventstore.loop_append); everything else, and what it refuses, comes here.
        self.appender: Any = None
        # Instruments (api.metrics.store_metrics sets them): each change's wait for its append, in
        # seconds (queueing for a batch included), and each committed batch's size.
        self.observe_append: Callable[[float], None] | None = None
        self.observe_batch: Callable[[int], None] | None = None
        self._queue: queue.SimpleQueue[tuple[WritePlan, Future[WritePlan], int] | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._run, name=f"group-commit-{i}", daemon=True) for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    async def submit(self, plan: WritePlan) -> WritePlan:
        """Append the plan with whatever else arrives meanwhile; raises the error that
        refused it (a failed precondition, or its load's)."""
        check_staging_deadline(plan)
        started = perf_counter()
        try:
            appender = self.appender
            if appender is not None and plan.load is None and appender.accepts(plan):
                if await appender.commit(plan):
                    return plan
                # not appended (nothing was written): the careful path, same events
            loop = asyncio.get_running_loop()
            outcome: asyncio.Future[WritePlan] = loop.create_future()
            self._queue.put((plan, _LoopFuture(loop, outcome), 0))  # type: ignore[arg-type]
            return await outcome
        finally:
            if self.observe_append is not None:
                self.observe_append(perf_counter() - started)

    def submit_sync(self, plan: WritePlan) -> WritePlan:
        """submit() for a caller outside the event loop (blocks until appended)."""
        started = perf_counter()
        try:
            future: Future[WritePlan] = Future()
            self._queue.put((plan, future, 0))
            return future.result()
        finally:
            if self.observe_append is not None:
                self.observe_append(perf_counter() - started)

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                batch.append(nxt)
            settled = _Settled()
            for entry in batch:
                if type(entry[1]) is _LoopFuture:
                    entry[1].settled = settled
            try:
                self._commit_batch(batch)
            except Exception:  # noqa: BLE001 - never let the committer die
                log.exception("group commit failed")
            finally:
                for entry in batch:
                    if type(entry[1]) is _LoopFuture:
                        entry[1].settled = None  # a deferred or retried change settles alone
                settled.flush()

    def _commit_batch(self, batch: list[tuple[WritePlan, Future[WritePlan], int]]) -> None:
        ready: list[tuple[WritePlan, Future[WritePlan], int]] = []
        for plan, future, attempt in batch:
            plan.reset()
            try:
                check_staging_deadline(plan)  # it may have waited in the queue
                plan.prepare()  # a plan of existing aggregates loads them afresh each attempt
            except Exception as exc:  # noqa: BLE001 - its load refused it
                future.set_exception(exc)
                continue
            ready.append((plan, future, attempt))
        if not ready:
            return
        # Two changes of one aggregate in one batch would collide: defer the later ones.
        seen: set[Any] = set()
        now: list[tuple[WritePlan, Future[WritePlan], int]] = []
        for entry in ready:
            ids = {e.originator_id for e in entry[0].events if e.originator_version > 1}
            if ids & seen:
                self._queue.put(entry)
                continue
            seen |= ids
            now.append(entry)
        try:
            self.app.store.append([c for c, _, _ in now])
        except Exception as exc:  # noqa: BLE001 - the whole transaction failed
            for _, future, _ in now:
                future.set_exception(exc)
            return
        if self.observe_batch is not None:
            self.observe_batch(len(now))
        for hook in self.on_commit:
            hook()
        for change, future, attempt in now:
            if change.conflict:
                if attempt + 1 >= MAX_CONFLICT_RETRIES:
                    future.set_exception(RuntimeError("too many concurrent changes of one aggregate"))
                else:
                    self._queue.put((change, future, attempt + 1))
            elif change.error is not None:
                future.set_exception(change.error)
            else:
                future.set_result(change)

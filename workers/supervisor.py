"""Runs the notification follower and one delivery loop per enabled target.

The follower turns the log into per-target views; each target's worker delivers its
view. In-process commits wake the follower at once (``log_appended``), appends by other
processes through the event store's NOTIFY, and the follower hands what each step
committed straight to the workers (they read the view only to catch up), so delivery
takes a few milliseconds. Target configuration is reloaded when ``generation()``
changes: new targets start, removed or changed ones restart. ``audit_webhook`` targets,
configured the same way, get a loop of their own kind (workers.audit_delivery) that reads
the request audit table instead of the follower's views.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import psycopg
import uvloop
from psycopg import sql

from projections.eventstore.recorder import (
    ChronicleApplication,
    PostgresChronicleRecorder,
    pg_connect_kwargs,
)
from projections.eventstore.unavailable import STORE_OUTAGE, is_unavailable
from projections.notifications.follower import Appended, NotificationFollower
from workers.audit_checkpoints import AuditCheckpointStore
from workers.audit_delivery import AuditWebhookWorker
from workers.checkpoints import CheckpointStore
from workers.claimed_loop import ClaimedLoop
from workers.delivery import BACKOFF_MAX, TargetWorker
from workers.targets import AuditWebhookConfig, TargetConfig, WebhookConfig, make_target, to_kvs
from workers.targets.audit_webhook import AuditWebhookSender

log = logging.getLogger("chronicle.delivery")

FOLLOWER_POLL = 0.05  # seconds: how often the follower looks for appends of other processes
LISTENING_POLL = 1.0  # the same while NOTIFY wakes it (PostgreSQL): polling is only the fallback
CONFIG_POLL = 1.0
# While no bucket has notification rules the follower only keeps the buckets' versioning
# history and its position: it steps at most this often (seconds) instead of after every
# append, and catches up in one page. Rules, once configured, apply from their event's
# position whatever the delay (the follower reads the log in order).
NO_RULES_PAUSE = 0.1


def target_key(subsystem: str, target_id: str) -> str:
    return f"{subsystem}:{target_id}"


class DeliverySupervisor:
    def __init__(
        self,
        app: ChronicleApplication,
        load_configs: Callable[[], Mapping[tuple[str, str], TargetConfig]],
        *,
        generation: Callable[[], Any] = lambda: 0,
        region: str = "",
        follow: bool = True,
        backoff_max: float = BACKOFF_MAX,
        http_pipeline: int | None = None,
    ) -> None:
        self.app = app
        self.load_configs = load_configs
        self.generation = generation
        self.follow = follow
        # The longest wait between retries of a target that is down (seconds).
        self.backoff_max = backoff_max
        # Webhook requests in flight on one connection (1: no HTTP pipelining; None: the default).
        self.http_pipeline = http_pipeline
        self.follower = NotificationFollower(app, region=region, on_records=self._records_written)
        self.workers: dict[str, ClaimedLoop] = {}
        self._settings: dict[str, dict[str, str]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._appended = threading.Event()
        self._stopping = False
        self._stopped = threading.Event()
        self._main: list[asyncio.Task[None]] = []
        self._threads: list[threading.Thread] = []
        self._listening = False  # NOTIFY wakes the follower: poll rarely

    # -- wake-ups (called from other threads) ---------------------------------------------

    def log_appended(self) -> None:
        self._appended.set()

    def _records_written(self, appended: Appended) -> None:
        """(Follower thread.) Hand a committed step's records to the target workers: one
        wake-up of the event loop per step, and the workers deliver without reading them
        back from the view."""
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(self._offer, appended)

    def _offer(self, appended: Appended) -> None:
        for name, worker in self.workers.items():
            if isinstance(worker, TargetWorker):
                worker.offer(appended.after, appended.upto, appended.records.get(name, []))

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Start delivering on an event loop of its own, in its own thread: on the API's
        loop every target round trip and wake-up queued behind the requests' callbacks
        (tens of milliseconds under load)."""
        started: concurrent.futures.Future[asyncio.AbstractEventLoop] = concurrent.futures.Future()
        self._loop_thread = threading.Thread(
            target=self._run_loop, args=(started,), name="notify-delivery", daemon=True
        )
        self._loop_thread.start()
        loop = await asyncio.wrap_future(started)
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._start(), loop))

    def _run_loop(self, started: concurrent.futures.Future[asyncio.AbstractEventLoop]) -> None:
        loop = uvloop.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.call_soon(started.set_result, loop)
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._reconcile()
        if self.follow:
            # Its own thread: a follower step is blocking database work.
            self._threads.append(threading.Thread(target=self._follow, name="notify-follower", daemon=True))
            if isinstance(self.app.store, PostgresChronicleRecorder):
                self._threads.append(threading.Thread(target=self._listen, name="notify-listen", daemon=True))
            for thread in self._threads:
                thread.start()
        self._main.append(asyncio.create_task(self._watch_config(), name="notify-config"))

    async def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._stop(), loop))
        loop.call_soon_threadsafe(loop.stop)
        await asyncio.to_thread(self._loop_thread.join, 10)

    async def _stop(self) -> None:
        self._stopping = True
        self._stopped.set()
        self._appended.set()
        for task in self._main:
            task.cancel()
        for worker in self.workers.values():
            worker.stop()
        tasks = list(self._tasks.values()) + self._main
        if tasks:
            await asyncio.wait(tasks, timeout=10)
        for thread in self._threads:
            await asyncio.to_thread(thread.join, 10)
        self.follower.close()

    def _follow(self) -> None:
        while not self._stopping:
            # Cleared before the step, not after the wait: a wake-up that arrives while
            # the step runs is not lost (with NOTIFY the next poll may be a second away).
            self._appended.clear()
            try:
                n = self.follower.step()
                if n:
                    STORE_OUTAGE.succeeded()  # (it read the log: the store is reachable)
            except Exception as e:  # noqa: BLE001 - the database may be restarting: try again
                if is_unavailable(e):
                    STORE_OUTAGE.failed(e)
                else:
                    log.exception("notification follower step failed")
                n = 0
                time.sleep(1.0)
            if self._stopping:
                break
            if n and self.follower.no_rules:
                # Nothing to deliver: let appends accumulate rather than step for each.
                self._stopped.wait(NO_RULES_PAUSE)
            elif n == 0:
                poll = LISTENING_POLL if self._listening else FOLLOWER_POLL
                if self.follower.no_rules:
                    poll = max(poll, NO_RULES_PAUSE)  # nothing to deliver: no hurry
                self._appended.wait(poll)

    def _listen(self) -> None:
        """Appends by other processes wake the follower through the event store's NOTIFY
        (eventsourcing notifies its channel on every append). LISTEN connections do not
        survive a database restart: reconnect, and meanwhile the follower polls.

        While no bucket has rules the follower steps on its own clock (NO_RULES_PAUSE), so
        the connection stops listening: no wake-up of this thread, nor of its PostgreSQL
        backend, per append. It listens again as soon as a step finds rules."""
        store = self.app.store
        channel = getattr(store, "channel_name", "")
        while not self._stopping and channel:
            try:
                with psycopg.connect(**pg_connect_kwargs(self.app), autocommit=True, connect_timeout=5) as conn:
                    listening = False
                    while not self._stopping:
                        wanted = not self.follower.no_rules
                        if wanted != listening:
                            verb = "LISTEN {}" if wanted else "UNLISTEN {}"
                            conn.execute(sql.SQL(verb).format(sql.Identifier(channel)))
                            listening = self._listening = wanted
                            if wanted:
                                self._appended.set()  # appends before LISTEN went unheard
                        if not listening:
                            self._stopped.wait(NO_RULES_PAUSE)
                            continue
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self._appended.set()
            except Exception as e:  # noqa: BLE001
                self._listening = False
                self._appended.set()  # look now: appends may have gone unnoticed
                if not self._stopping:
                    if is_unavailable(e):
                        STORE_OUTAGE.failed(e)
                    else:
                        log.warning("listening for appends failed (polling meanwhile): %s", e)
                    time.sleep(1.0)

    async def _watch_config(self) -> None:
        seen = self.generation()
        while not self._stopping:
            await asyncio.sleep(CONFIG_POLL)
            try:
                current = await asyncio.to_thread(self.generation)
                if current != seen:
                    seen = current
                    await self._reconcile()
            except Exception as e:  # noqa: BLE001
                if is_unavailable(e):
                    STORE_OUTAGE.failed(e)
                else:
                    log.exception("reloading notification targets failed")

    async def _reconcile(self) -> None:
        configs = await asyncio.to_thread(self.load_configs)
        wanted: dict[str, tuple[str, str, TargetConfig]] = {
            target_key(sub, tid): (sub, tid, cfg) for (sub, tid), cfg in configs.items() if cfg.enable
        }
        for name in list(self.workers):
            if name not in wanted or to_kvs(wanted[name][2]) != self._settings.get(name):
                await self._stop_worker(name)
        for name, (sub, tid, cfg) in wanted.items():
            if name in self.workers:
                continue
            worker = self._worker(name, sub, tid, cfg)
            self.workers[name] = worker
            self._settings[name] = to_kvs(cfg)
            self._tasks[name] = asyncio.create_task(worker.run(), name=f"deliver-{name}")
            what = "the request audit" if isinstance(worker, AuditWebhookWorker) else "notifications"
            log.info("delivering %s to %s", what, name)

    def _worker(self, name: str, sub: str, tid: str, cfg: TargetConfig) -> ClaimedLoop:
        if isinstance(cfg, AuditWebhookConfig):
            return AuditWebhookWorker(AuditCheckpointStore(self.app, name), AuditWebhookSender(tid, cfg))
        if isinstance(cfg, WebhookConfig) and self.http_pipeline is not None:
            cfg = dataclasses.replace(cfg, pipeline=self.http_pipeline)
        return TargetWorker(
            CheckpointStore(self.app, name),
            make_target(sub, tid, cfg),
            key_encoding=getattr(cfg, "key_encoding", "minio"),
            backoff_max=self.backoff_max,
        )

    async def _stop_worker(self, name: str) -> None:
        worker = self.workers.pop(name)
        self._settings.pop(name, None)
        worker.stop()
        task = self._tasks.pop(name)
        await asyncio.wait([task], timeout=10)

    def states(self) -> dict[str, dict[str, Any]]:
        return {
            name: {"state": w.stats.state, "delivered": w.stats.delivered, "failed": w.stats.failed}
            for name, w in self.workers.items()
        }

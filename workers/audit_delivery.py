"""The delivery loop of one ``audit_webhook`` target: the ``request_audit`` table's entries
after the target's position, POSTed in MinIO's format (workers.targets.audit_webhook).

Off the request path: requests only ever append to the table (api.audit.recorder); this
loop, run by the delivery supervisor beside the notification targets' loops, reads it. One
process delivers each target across the deployment (the claim of workers.claimed_loop), and
its position moves (audit_webhook_checkpoints) only after the receiver accepted the entries
up to it, so delivery is at-least-once and survives restarts: entries recorded while the
receiver was down, or while no process delivered, wait in the table and go out when it
answers again. A graceful stop finishes the request in flight and writes its position, so a
restart repeats nothing; a crash repeats at most the round that was in flight.

Each round reads up to a page of entries after the position, keeps those no hole holds back
(workers.audit_gaps), and sends them in batches of ``batch_size``. As MinIO's HTTP logger
(internal/logger/target/http/http.go, ``startQueueProcessor``): a batch that is not full
waits until a second has passed since the last one; a failed batch is retried, after a wait
that starts at BACKOFF_MIN and doubles up to ``retry_interval`` (MinIO waits
``retry_interval`` each time), forever when ``max_retry`` is 0, else given up after
``max_retry`` retries (counted as failed, and logged).
"""

from __future__ import annotations

import asyncio
import logging
import time

from workers.audit_checkpoints import AuditCheckpointStore, Entry
from workers.audit_gaps import GAP_SETTLE, SeqGaps
from workers.claimed_loop import BACKOFF_MIN, ClaimedLoop
from workers.targets.audit_webhook import AuditWebhookSender
from workers.targets.base import TargetError, describe

log = logging.getLogger("chronicle.audit")

PAGE = 1000  # entries read per round (more when batch_size is larger)
POLL = 0.25  # seconds between looks at the table when it had nothing to send
BATCH_WAIT = 1.0  # MinIO: a batch that is not full waits for a second since the last one


def _texts(batches: list[list[Entry]]) -> list[list[str]]:
    return [[entry for _, entry in batch] for batch in batches]


class AuditWebhookWorker(ClaimedLoop):
    def __init__(self, store: AuditCheckpointStore, sender: AuditWebhookSender, *, settle: float = GAP_SETTLE) -> None:
        super().__init__(store, backoff_max=sender.config.retry_seconds)
        self.entries = store
        self.sender = sender
        self.batch_size = sender.config.batch_size
        self.max_retry = sender.config.max_retry
        self.page = max(PAGE, self.batch_size)
        self.gaps = SeqGaps(store.target, settle=settle)
        self.position = 0
        self._last_sent = 0.0
        self._behind = False

    async def _close_target(self) -> None:
        await self.sender.close()

    async def _deliver_claimed(self) -> None:
        self.position = await asyncio.to_thread(self.entries.position)
        self.stats.state = "delivering"
        attempts, delay = 0, BACKOFF_MIN
        while not self._stopping:
            await self._send_late()
            batches = await self._next_batches()
            if not batches:
                await self._sleep(POLL)
                continue
            try:
                await self.sender.send(_texts(batches), backlog=self._behind)
            except Exception as e:  # noqa: BLE001 - any failure is retried from the position
                done = e.delivered if isinstance(e, TargetError) else 0
                await self._advance(batches[:done])
                attempts += 1
                if await self._failed(batches[done:], e, attempts):
                    attempts = 0  # given up: the next batch starts afresh
                    continue
                await self._sleep_backoff(delay)
                delay = min(delay * 2, self.backoff_max)
                continue
            attempts, delay = 0, BACKOFF_MIN
            await self._advance(batches)

    async def _next_batches(self) -> list[list[Entry]]:
        """What may go out now: entries after the position up to the first hole still open,
        in batches; a last batch that is not full only once BATCH_WAIT passed."""
        rows = await asyncio.to_thread(self.entries.read_entries, self.position, self.page)
        self._behind = len(rows) >= self.page  # a full page: a backlog, sent several at a time
        ready = rows[: self.gaps.ready(self.position, [seq for seq, _ in rows])]
        batches = [ready[i : i + self.batch_size] for i in range(0, len(ready), self.batch_size)]
        if batches and len(batches[-1]) < self.batch_size and time.monotonic() - self._last_sent < BATCH_WAIT:
            batches.pop()
        return batches

    async def _advance(self, batches: list[list[Entry]]) -> None:
        """The receiver accepted ``batches``: move the position past them."""
        if not batches:
            return
        count = sum(len(b) for b in batches)
        self.position = batches[-1][-1][0]
        await asyncio.to_thread(self.entries.advance, self.position, count)
        self.gaps.delivered_through(self.position)
        self._last_sent = time.monotonic()
        self.stats.delivered += count
        self.stats.state = "delivering"

    async def _failed(self, failing: list[list[Entry]], error: Exception, attempts: int) -> bool:
        """Count and log a failed round; True when its first failing batch was given up
        (``max_retry`` retries spent): the position moves past it."""
        count = sum(len(b) for b in failing)
        reason = describe(error)
        self.stats.failed += count
        self.stats.last_error = reason
        self.stats.state = "retrying"
        await asyncio.to_thread(self.entries.failed, count, reason)
        if not (self.max_retry and attempts > self.max_retry):
            log.warning("%s: audit delivery failed, retrying: %s", self.name, reason)
            return False
        given_up = failing[0]
        log.error(
            "%s: gave up audit entries seq %d..%d after %d retries (max_retry): %s",
            self.name,
            given_up[0][0],
            given_up[-1][0],
            self.max_retry,
            reason,
        )
        self.position = given_up[-1][0]
        await asyncio.to_thread(self.entries.skip, self.position)
        self.gaps.delivered_through(self.position)
        return True

    async def _send_late(self) -> None:
        """Rows that appeared in a hole after it was passed over: sent late, out of order."""
        for hole in self.gaps.watched():
            rows = await asyncio.to_thread(self.entries.read_range, hole.first, hole.last)
            late = [row for row in rows if row[0] not in hole.sent]
            if not late:
                continue
            batches = [late[i : i + self.batch_size] for i in range(0, len(late), self.batch_size)]
            try:
                await self.sender.send(_texts(batches))
            except Exception as e:  # noqa: BLE001 - tried again next round
                log.warning("%s: %d late audit entries not delivered yet: %s", self.name, len(late), describe(e))
                return
            hole.sent.update(seq for seq, _ in late)
            self.stats.delivered += len(late)
            log.info("%s: delivered %d audit entries committed late", self.name, len(late))

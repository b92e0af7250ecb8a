"""The delivery loop of one target: its records from the access view, in log order.

A batch is acknowledged (the checkpoint moves) only after the target confirmed it; a
failure is retried from the checkpoint with capped exponential backoff, so delivery is
at-least-once and a target that is down only ever delays itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from domain.notifications import encode_key
from workers.checkpoints import CheckpointStore, PendingRecord
from workers.claimed_loop import BACKOFF_MAX, BACKOFF_MIN, ClaimedLoop, DeliveryStats
from workers.targets import Delivery, Target, TargetError
from workers.targets.base import describe

log = logging.getLogger("chronicle.delivery")

BATCH = 1000
MAX_BUFFERED = 4 * BATCH  # records handed over by the follower, at most (then: read the view)
IDLE_POLL = 0.25  # seconds between looks at the view when nothing woke us
__all__ = ["BACKOFF_MAX", "DeliveryStats", "TargetWorker", "rekey"]


def rekey(record: str, key: str, key_encoding: str) -> str:
    """The record with ``s3.object.key`` in another encoding than MinIO's default. Safe as
    a text replacement: the escaped key has no quote or backslash, and ``"object":{"key":``
    occurs once in a record."""
    if key_encoding == "minio":
        return record
    old = '"object":{"key":"' + encode_key(key, "minio") + '"'
    new = '"object":{"key":"' + encode_key(key, key_encoding) + '"'
    return record.replace(old, new, 1)


class TargetWorker(ClaimedLoop):
    """Delivers one target's records in log order from a buffer that two sources fill:
    reads of the access view (from the checkpoint at start, after a gap or a failure, and
    when idle) and the records an in-process follower hands over as it commits them
    (``offer``), so live records go out without a round trip to read them back.

    ``_seen`` is the log position up to which every record of this target is delivered
    or buffered; a source's records are taken only when they start at or before it, so
    the buffer is always exactly the view's records after the checkpoint, in order."""

    def __init__(
        self,
        store: CheckpointStore,
        target: Target,
        *,
        key_encoding: str = "minio",
        batch: int = BATCH,
        backoff_max: float = BACKOFF_MAX,
    ) -> None:
        super().__init__(store, backoff_max=backoff_max)
        self.target = target
        self.key_encoding = key_encoding or "minio"
        self.batch = batch
        self._active = False  # delivering (the claim is ours): offers are taken only then
        self._buffer: deque[PendingRecord] = deque()
        self._seen = 0
        self._head = 0  # the highest follower position heard of
        self._more = False  # the view may hold records after _seen: read it
        self._reading: asyncio.Future[Any] | None = None
        self._read_error: BaseException | None = None
        self._generation = 0  # bumped when the buffer is dropped: older reads are stale

    def offer(self, after: int, upto: int, records: list[tuple[Any, ...]]) -> None:
        """(On the event loop.) The follower committed ``records`` (position, event_name,
        bucket, key, event_time, record), every record of this target in (after, upto]."""
        if upto > self._head:
            self._head = upto
        if not self._active:
            return
        if after <= self._seen < upto and len(self._buffer) < MAX_BUFFERED:
            seen = self._seen
            self._buffer.extend(PendingRecord(*r) for r in records if r[0] > seen)
            self._seen = upto
        elif self._seen < upto:
            self._more = True  # a gap (another process's follower) or a full buffer
        if self._buffer or self._more:
            self.wake.set()

    async def _close_target(self) -> None:
        await self.target.close()

    # -- the buffer -----------------------------------------------------------------------

    def _restart_from(self, position: int) -> None:
        """Forget the buffer and any read in flight: next, read the view after ``position``."""
        self._generation += 1
        self._buffer.clear()
        self._seen = position
        self._more = True
        self._reading = None
        self._read_error = None

    def _read(self) -> None:
        """Read the view after ``_seen`` in a thread; the result lands in the buffer."""
        after, generation = self._seen, self._generation
        self._more = False
        future = asyncio.ensure_future(asyncio.to_thread(self.checkpoints.read_view, after, self.batch))
        self._reading = future
        future.add_done_callback(lambda f: self._read_done(f, after, generation))

    def _read_done(self, future: asyncio.Future[Any], after: int, generation: int) -> None:
        if generation != self._generation:
            if not future.cancelled():
                future.exception()  # (retrieved: no "never retrieved" warning)
            return  # the buffer was dropped since: a read of its own follows
        self._reading = None
        self.wake.set()
        if future.cancelled():
            self._more = True
            return
        if (error := future.exception()) is not None:
            self._read_error = error
            return
        records, tracked = future.result()
        full = len(records) >= self.batch
        # Everything up to `bound` is now known: the last record of a full page, else the
        # follower's position when the view was read.
        bound = records[-1].position if full else max(tracked, records[-1].position if records else 0)
        if tracked > self._head:
            self._head = tracked
        seen = self._seen  # offers may have moved it past `after` meanwhile: no repeats
        self._buffer.extend(r for r in records if r.position > seen)
        if bound > seen:
            self._seen = bound
        if full or self._seen < self._head:
            self._more = True

    def _take(self) -> list[PendingRecord]:
        count = min(self.batch, len(self._buffer))
        return [self._buffer.popleft() for _ in range(count)]

    # -- delivering -----------------------------------------------------------------------

    async def _deliver_claimed(self) -> None:
        position = await asyncio.to_thread(self.checkpoints.position)
        opened = False
        delay = BACKOFF_MIN
        self.stats.state = "delivering"
        self._restart_from(position)
        self._active = True
        # The checkpoint write of the last confirmed batch: it overlaps the next batch's
        # delivery (checkpoints still move in order, each only after its confirmation).
        advancing: asyncio.Future[None] | None = None
        try:
            while not self._stopping:
                if self._read_error is not None:
                    raise self._read_error
                if advancing is not None and advancing.done():
                    advancing, done = None, advancing
                    done.result()  # LostClaim: another worker took over
                # Read ahead while the buffer still has a batch to deliver (catching up after
                # an outage: the view read overlaps the target's round trips).
                if self._more and self._reading is None and len(self._buffer) < self.batch:
                    self._read()
                if not self._buffer:
                    if not await self._sleep(IDLE_POLL) and self._reading is None:
                        self._more = True  # look at the view: other processes' followers
                    continue
                pending = self._take()
                try:
                    if not opened:
                        await self.target.open()
                        opened = True
                    await self.target.deliver([self._delivery(p) for p in pending])
                except Exception as e:  # noqa: BLE001 - any failure is retried from the checkpoint
                    if advancing is not None:
                        advancing, previous = None, advancing
                        await previous
                    done = e.delivered if isinstance(e, TargetError) else 0
                    if done:
                        position = pending[done - 1].position
                        await asyncio.to_thread(self.checkpoints.advance, position, done)
                        self.stats.delivered += done
                    self._active = False  # while backing off: read the view afterwards
                    reason = describe(e)
                    self.stats.failed += len(pending) - done
                    self.stats.last_error = reason
                    self.stats.state = "retrying"
                    log.warning("%s: delivery failed, retrying in %.1fs: %s", self.name, delay, reason)
                    await asyncio.to_thread(self.checkpoints.failed, len(pending) - done, reason)
                    if opened:
                        opened = False
                        try:
                            await self.target.close()
                        except Exception:  # noqa: BLE001
                            pass
                    await self._sleep_backoff(delay)
                    delay = min(delay * 2, self.backoff_max)
                    self._restart_from(position)
                    self._active = True
                    continue
                if advancing is not None:
                    advancing, previous = None, advancing
                    await previous
                position = pending[-1].position
                advancing = asyncio.ensure_future(self._advance(pending))
                self.stats.state = "delivering"
                delay = BACKOFF_MIN
            if advancing is not None:
                advancing, previous = None, advancing
                await previous
        finally:
            self._active = False
            reading = self._reading
            self._restart_from(0)
            if reading is not None:
                await _discard(reading)
            if advancing is not None:
                await _discard(advancing)

    async def _advance(self, delivered: list[PendingRecord]) -> None:
        await asyncio.to_thread(self.checkpoints.advance, delivered[-1].position, len(delivered))
        self.stats.delivered += len(delivered)

    def _delivery(self, p: PendingRecord) -> Delivery:
        record = rekey(p.record, p.key, self.key_encoding)
        return Delivery(p.position, p.event_name, p.bucket, p.key, p.event_time, record.encode())


async def _discard(future: asyncio.Future[Any]) -> None:
    """Wait for a read we no longer want (it runs in a thread: it cannot be cancelled)."""
    try:
        await future
    except Exception:  # noqa: BLE001 - its failure does not matter any more
        pass

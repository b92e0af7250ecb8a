"""The delivery loop of one target: its records from the access view, in log order.

A batch is acknowledged (the checkpoint moves) only after the target confirmed it; a
failure is retried from the checkpoint with capped exponential backoff, so delivery is
at-least-once and a target that is down only ever delays itself.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from domain.notifications import encode_key
from workers.checkpoints import CheckpointStore, LostClaim, PendingRecord
from workers.targets import Delivery, Target, TargetError
from workers.targets.base import describe

log = logging.getLogger("chronicle.delivery")

BATCH = 1000
IDLE_POLL = 0.25  # seconds between looks at the view when nothing woke us
CLAIM_RETRY = 1.0  # seconds between attempts to take over a target another worker holds
BACKOFF_MIN = 0.1
BACKOFF_MAX = 30.0


def rekey(record: str, key: str, key_encoding: str) -> str:
    """The record with ``s3.object.key`` in another encoding than MinIO's default. Safe as
    a text replacement: the escaped key has no quote or backslash, and ``"object":{"key":``
    occurs once in a record."""
    if key_encoding == "minio":
        return record
    old = '"object":{"key":"' + encode_key(key, "minio") + '"'
    new = '"object":{"key":"' + encode_key(key, key_encoding) + '"'
    return record.replace(old, new, 1)


@dataclass(slots=True)
class DeliveryStats:
    delivered: int = 0
    failed: int = 0
    last_error: str = ""
    state: str = "starting"  # starting | standby | delivering | retrying | stopped


class TargetWorker:
    def __init__(
        self,
        store: CheckpointStore,
        target: Target,
        *,
        key_encoding: str = "minio",
        batch: int = BATCH,
        backoff_max: float = BACKOFF_MAX,
    ) -> None:
        self.checkpoints = store
        self.target = target
        self.key_encoding = key_encoding or "minio"
        self.batch = batch
        self.backoff_max = backoff_max
        self.wake = asyncio.Event()
        self.stats = DeliveryStats()
        self._stopping = False

    @property
    def name(self) -> str:
        return self.checkpoints.target

    def stop(self) -> None:
        self._stopping = True
        self.wake.set()

    async def run(self) -> None:
        try:
            while not self._stopping:
                if not await asyncio.to_thread(self._claim):
                    self.stats.state = "standby"
                    await self._sleep(CLAIM_RETRY)
                    continue
                try:
                    await self._deliver_claimed()
                except LostClaim as e:
                    log.warning("%s", e)
                except Exception:  # noqa: BLE001 - e.g. the database restarting: claim again
                    log.exception("%s: delivery loop failed; starting over from the checkpoint", self.name)
                    self.stats.state = "retrying"
                    await self._sleep_backoff(CLAIM_RETRY)
                finally:
                    await asyncio.to_thread(self.checkpoints.release)
        finally:
            self.stats.state = "stopped"
            try:
                await self.target.close()
            except Exception:  # noqa: BLE001 - closing a target that is down
                pass

    def _claim(self) -> bool:
        try:
            return self.checkpoints.try_claim()
        except Exception as e:  # noqa: BLE001 - the database may be restarting
            log.warning("%s: cannot claim delivery: %s", self.name, describe(e))
            self.checkpoints.release()
            return False

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.wake.wait(), seconds)
        except TimeoutError:
            pass
        self.wake.clear()

    def _fetch(self, after: int) -> asyncio.Future[list[PendingRecord]]:
        return asyncio.ensure_future(asyncio.to_thread(self.checkpoints.pending, after, self.batch))

    async def _deliver_claimed(self) -> None:
        position = await asyncio.to_thread(self.checkpoints.position)
        opened = False
        delay = BACKOFF_MIN
        self.stats.state = "delivering"
        self.wake.clear()
        ahead = self._fetch(position)
        try:
            while not self._stopping:
                pending = await ahead
                if not pending:
                    await self._sleep(IDLE_POLL)
                    ahead = self._fetch(position)
                    continue
                # Read the next batch while this one is on its way (catching up after an
                # outage: the view read overlaps the target's round trips).
                self.wake.clear()
                ahead = self._fetch(pending[-1].position)
                try:
                    if not opened:
                        await self.target.open()
                        opened = True
                    await self.target.deliver([self._delivery(p) for p in pending])
                except Exception as e:  # noqa: BLE001 - any failure is retried from the checkpoint
                    await _discard(ahead)
                    done = e.delivered if isinstance(e, TargetError) else 0
                    if done:
                        position = pending[done - 1].position
                        await asyncio.to_thread(self.checkpoints.advance, position, done)
                        self.stats.delivered += done
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
                    ahead = self._fetch(position)
                    continue
                position = pending[-1].position
                await asyncio.to_thread(self.checkpoints.advance, position, len(pending))
                self.stats.delivered += len(pending)
                self.stats.state = "delivering"
                delay = BACKOFF_MIN
        finally:
            await _discard(ahead)

    async def _sleep_backoff(self, seconds: float) -> None:
        # Not woken by new records: a target that is down should not be hammered.
        end = asyncio.get_running_loop().time() + seconds
        while not self._stopping and (left := end - asyncio.get_running_loop().time()) > 0:
            await asyncio.sleep(min(left, 0.2))

    def _delivery(self, p: PendingRecord) -> Delivery:
        record = rekey(p.record, p.key, self.key_encoding)
        return Delivery(p.position, p.event_name, p.bucket, p.key, p.event_time, record.encode())


async def _discard(future: asyncio.Future[Any]) -> None:
    """Wait for a read we no longer want (it runs in a thread: it cannot be cancelled)."""
    try:
        await future
    except Exception:  # noqa: BLE001 - its failure does not matter any more
        pass

"""A delivery loop that works only while it holds its target's claim (workers.checkpoints:
one deliverer per target across every process and node, fenced by an epoch). What the
notification targets' loops (workers.delivery) and the request audit's webhooks
(workers.audit_delivery) share: claim, deliver until stopped or the claim is lost, release,
and stand by (asking again every CLAIM_RETRY seconds) while another process delivers.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from projections.eventstore.unavailable import STORE_OUTAGE, is_unavailable
from workers.checkpoints import CheckpointStore, LostClaim
from workers.targets.base import describe

log = logging.getLogger("chronicle.delivery")

CLAIM_RETRY = 1.0  # seconds between attempts to take over a target another worker holds
BACKOFF_MIN = 0.1
BACKOFF_MAX = 30.0


@dataclass(slots=True)
class DeliveryStats:
    delivered: int = 0
    failed: int = 0
    last_error: str = ""
    state: str = "starting"  # starting | standby | delivering | retrying | stopped


class ClaimedLoop:
    """Subclasses give ``_deliver_claimed`` (runs while the claim is held; returns when
    stopping, raises LostClaim when another worker took over) and ``_close_target``."""

    def __init__(self, store: CheckpointStore, *, backoff_max: float = BACKOFF_MAX) -> None:
        self.checkpoints = store
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

    async def _deliver_claimed(self) -> None:
        raise NotImplementedError

    async def _close_target(self) -> None:
        raise NotImplementedError

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
                except Exception as e:  # noqa: BLE001 - e.g. the database restarting: claim again
                    if is_unavailable(e):
                        STORE_OUTAGE.failed(e)
                    else:
                        log.exception("%s: delivery loop failed; starting over from the checkpoint", self.name)
                    self.stats.state = "retrying"
                    await self._sleep_backoff(CLAIM_RETRY)
                finally:
                    await asyncio.to_thread(self.checkpoints.release)
        finally:
            self.stats.state = "stopped"
            try:
                await self._close_target()
            except Exception:  # noqa: BLE001 - closing a target that is down
                pass

    def _claim(self) -> bool:
        try:
            return self.checkpoints.try_claim()
        except Exception as e:  # noqa: BLE001 - the database may be restarting
            if is_unavailable(e):
                STORE_OUTAGE.failed(e)
            else:
                log.warning("%s: cannot claim delivery: %s", self.name, describe(e))
            self.checkpoints.release()
            return False

    async def _sleep(self, seconds: float) -> bool:
        """Wait for a wake-up or ``seconds``; True when woken."""
        woke = True
        try:
            await asyncio.wait_for(self.wake.wait(), seconds)
        except TimeoutError:
            woke = False
        self.wake.clear()
        return woke

    async def _sleep_backoff(self, seconds: float) -> None:
        # Not woken by new records: a target that is down should not be hammered.
        end = asyncio.get_running_loop().time() + seconds
        while not self._stopping and (left := end - asyncio.get_running_loop().time()) > 0:
            await asyncio.sleep(min(left, 0.2))

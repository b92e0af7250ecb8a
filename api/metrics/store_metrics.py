"""Event-store metrics (Chronicle's own, ``chronicle_*``): how long a change waits for its
append, how many changes one group commit appends, the log's head, and how far the
notification follower is behind it.

The append histograms are kept in this worker's row of the shared cells
(api.metrics.slab), observed by the group committer's threads and by the event loop's
appender: a lock keeps their additions whole. The positions are read from the database
when scraped.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from typing import TYPE_CHECKING

from api.metrics.exposition import Family
from api.metrics.slab import SLAB, Slab
from projections.eventstore.committer import GroupCommitter
from projections.eventstore.log_state import LogState, log_state

if TYPE_CHECKING:
    from api.context import ServerContext

APPEND_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
BATCH_BUCKETS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0)

# Per histogram: one cell per bucket (the last for values above every bound), then the sum.
_APPEND = SLAB.reserve(len(APPEND_BUCKETS) + 2)
_BATCH = SLAB.reserve(len(BATCH_BUCKETS) + 2)


class StoreMetrics:
    def __init__(self, slab: Slab = SLAB) -> None:
        self.slab = slab
        self.cells = slab.row()
        self._lock = threading.Lock()

    def install(self, committer: GroupCommitter) -> None:
        committer.observe_append = self.append_took
        committer.observe_batch = self.batch_committed
        if committer.appender is not None:
            committer.appender.observe_batch = self.batch_committed

    def append_took(self, seconds: float) -> None:
        with self._lock:
            self.cells[_APPEND + bisect_left(APPEND_BUCKETS, seconds)] += 1
            self.cells[_APPEND + len(APPEND_BUCKETS) + 1] += seconds

    def batch_committed(self, changes: int) -> None:
        with self._lock:
            self.cells[_BATCH + bisect_left(BATCH_BUCKETS, changes)] += 1
            self.cells[_BATCH + len(BATCH_BUCKETS) + 1] += changes

    async def families(self, ctx: ServerContext, server: str) -> list[Family]:
        on = {"server": server}
        append = Family(
            "chronicle_eventstore_append_seconds",
            "Time a change waited for its events to be committed to the log (group commit included)",
            "histogram",
        )
        cells = self.slab.totals(_APPEND, len(APPEND_BUCKETS) + 2)
        append.add_histogram(on, APPEND_BUCKETS, cells[:-1], cells[-1])
        batch = Family(
            "chronicle_eventstore_append_batch_size",
            "Changes appended to the log by one group commit",
            "histogram",
        )
        cells = self.slab.totals(_BATCH, len(BATCH_BUCKETS) + 2)
        batch.add_histogram(on, BATCH_BUCKETS, cells[:-1], cells[-1])
        state: LogState = await ctx.read(log_state, ctx.store)
        head = Family(
            "chronicle_eventstore_head_position",
            "Notification id of the newest event in the log",
            "gauge",
        )
        head.add(on, state.head)
        position = Family(
            "chronicle_notify_follower_position",
            "Log position the notification follower has applied up to",
            "gauge",
        )
        position.add(on, state.follower_position)
        lag_events = Family(
            "chronicle_notify_follower_lag_events",
            "Log positions the notification follower has not applied yet",
            "gauge",
        )
        lag_events.add(on, max(0, state.head - state.follower_position))
        lag_seconds = Family(
            "chronicle_notify_follower_lag_seconds",
            "Age of the oldest event the notification follower has not applied yet",
            "gauge",
        )
        oldest = state.oldest_unfollowed
        lag_seconds.add(on, 0.0 if oldest is None else max(0.0, time.time() - oldest))
        return [append, batch, head, position, lag_events, lag_seconds]

"""Which ``request_audit`` rows an audit webhook may send: holes in ``seq``.

``seq`` is assigned when a row is inserted, not when its transaction commits. Several
processes (``--workers``, other nodes) insert batches concurrently, so a reader can see seq
12 committed while 11 is still in an open transaction; moving a position past 11 then would
skip it for good. And a hole can also be permanent: an insert that rolled back (the store
went away mid-batch: the recorder inserts those entries again, under new seqs), or the
values PostgreSQL's sequence skips after a crash.

The choice: deliver the run that follows the position without a hole; a hole holds
delivery back until it is GAP_SETTLE seconds old (counted from when a reader first saw a
higher seq committed), then it is passed over as one that will never fill. The audit
recorder's insert transactions last milliseconds (one COPY or a few INSERTs of at most 500
rows), so a hole still open after ten seconds is, in practice, a rollback; the cost is one
ten-second delay per rollback, and nothing when there is no hole — which a single process
(SQLite: one writer, seqs in commit order) never has except after a rollback. Why not
"deliver only rows older than a settle time": ``time_us`` is when the request was served,
and the recorder may hold entries for long while the store is unreachable, so their age
says nothing about their transaction; and it would delay every entry, not just holes.

For the rare transaction slower than that, a passed hole stays watched for LATE_WINDOW
seconds (in memory): rows that appear in it later are still sent, late and out of order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

log = logging.getLogger("chronicle.audit")

GAP_SETTLE = 10.0
LATE_WINDOW = 600.0


@dataclass
class PassedHole:
    first: int
    last: int
    until: float  # watched until then (clock time)
    sent: set[int] = field(default_factory=set)  # late rows already sent


class SeqGaps:
    def __init__(
        self,
        name: str,
        *,
        settle: float = GAP_SETTLE,
        late_window: float = LATE_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.settle = settle
        self.late_window = late_window
        self._clock = clock
        self._missing_since: dict[int, float] = {}  # a hole's first seq → when first seen
        self.passed: list[PassedHole] = []

    def ready(self, position: int, seqs: Sequence[int]) -> int:
        """How many leading ``seqs`` (ascending, all after ``position``) may be sent now."""
        now = self._clock()
        expect = position + 1
        for i, seq in enumerate(seqs):
            if seq > expect and not self._was_passed(expect, seq - 1):
                since = self._missing_since.setdefault(expect, now)
                if now - since < self.settle:
                    return i
                self._pass(expect, seq - 1, now)
            expect = seq + 1
        return len(seqs)

    def delivered_through(self, position: int) -> None:
        """The position moved: holes that filled (or were passed) before it are over."""
        for first in [s for s in self._missing_since if s <= position]:
            del self._missing_since[first]

    def watched(self) -> list[PassedHole]:
        now = self._clock()
        self.passed = [h for h in self.passed if h.until > now]
        return self.passed

    def _was_passed(self, first: int, last: int) -> bool:
        return any(h.first <= first and last <= h.last for h in self.passed)

    def _pass(self, first: int, last: int, now: float) -> None:
        self._missing_since.pop(first, None)
        self.passed.append(PassedHole(first, last, now + self.late_window))
        log.info(
            "%s: request audit seq %d..%d never committed within %.0fs (a rolled-back insert): passed over, "
            "watched for %.0fs more",
            self.name,
            first,
            last,
            self.settle,
            self.late_window,
        )

"""Links every event into the hash chain, signs checkpoints of its head and publishes them.

One linker is active per deployment (PostgreSQL: a session advisory lock, as the
notification follower holds one; SQLite: the one server process). It reads the events after
the last link in pages and writes their links in one transaction per page, so a page is
linked whole or not at all. Off the request path: appends never wait for it. It looks for
new events at least every POLL seconds and at once when this process commits, so an event is
linked well within a second of its commit (projections.log_follower: POLL, plus LINGER, the
tenth of a second it lets commits gather into one page).

A checkpoint is signed at least every SIGN_EVERY_EVENTS events and every SIGN_EVERY_SECONDS
seconds while events arrive: a page stops at the position where a checkpoint is due.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from domain.chain import GENESIS, Checkpoint, link
from projections.chain import store as chain
from projections.chain.keys import SigningKey
from projections.eventstore.recorder import ChronicleApplication
from projections.eventstore.tx import Tx
from projections.log_follower import LogFollower

log = logging.getLogger("chronicle.chain")

PAGE = 5000
LINGER = 0.1
SIGN_EVERY_EVENTS = 10_000
SIGN_EVERY_SECONDS = 60.0
_LINKER_LOCK = 0x6368726F6E636861  # "chroncha": one active linker across processes

Publish = Callable[[Checkpoint], None]


class ChainLinker(LogFollower):
    lock_key = _LINKER_LOCK
    name = "chain"
    linger = LINGER

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
        super().__init__(app)
        self.key = key
        self.publish = publish
        self.page = page
        self.sign_every_events = sign_every_events
        self.sign_every_seconds = sign_every_seconds
        self.clock = clock
        self._publish_failing = False

    def apply(self, tx: Tx) -> int:
        """Link at most one page; sign a checkpoint when one is due. Returns how many
        events were linked."""
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

    def after(self, transaction: Any) -> None:
        """Publish what is not yet published (a witness that is down is tried next step)."""
        if self.publish is None:
            return
        with transaction() as tx:
            for cp in chain.unpublished_checkpoints(tx):
                try:
                    self.publish(cp)
                except Exception as exc:  # noqa: BLE001 - tried again next step
                    if not self._publish_failing:
                        log.warning("publishing the chain checkpoint at position %d failed: %s", cp.position, exc)
                    self._publish_failing = True
                    return
                if self._publish_failing:
                    log.info("chain checkpoints are published again")
                self._publish_failing = False
                chain.mark_published(tx, cp.position, int(self.clock() * 1_000_000))

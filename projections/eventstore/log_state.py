"""How far the log reaches and how far the notification follower is behind it (read at
scrape time, so every node reports the same figures whichever process follows)."""

from __future__ import annotations

from dataclasses import dataclass

from projections.eventstore.recorder import ChronicleApplication
from projections.eventstore.tx import Tx
from projections.notifications.follower import FOLLOWER_NAME


@dataclass(frozen=True, slots=True)
class LogState:
    head: int  # the newest event's notification id (0: an empty log)
    follower_position: int  # the last one the notification follower applied
    oldest_unfollowed: float | None  # when the first event it has not applied was recorded


def log_state(tx: Tx, app: ChronicleApplication) -> LogState:
    store = app.store
    head = int(tx.scalar(store.head_sql()) or 0)
    position = int(tx.scalar("SELECT position FROM notify_tracking WHERE name = ?", (FOLLOWER_NAME,)) or 0)
    oldest = None
    if head > position:
        row = tx.one(store.events_page_sql(), (position + 1, 1))
        if row is not None:
            oldest = app.decode_row(row).timestamp.timestamp()
    return LogState(head, position, oldest)

"""Notices from any stretch of the log, for readers other than the follower: the listen
API (live, or resumed from a position) and backfills matched against today's rules.

Versioning labels come from the follower's bucket state, which keeps each bucket's whole
versioning history, so they are right for any position the follower has passed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from domain.aggregates import bucket_id
from projections.eventstore.recorder import ChronicleApplication
from projections.eventstore.tx import Tx
from projections.notifications.bucket_state import BucketState
from projections.notifications.events import FIRST_EVENT_OF, Notice, VersioningHistory, notice_of


def first_events(app: ChronicleApplication, tx: Tx, ids: Iterable[UUID]) -> dict[UUID, tuple[int, Any]]:
    """The first event (and its position) of each aggregate."""
    wanted = list(dict.fromkeys(ids))
    out: dict[UUID, tuple[int, Any]] = {}
    store = app.store
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        rows = tx.all(store.first_events_sql(len(chunk)), [store.originator_param(u) for u in chunk])
        for row in rows:
            event = app.decode_row(row)
            out[event.originator_id] = (int(row["notification_id"]), event)
    return out


def read_notices(tx: Tx, app: ChronicleApplication, after: int, limit: int) -> tuple[list[Notice], int, bool]:
    """The notices of up to ``limit`` events after position ``after``, the position read
    up to (``after`` when there was nothing new), and whether the page was full (more
    may follow at once)."""
    rows = tx.all(app.store.events_page_sql(), (after + 1, limit))
    if not rows:
        return [], after, False
    events = [(int(r["notification_id"]), app.decode_row(r)) for r in rows]
    notices = notices_of(tx, app, events)
    return notices, events[-1][0], len(rows) >= limit


def notices_of(tx: Tx, app: ChronicleApplication, events: list[tuple[int, Any]]) -> list[Notice]:
    """The notices of these (position, decoded event) pairs, in their order."""
    firsts = first_events(app, tx, (e.originator_id for _, e in events if type(e) in FIRST_EVENT_OF))
    histories: dict[str, VersioningHistory] = {}
    notices: list[Notice] = []
    for position, event in events:
        created_at, created = firsts.get(event.originator_id, (0, None))
        bucket = getattr(event, "bucket", None) or getattr(created, "bucket", None)
        history = _history(tx, histories, bucket) if bucket else None
        notice = notice_of(position, event, created=created, created_at=created_at, versioning=history)
        if notice is not None:
            notices.append(notice)
    return notices


def _history(tx: Tx, cache: dict[str, VersioningHistory], bucket: str) -> VersioningHistory:
    bid = bucket_id(bucket).hex
    if bid not in cache:
        text = tx.scalar("SELECT config FROM notify_rules WHERE bucket = ?", (bid,))
        cache[bid] = BucketState.loads(text).versioning if text else VersioningHistory()
    return cache[bid]


def log_head(tx: Tx, app: ChronicleApplication) -> int:
    """The newest log position (0 for an empty log)."""
    return int(tx.scalar(app.store.head_sql()) or 0)

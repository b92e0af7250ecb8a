"""Backfill: send a stretch of history to a target again, outside its live delivery.

``rules="recorded"`` re-sends what the target's view holds (the records matched by the
rules as they stood at each event); ``rules="current"`` reads the log itself and matches
each event against the bucket rules as they stand now — e.g. to feed a new downstream
system everything since day one. Either way records go straight to the target in log
order, in batches, retried on failure; the live checkpoint is not touched, so consumers
see some events twice and can drop repeats by ``sequencer``.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.notifications import NotificationConfig, RulesMap, expand, format_event_time, rules_map
from projections.eventstore.deployment import deployment_id
from projections.eventstore.recorder import ChronicleApplication
from projections.eventstore.tx import Tx
from projections.namespace.queries import bucket_config
from projections.notifications.events import NOTIFICATION_SUBRESOURCE, Notice
from projections.notifications.follower import target_name
from projections.notifications.reader import log_head, read_notices
from workers.checkpoints import PendingRecord
from workers.delivery import rekey
from workers.targets import Delivery, Target, TargetError

PAGE = 1000
ATTEMPTS = 8


@dataclass(frozen=True)
class BackfillFilter:
    bucket: str = ""
    prefix: str = ""
    events: frozenset[str] = frozenset()  # single event names; empty = all

    def accepts(self, bucket: str, key: str, event_name: str) -> bool:
        return (
            (not self.bucket or bucket == self.bucket)
            and (not self.prefix or key.startswith(self.prefix))
            and (not self.events or event_name in self.events)
        )

    @classmethod
    def of(cls, bucket: str = "", prefix: str = "", events: list[str] | None = None) -> BackfillFilter:
        names = frozenset(single for name in events or () for single in expand(name))
        return cls(bucket, prefix, names)


@dataclass
class BackfillProgress:
    position: int = 0
    head: int = 0
    sent: int = 0
    start: int = 0


def position_at(app: ChronicleApplication, when: datetime) -> int:
    """The first log position whose event happened at or after ``when`` (binary search:
    event times rise with positions)."""
    store = app.store
    with store.datastore.transaction(commit=False) as cursor:
        tx = Tx(cursor, store.dialect)
        head = log_head(tx, app)

        class _Times:
            def __len__(self) -> int:
                return head

            def __getitem__(self, i: int) -> datetime:
                rows = tx.all(store.events_page_sql(), (i + 1, 1))
                return app.decode_row(rows[0]).timestamp if rows else when

        return bisect.bisect_left(_Times(), when) + 1


def _recorded(tx: Tx, name: str, after: int, flt: BackfillFilter) -> tuple[list[PendingRecord], int, bool]:
    rows = tx.all(
        "SELECT position, event_name, bucket, object_key, event_time, record FROM notify_access_view "
        "WHERE target = ? AND position > ? ORDER BY position LIMIT ?",
        (name, after, PAGE),
    )
    if not rows:
        return [], after, False
    records = [
        PendingRecord(int(r["position"]), r["event_name"], r["bucket"], r["object_key"], r["event_time"], r["record"])
        for r in rows
        if flt.accepts(r["bucket"], r["object_key"], r["event_name"])
    ]
    return records, int(rows[-1]["position"]), len(rows) == PAGE


class _CurrentRules:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self.cache: dict[str, RulesMap] = {}

    def of(self, bucket: str) -> RulesMap:
        if bucket not in self.cache:
            doc = bucket_config(self.tx, bucket, NOTIFICATION_SUBRESOURCE)
            self.cache[bucket] = rules_map(NotificationConfig.from_dict(doc)) if doc else RulesMap()
        return self.cache[bucket]


def _current(
    tx: Tx, app: ChronicleApplication, name: str, after: int, flt: BackfillFilter, region: str
) -> tuple[list[PendingRecord], int, bool]:
    notices, last, full = read_notices(tx, app, after, PAGE)
    rules = _CurrentRules(tx)
    deployment = deployment_id(tx)
    out: list[PendingRecord] = []
    for n in notices:
        if not n.key or not flt.accepts(n.bucket, n.key, n.event_name):
            continue
        if any(target_name(arn) == name for arn in rules.of(n.bucket).match(n.event_name, n.key)):
            out.append(_pending(n, region, deployment))
    return out, last, full


def _pending(n: Notice, region: str, deployment: str) -> PendingRecord:
    record = n.record_bytes(region=region, deployment_id=deployment).decode()
    return PendingRecord(n.position, n.event_name, n.bucket, n.key, format_event_time(n.event_time), record)


def pages(
    app: ChronicleApplication, name: str, start: int, flt: BackfillFilter, *, rules: str, region: str = ""
) -> Iterator[tuple[list[PendingRecord], int, int]]:
    """(records, position read up to, head) for each page from ``start`` on."""
    store = app.store
    after = start - 1
    while True:
        with store.datastore.transaction(commit=False) as cursor:
            tx = Tx(cursor, store.dialect)
            head = log_head(tx, app)
            if rules == "recorded":
                records, after, full = _recorded(tx, name, after, flt)
            else:
                records, after, full = _current(tx, app, name, after, flt, region)
        yield records, after, head
        if not full:
            return


async def backfill(
    app: ChronicleApplication,
    name: str,
    target: Target,
    *,
    start: int,
    flt: BackfillFilter,
    rules: str = "recorded",
    key_encoding: str = "minio",
    region: str = "",
    progress: Callable[[BackfillProgress], None] | None = None,
) -> BackfillProgress:
    state = BackfillProgress(position=max(0, start - 1), start=start)
    await target.open()
    try:
        it = pages(app, name, start, flt, rules=rules, region=region)
        while True:
            page = await asyncio.to_thread(next, it, None)
            if page is None:
                break
            records, state.position, state.head = page
            if records:
                batch = [
                    Delivery(
                        p.position,
                        p.event_name,
                        p.bucket,
                        p.key,
                        p.event_time,
                        rekey(p.record, p.key, key_encoding).encode(),
                    )
                    for p in records
                ]
                await _deliver_with_retries(target, batch)
                state.sent += len(batch)
            if progress is not None:
                progress(state)
    finally:
        await target.close()
    return state


async def _deliver_with_retries(target: Target, batch: list[Delivery]) -> None:
    delay = 0.2
    for attempt in range(ATTEMPTS):
        try:
            await target.deliver(batch)
            return
        except TargetError as e:
            batch = batch[e.delivered :]
            if attempt + 1 == ATTEMPTS:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
            try:
                await target.close()
                await target.open()
            except TargetError:
                pass


def parse_events(text: str) -> list[str]:
    return [e.strip() for e in text.split(",") if e.strip()]


def describe_filter(flt: BackfillFilter) -> dict[str, Any]:
    return {"bucket": flt.bucket, "prefix": flt.prefix, "events": sorted(flt.events)}

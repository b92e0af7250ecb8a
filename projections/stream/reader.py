"""The event stream's read side: change records (domain.change_record) in log order from the
audit index (projections.audit), a page at a time, so that a subscriber far behind is paged
from the store and costs writers nothing. Indexed columns narrow the page in SQL; the rest of
the filter (wildcards, suffix) is applied to the records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from domain.stream_filter import StreamFilter
from projections.audit.queries import indexed_up_to
from projections.eventstore.tx import Tx

PAGE = 500


@dataclass(frozen=True)
class Page:
    records: list[dict[str, Any]]
    # The last position this page looked at: where the next page starts, and what a consumer
    # commits once it has processed `records` (filtered-out events are passed over too).
    through: int
    # Whether the page stopped at its limit (more is indexed already), or read all there was.
    more: bool = False


def read_page(tx: Tx, after: int, wanted: StreamFilter, limit: int = PAGE) -> Page:
    # How far the index reaches is read first: the indexer commits a page with its tracking row,
    # so every position up to it is there, and a page never passes over a row still coming.
    upto = indexed_up_to(tx)
    where = ["position > ?", "position <= ?"]
    params: list[Any] = [after, upto]
    if wanted.buckets:
        where.append(f"bucket IN ({', '.join('?' * len(wanted.buckets))})")
        params += wanted.buckets
    if wanted.kinds:
        where.append(f"kind IN ({', '.join('?' * len(wanted.kinds))})")
        params += wanted.kinds
    if wanted.principal is not None:
        where.append("(access_key = ? OR parent_user = ?)")
        params += [wanted.principal, wanted.principal]
    rows = tx.all(
        f"SELECT position, record FROM audit_index WHERE {' AND '.join(where)} ORDER BY position LIMIT ?",
        (*params, limit),
    )
    more = len(rows) == limit
    through = int(rows[-1]["position"]) if more else max(after, upto)
    records = [orjson.loads(r["record"]) for r in rows]
    return Page([r for r in records if wanted.matches(r)], through, more)


def start_after(tx: Tx, start: str) -> int:
    """The position a stream starts after: `beginning` (0), `now` (what is indexed so far),
    a position N (N itself is the first one sent), or an ISO 8601 time (the first event at
    or after it)."""
    if start == "beginning":
        return 0
    if start == "now":
        return indexed_up_to(tx)
    if start.isdigit():
        return max(int(start) - 1, 0)
    from_us = _time_us(start)
    first = tx.scalar("SELECT MIN(position) FROM audit_index WHERE time_us >= ?", (from_us,))
    return int(first) - 1 if first is not None else indexed_up_to(tx)


def _time_us(value: str) -> int:
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1_000_000)

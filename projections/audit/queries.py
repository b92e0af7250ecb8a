"""The audit questions, answered from the audit index (never by scanning the log): every
change to a bucket, a key or a prefix, by a principal, from an address, of an event or kind,
within a time range — each filter served by one of the index's indexes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from domain.change_record import KINDS
from projections.eventstore.tx import Tx


@dataclass(frozen=True)
class AuditQuery:
    bucket: str | None = None
    key: str | None = None
    prefix: str | None = None
    principal: str | None = None  # an access key or a (parent) user name
    source_ip: str | None = None
    event: str | None = None  # an event name (ObjectVersion.Created), or a kind (object, iam, ...)
    since_us: int | None = None
    until_us: int | None = None
    after_position: int = 0
    limit: int = 1000


def search(tx: Tx, q: AuditQuery) -> list[dict[str, Any]]:
    where = ["position > ?"]
    params: list[Any] = [q.after_position]
    if q.bucket is not None:
        where.append("bucket = ?")
        params.append(q.bucket)
    if q.key is not None:
        where.append("key = ?")
        params.append(q.key)
    elif q.prefix:
        where.append("key >= ? AND key < ?")
        params += [q.prefix, _after_prefix(q.prefix)]
    if q.principal is not None:
        where.append("(access_key = ? OR parent_user = ? OR (kind = 'iam' AND subject = ?))")
        params += [q.principal, q.principal, q.principal]
    if q.source_ip is not None:
        where.append("source_ip = ?")
        params.append(q.source_ip)
    if q.event:
        if q.event in KINDS:
            where.append("kind = ?")
            params.append(q.event)
        elif q.event.endswith(".*"):
            where.append("event >= ? AND event < ?")
            stem = q.event[:-1]
            params += [stem, _after_prefix(stem)]
        else:
            where.append("event = ?")
            params.append(q.event)
    if q.since_us is not None:
        where.append("time_us >= ?")
        params.append(q.since_us)
    if q.until_us is not None:
        where.append("time_us < ?")
        params.append(q.until_us)
    rows = tx.all(
        f"SELECT record FROM audit_index WHERE {' AND '.join(where)} ORDER BY position LIMIT ?", (*params, q.limit)
    )
    return [orjson.loads(r["record"]) for r in rows]


def indexed_up_to(tx: Tx) -> int:
    return int(tx.scalar("SELECT position FROM audit_tracking WHERE name = 'audit'") or 0)


def _after_prefix(prefix: str) -> str:
    """The smallest string greater than every string starting with `prefix` (byte order)."""
    return prefix + "\U0010ffff"

"""The audit questions, answered from the audit index (never by scanning the log): every
change to a bucket, a key or a prefix, by a principal, from an address, of an event or kind,
within a time range — each filter served by one of the index's indexes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from domain.change_record import KINDS
from projections.audit.where import Where
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
    where = Where("position > ?", q.after_position).equal("bucket", q.bucket).key("key", q.key, q.prefix)
    if q.principal is not None:
        where.add("(access_key = ? OR parent_user = ? OR (kind = 'iam' AND subject = ?))", *[q.principal] * 3)
    where.equal("source_ip", q.source_ip)
    if q.event in KINDS:
        where.add("kind = ?", q.event)
    elif q.event and q.event.endswith(".*"):
        where.key("event", None, q.event[:-1])
    else:
        where.equal("event", q.event or None)
    where.time(q.since_us, q.until_us)
    sql = f"SELECT record FROM audit_index WHERE {where.sql} ORDER BY position LIMIT ?"
    rows = tx.all(sql, (*where.params, q.limit))
    return [orjson.loads(r["record"]) for r in rows]


def indexed_up_to(tx: Tx) -> int:
    return int(tx.scalar("SELECT position FROM audit_tracking WHERE name = 'audit'") or 0)

"""The request audit's questions (api.audit.recorder writes the table): requests by bucket,
key or prefix, principal, source address, status and time — each served by an index."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from projections.audit.where import Where
from projections.eventstore.tx import Tx


@dataclass(frozen=True)
class RequestQuery:
    bucket: str | None = None
    key: str | None = None
    prefix: str | None = None
    principal: str | None = None  # an access key or its parent user
    source_ip: str | None = None
    status: int | None = None
    since_us: int | None = None
    until_us: int | None = None
    after_seq: int = 0
    limit: int = 1000


def search_requests(tx: Tx, q: RequestQuery) -> list[tuple[int, dict[str, Any]]]:
    """(seq, MinIO audit entry) of the matching requests, oldest first."""
    where = Where("seq > ?", q.after_seq).equal("bucket", q.bucket).key("object", q.key, q.prefix)
    if q.principal is not None:
        where.add("(access_key = ? OR parent_user = ?)", q.principal, q.principal)
    where.equal("source_ip", q.source_ip).equal("status_code", q.status).time(q.since_us, q.until_us)
    sql = f"SELECT seq, entry FROM request_audit WHERE {where.sql} ORDER BY seq LIMIT ?"
    rows = tx.all(sql, (*where.params, q.limit))
    return [(int(r["seq"]), orjson.loads(r["entry"])) for r in rows]

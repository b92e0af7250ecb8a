"""The request audit's questions (api.audit.recorder writes the table): requests by bucket,
key or prefix, principal, source address, status and time — each served by an index."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

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
    where = ["seq > ?"]
    params: list[Any] = [q.after_seq]
    if q.bucket is not None:
        where.append("bucket = ?")
        params.append(q.bucket)
    if q.key is not None:
        where.append("object = ?")
        params.append(q.key)
    elif q.prefix:
        where.append("object >= ? AND object < ?")
        params += [q.prefix, q.prefix + "\U0010ffff"]
    if q.principal is not None:
        where.append("(access_key = ? OR parent_user = ?)")
        params += [q.principal, q.principal]
    if q.source_ip is not None:
        where.append("source_ip = ?")
        params.append(q.source_ip)
    if q.status is not None:
        where.append("status_code = ?")
        params.append(q.status)
    if q.since_us is not None:
        where.append("time_us >= ?")
        params.append(q.since_us)
    if q.until_us is not None:
        where.append("time_us < ?")
        params.append(q.until_us)
    rows = tx.all(
        f"SELECT seq, entry FROM request_audit WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?", (*params, q.limit)
    )
    return [(int(r["seq"]), orjson.loads(r["entry"])) for r in rows]

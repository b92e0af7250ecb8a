"""``GET /minio/admin/v3/chronicle/audit``: the audit questions `chronicle audit` answers, for
scripts and consoles (Chronicle's own admin call; MinIO has none). Changes from the audit index,
or — with ``requests=true`` — recorded requests from the request audit. Allowed by
``admin:ServerTrace`` (the right to watch what the server does, request by request).

Query: bucket, key | prefix, principal, sourceIp, event (changes), status (requests),
since / until (ISO 8601), after (a position, or a request's seq, to page), limit (1-10000)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from api.admin.errors import invalid_argument
from api.response import Response
from projections.audit.queries import AuditQuery, indexed_up_to, search
from projections.audit.requests import RequestQuery, search_requests

if TYPE_CHECKING:
    from api.admin.call import AdminCall

MAX_LIMIT = 10_000


async def audit_query(call: AdminCall) -> Response:
    await call.authorize()
    bucket = call.q("bucket") or None
    key, prefix = call.q("key") or None, call.q("prefix") or None
    if (key or prefix) and not bucket:
        raise invalid_argument("key and prefix need bucket")
    if key and prefix:
        raise invalid_argument("give key or prefix, not both")
    common: dict[str, Any] = {
        "bucket": bucket,
        "key": key,
        "prefix": prefix,
        "principal": call.q("principal") or None,
        "source_ip": call.q("sourceIp") or None,
        "since_us": _time_us(call.q("since"), "since"),
        "until_us": _time_us(call.q("until"), "until"),
        "limit": _number(call.q("limit") or "1000", "limit", 1, MAX_LIMIT),
    }
    after = _number(call.q("after") or "0", "after", 0, 2**62)
    if call.q("requests").lower() == "true":
        status = call.q("status")
        query = RequestQuery(**common, status=_number(status, "status", 100, 599) if status else None, after_seq=after)
        found = await call.read(search_requests, query)
        return call.json({"requests": [e for _, e in found], "next": found[-1][0] if found else after})
    if call.q("status"):
        raise invalid_argument("status filters requests: add requests=true")
    records = await call.read(search, AuditQuery(**common, event=call.q("event") or None, after_position=after))
    return call.json(
        {
            "records": records,
            "next": records[-1]["position"] if records else after,
            "indexedUpTo": await call.read(indexed_up_to),
        }
    )


def _number(raw: str, name: str, low: int, high: int) -> int:
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise invalid_argument(f"{name} must be a whole number from {low} to {high}")
    return int(raw)


def _time_us(raw: str, name: str) -> int | None:
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise invalid_argument(f"{name} must be an ISO 8601 time (2026-11-20T09:00:00Z)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1_000_000)

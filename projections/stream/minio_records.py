"""MinIO's notification record alongside a change record (its `minio` field): the record
MinIO's listen API sends for that event (the element of its `Records` list, keys unescaped as
the listen API gives them), so that a consumer written for MinIO's events keeps working.

Added as the stream reads a page, not kept in the audit index: the region is a server
setting, and `chronicle audit` has no use for it. Only events that make a MinIO notice get one
(object created, removed, accessed, tagged; bucket created and removed)."""

from __future__ import annotations

from typing import Any

from projections.eventstore.recorder import ChronicleApplication
from projections.eventstore.tx import Tx
from projections.notifications.reader import notices_of

# Kinds whose events may make a MinIO notice; others are not looked up.
NOTICE_KINDS = ("object", "access", "bucket")
# A run of wanted positions is read in one query when the gaps between them are this small.
MAX_GAP = 64


def add_minio_records(
    tx: Tx, app: ChronicleApplication, records: list[dict[str, Any]], region: str, deployment_id: str
) -> None:
    wanted = {int(r["position"]) for r in records if r.get("kind") in NOTICE_KINDS}
    if not wanted:
        return
    rows: list[dict[str, Any]] = []
    for start, count in _runs(sorted(wanted)):
        rows += tx.all(app.store.events_page_sql(), (start, count))
    events = [(p, app.decode_row(r)) for r in rows if (p := int(r["notification_id"])) in wanted]
    by_position = {
        n.position: n.record(region=region, key_encoding="raw", deployment_id=deployment_id)
        for n in notices_of(tx, app, events)
    }
    for record in records:
        minio = by_position.get(int(record["position"]))
        if minio is not None:
            record["minio"] = minio


def _runs(positions: list[int]) -> list[tuple[int, int]]:
    """(first position, how many to read) covering `positions` (ascending), few reads and
    little read in vain."""
    runs: list[tuple[int, int]] = []
    start = last = positions[0]
    for position in positions[1:]:
        if position - last > MAX_GAP:
            runs.append((start, last - start + 1))
            start = position
        last = position
    runs.append((start, last - start + 1))
    return runs

"""What the history keeps readable: the blobs of versions superseded within their bucket's
retention window (the bucket's own, set by Bucket.HistoryRetentionSet into ns_bucket_retention,
else the server default CHRONICLE_HISTORY_RETENTION), of versions still current in the history,
and of every version whose event the history follower has not indexed yet (its row may be
missing, or still open, when garbage collection looks). workers.blob_gc spares them; an as-of
read of a version past its window is refused (api.s3.as_of), whether or not GC has run yet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.aggregates import ObjectVersion
from projections.eventstore.recorder import ChronicleApplication
from projections.eventstore.tx import Tx
from projections.history.queries import indexed

PAGE = 2000

# Rows still open, or closed at or after the start of their bucket's window. Parameters: now
# (µs), the server default window (µs). One statement: the buckets' own windows come in by a
# join, so a pass costs the same with one bucket setting or a thousand.
_KEPT = (
    "LEFT JOIN ns_bucket_retention r ON r.bucket = h.bucket "
    "WHERE h.to_us IS NULL OR h.to_us >= ? - COALESCE(r.seconds * 1000000, ?)"
)
# The ids of the blobs history rows keep, in each dialect.
RETAINED = {
    "postgres": (
        "SELECT s->>'id' AS id FROM ns_history h "
        f"CROSS JOIN LATERAL jsonb_array_elements(h.blob::jsonb -> 'segments') s {_KEPT}"
    ),
    "sqlite": (
        "SELECT json_extract(s.value, '$.id') AS id FROM ns_history h "
        f"CROSS JOIN json_each(h.blob, '$.segments') s {_KEPT}"
    ),
}


@dataclass(frozen=True, slots=True)
class Window:
    """A bucket's history retention: its own (`own`), or the server default."""

    seconds: float
    own: bool


def window_of(tx: Tx, bucket: str, default_seconds: float) -> Window:
    seconds = tx.scalar("SELECT seconds FROM ns_bucket_retention WHERE bucket = ?", (bucket,))
    return Window(float(default_seconds), False) if seconds is None else Window(float(seconds), True)


def unindexed_blob_ids(tx: Tx, app: ChronicleApplication) -> set[str]:
    """Blob ids of the object versions created after the history's position, read in `tx`'s
    snapshot (usually none or a few: the follower is woken by every commit)."""
    position = indexed(tx)[0]
    ids: set[str] = set()
    while True:
        rows = tx.all(app.store.events_page_sql(), (position + 1, PAGE))
        if not rows:
            return ids
        for row in rows:
            event: Any = app.decode_row(row)
            if type(event) is ObjectVersion.Created:
                ids.update(seg["id"] for seg in (event.blob or {}).get("segments", []))
        position = int(rows[-1]["notification_id"])

"""What the history keeps readable: the blobs of versions superseded within the retention
window (CHRONICLE_HISTORY_RETENTION), of versions still current in the history, and of every
version whose event the history follower has not indexed yet (its row may be missing, or
still open, when garbage collection looks). workers.blob_gc spares them."""

from __future__ import annotations

from typing import Any

from domain.aggregates import ObjectVersion
from projections.eventstore.recorder import ChronicleApplication
from projections.eventstore.tx import Tx
from projections.history.queries import indexed

PAGE = 2000

# The ids of the blobs history rows reference, in each dialect: rows still open or closed at
# or after the parameter (µs).
RETAINED = {
    "postgres": (
        "SELECT s->>'id' AS id FROM ns_history h "
        "CROSS JOIN LATERAL jsonb_array_elements(h.blob::jsonb -> 'segments') s "
        "WHERE h.to_us IS NULL OR h.to_us >= ?"
    ),
    "sqlite": (
        "SELECT json_extract(s.value, '$.id') AS id FROM ns_history h, json_each(h.blob, '$.segments') s "
        "WHERE h.to_us IS NULL OR h.to_us >= ?"
    ),
}


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

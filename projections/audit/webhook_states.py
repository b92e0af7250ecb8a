"""Where each ``audit_webhook`` target's delivery stands (workers.audit_delivery writes
``audit_webhook_checkpoints``): the ``request_audit`` seq delivered up to, the entries
recorded after it, counters and the last error. Read for the Prometheus metrics."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from projections.eventstore.tx import Tx


def audit_webhook_states(tx: Tx, configured: Iterable[str]) -> list[dict[str, Any]]:
    """One state per configured target (``audit_webhook:1``); one not claimed yet starts
    at the table's end, so nothing is queued for it. ``queued`` counts seqs, so an insert
    that rolled back (a hole, see workers.audit_gaps) is counted until passed over."""
    names = sorted(configured)
    if not names:
        return []
    marks = ", ".join("?" * len(names))
    rows = {r["target"]: r for r in tx.all(f"SELECT * FROM audit_webhook_checkpoints WHERE target IN ({marks})", names)}
    head = int(tx.scalar("SELECT COALESCE(MAX(seq), 0) FROM request_audit") or 0)
    out = []
    for name in names:
        cp = rows.get(name) or {}
        position = int(cp["position"]) if cp else head
        out.append(
            {
                "target": name,
                "position": position,
                "queued": max(0, head - position),
                "delivered": int(cp.get("delivered") or 0),
                "failed": int(cp.get("failed") or 0),
                "last_error": cp.get("last_error") or "",
                "failing": int(cp.get("last_error_us") or 0) > int(cp.get("last_delivery_us") or 0),
            }
        )
    return out

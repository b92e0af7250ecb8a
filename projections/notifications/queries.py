"""Read views of notification delivery: each target's state and lag."""

from __future__ import annotations

from typing import Any

from projections.eventstore.tx import Tx


def target_states(tx: Tx, configured: list[str] | tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The delivery state (checkpoint, counters, last error) of every target that has one
    or is ``configured`` ("notify_redis:1"), and its lag: the records in its view not yet
    confirmed, and the event time of the oldest of them."""
    checkpoints = {r["target"]: r for r in tx.all("SELECT * FROM notify_checkpoints")}
    out = []
    for name in sorted(set(checkpoints) | set(configured)):
        head = tx.scalar("SELECT MAX(position) FROM notify_access_view WHERE target = ?", (name,))
        cp = checkpoints.get(name) or {}
        position = int(cp.get("position") or 0)
        lag = (
            tx.one(
                "SELECT COUNT(*) AS n, MIN(event_time) AS oldest FROM notify_access_view "
                "WHERE target = ? AND position > ?",
                (name, position),
            )
            or {}
        )
        out.append(
            {
                "target": name,
                "checkpoint": position,
                "head": int(head or 0),
                "lag_events": int(lag.get("n") or 0),
                "oldest_pending": lag.get("oldest") or "",
                "epoch": int(cp.get("epoch") or 0),
                "delivered": int(cp.get("delivered") or 0),
                "failed": int(cp.get("failed") or 0),
                "last_error": cp.get("last_error") or "",
                "last_error_us": int(cp.get("last_error_us") or 0),
                "last_delivery_us": int(cp.get("last_delivery_us") or 0),
            }
        )
    return out

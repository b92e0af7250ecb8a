"""The request audit's webhooks in the Prometheus metrics, under MinIO's v2 names for its
audit targets (cmd/metrics-v2.go: ``minio_audit_total_messages``,
``minio_audit_failed_messages``, ``minio_audit_target_queue_length``, label ``target_id``),
and ``chronicle_audit_target_*``. From the database, so every node reports the same figures
whichever one delivers; unlike MinIO's, the counters survive restarts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from api.metrics.exposition import Family
from projections.audit.webhook_states import audit_webhook_states

if TYPE_CHECKING:
    from api.context import ServerContext


async def audit_webhook_families(ctx: ServerContext, server: str) -> list[Family]:
    configured = [f"{t.subsystem}:{t.id}" for t in (await ctx.current_targets()).audit if t.enabled]
    if not configured:
        return []
    states: list[dict[str, Any]] = await ctx.read(audit_webhook_states, configured)
    families = {
        "delivered": Family("minio_audit_total_messages", "Total number of messages sent since start", "counter"),
        "failed": Family(
            "minio_audit_failed_messages", "Total number of messages that failed to send since start", "counter"
        ),
        "queued": Family("minio_audit_target_queue_length", "Number of unsent messages in queue for target", "gauge"),
        "position": Family("chronicle_audit_target_position", "Request audit entry (seq) delivered up to", "gauge"),
        "up": Family("chronicle_audit_target_up", "1 unless the last delivery attempt failed", "gauge"),
    }
    for s in states:
        labels = {"target_id": s["target"].partition(":")[2], "server": server}
        for key in ("delivered", "failed", "queued", "position"):
            families[key].add(labels, s[key])
        families["up"].add(labels, 0 if s["failing"] else 1)
    return list(families.values())

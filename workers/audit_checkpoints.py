"""Where each ``audit_webhook`` target stands in the ``request_audit`` table: the seq
delivered up to, claimed and fenced exactly as a notification target's checkpoint
(workers.checkpoints: a PostgreSQL advisory lock per target, an epoch every checkpoint
write compares), in ``audit_webhook_checkpoints`` (migration 0015) and a lock key space of
its own; plus the reads of the table the delivery loop needs."""

from __future__ import annotations

from projections.eventstore.tx import Tx
from workers.checkpoints import CheckpointStore, now_us

_AUDIT_LOCK_NAMESPACE = 0x43484155  # "CHAU": the advisory-lock key space of audit webhooks

Entry = tuple[int, str]  # (seq, the entry's JSON text)


class AuditCheckpointStore(CheckpointStore):
    TABLE = "audit_webhook_checkpoints"
    LOCK_NAMESPACE = _AUDIT_LOCK_NAMESPACE

    def initial_position(self, tx: Tx) -> int:
        """A target claimed for the first time gets what is recorded from then on, as a
        MinIO audit target does (the history stays queryable and exportable)."""
        return int(tx.scalar("SELECT COALESCE(MAX(seq), 0) FROM request_audit") or 0)

    def read_entries(self, after: int, limit: int) -> list[Entry]:
        """Up to ``limit`` entries after seq ``after``, in seq order."""
        sql = "SELECT seq, entry FROM request_audit WHERE seq > ? ORDER BY seq LIMIT ?"
        rows = self._run(lambda tx: tx.all(sql, (after, limit)), write=False)
        return [(int(r["seq"]), r["entry"]) for r in rows]

    def read_range(self, first: int, last: int) -> list[Entry]:
        """The entries whose seq is in [first, last] (a hole passed over: see workers.audit_gaps)."""
        sql = "SELECT seq, entry FROM request_audit WHERE seq >= ? AND seq <= ? ORDER BY seq"
        rows = self._run(lambda tx: tx.all(sql, (first, last)), write=False)
        return [(int(r["seq"]), r["entry"]) for r in rows]

    def skip(self, position: int) -> None:
        """Move the position past entries given up (max_retry), counting none as delivered."""
        self._update_ours("position = ?, updated_us = ?", (position, now_us()))

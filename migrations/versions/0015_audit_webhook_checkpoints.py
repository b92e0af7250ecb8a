"""Delivery of the request audit to audit_webhook targets: per target, the `request_audit`
seq delivered up to, the fencing epoch of the worker that delivers it, and counters (the
same columns as notify_checkpoints). Not a projection: replay leaves it alone, as it leaves
`request_audit`.

Revision ID: 0015_audit_webhook_checkpoints
Revises: 0014_history
"""

from alembic import op

revision = "0015_audit_webhook_checkpoints"
down_revision = "0014_history"


def upgrade() -> None:
    b = "BIGINT" if op.get_bind().dialect.name == "postgresql" else "INTEGER"
    op.execute(
        f"""CREATE TABLE IF NOT EXISTS audit_webhook_checkpoints (
            target TEXT PRIMARY KEY, position {b} NOT NULL, epoch {b} NOT NULL,
            delivered {b} NOT NULL, failed {b} NOT NULL, last_error TEXT NOT NULL,
            last_error_us {b} NOT NULL, last_delivery_us {b} NOT NULL, updated_us {b} NOT NULL)"""
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS audit_webhook_checkpoints")

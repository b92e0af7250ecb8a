"""Durable subscriptions to the event stream: each named consumer's committed position and the user
it belongs to ('' for one made by `chronicle events tail`, which reads the database itself). Not a
projection (replay keeps it): it records what a consumer has processed, not what happened.

Revision ID: 0012_event_consumers
Revises: 0011_audit_index
"""

from alembic import op

revision = "0012_event_consumers"
down_revision = "0011_audit_index"


def upgrade() -> None:
    bigint = "BIGINT" if op.get_bind().dialect.name == "postgresql" else "INTEGER"
    op.execute(
        f"CREATE TABLE IF NOT EXISTS event_consumers (name TEXT PRIMARY KEY, position {bigint} NOT NULL, "
        f"committed_us {bigint} NOT NULL, owner TEXT NOT NULL DEFAULT '')"
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS event_consumers")

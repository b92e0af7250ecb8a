"""The subscriptions generation counter (projections/notifications/subscriptions_generation.py): a GET
reads it with its bucket row to know whether its node's s3:ObjectAccessed subscriptions
cache is stale. Not a projection: replay leaves it alone.

The DDL is written out here (not taken from the schema module) so that this migration
keeps creating what it created when it was written.

Revision ID: 0009_subscriptions_generation
Revises: 0008_blob_age
"""

from alembic import op

revision = "0009_subscriptions_generation"
down_revision = "0008_blob_age"


def upgrade() -> None:
    bigint = "BIGINT" if op.get_bind().dialect.name == "postgresql" else "INTEGER"
    op.execute(
        f"CREATE TABLE IF NOT EXISTS notify_subscriptions_generation (id INTEGER PRIMARY KEY, gen {bigint} NOT NULL)"
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS notify_subscriptions_generation")

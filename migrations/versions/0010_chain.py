"""The hash chain beside the log: one link per event, signed checkpoints of the head, and the
signing keys (private key sealed with the master key). Not projections: replay keeps them.

Revision ID: 0010_chain
Revises: 0009_subscriptions_generation
"""

from alembic import op

revision = "0010_chain"
down_revision = "0009_subscriptions_generation"


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    bigint, blob = ("BIGINT", "BYTEA") if pg else ("INTEGER", "BLOB")
    op.execute(f"CREATE TABLE IF NOT EXISTS chain_links (position {bigint} PRIMARY KEY, link {blob} NOT NULL)")
    op.execute(
        f"""CREATE TABLE IF NOT EXISTS chain_checkpoints (
            position {bigint} PRIMARY KEY, link {blob} NOT NULL, time_us {bigint} NOT NULL,
            signature {blob} NOT NULL, key_id TEXT NOT NULL, published_us {bigint})"""
    )
    op.execute(
        f"""CREATE TABLE IF NOT EXISTS chain_keys (
            id TEXT PRIMARY KEY, public_key {blob} NOT NULL, sealed_private_key TEXT NOT NULL,
            created_us {bigint} NOT NULL)"""
    )


def downgrade() -> None:
    for table in ("chain_keys", "chain_checkpoints", "chain_links"):
        op.execute(f"DROP TABLE IF EXISTS {table}")

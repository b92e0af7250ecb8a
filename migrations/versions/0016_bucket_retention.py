"""Each bucket's own history retention (Bucket.HistoryRetentionSet / HistoryRetentionCleared):
seconds its superseded data stays readable as of the past, where the bucket has a window of its
own. Part of the namespace projection (inline, rebuilt by replay); garbage collection joins it on
the history view's bucket names.

Revision ID: 0016_bucket_retention
Revises: 0015_audit_webhook_checkpoints
"""

from alembic import op

revision = "0016_bucket_retention"
down_revision = "0015_audit_webhook_checkpoints"


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    bigint, text_key = ("BIGINT", 'TEXT COLLATE "C"') if pg else ("INTEGER", "TEXT")
    op.execute(
        f"""CREATE TABLE IF NOT EXISTS ns_bucket_retention (
            bucket {text_key} PRIMARY KEY, seconds {bigint} NOT NULL, position {bigint} NOT NULL)"""
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS ns_bucket_retention")

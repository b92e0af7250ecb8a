"""The audit index: one row per event (what, where, who, from where, when), indexed for the
questions `chronicle audit` answers. A projection of the log, rebuilt by replay.

Revision ID: 0011_audit_index
Revises: 0010_chain
"""

from alembic import op

revision = "0011_audit_index"
down_revision = "0010_chain"


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    bigint, text_key = ("BIGINT", 'TEXT COLLATE "C"') if pg else ("INTEGER", "TEXT")
    op.execute(
        f"""CREATE TABLE IF NOT EXISTS audit_index (
            position {bigint} PRIMARY KEY, time_us {bigint} NOT NULL, kind TEXT NOT NULL, event TEXT NOT NULL,
            bucket {text_key} NOT NULL, key {text_key} NOT NULL, subject {text_key} NOT NULL,
            access_key TEXT NOT NULL, parent_user TEXT NOT NULL, source_ip TEXT NOT NULL, record TEXT NOT NULL)"""
    )
    for name, columns in (
        ("audit_by_key", "bucket, key, position"),
        ("audit_by_subject", "subject, position"),
        ("audit_by_access_key", "access_key, position"),
        ("audit_by_parent_user", "parent_user, position"),
        ("audit_by_source_ip", "source_ip, position"),
        ("audit_by_time", "time_us, position"),
        ("audit_by_event", "event, position"),
    ):
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON audit_index ({columns})")
    op.execute(f"CREATE TABLE IF NOT EXISTS audit_tracking (name TEXT PRIMARY KEY, position {bigint} NOT NULL)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS audit_tracking")
    op.execute("DROP TABLE IF EXISTS audit_index")

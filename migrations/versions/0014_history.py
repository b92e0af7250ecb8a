"""The history view: one row per object version (or delete marker) with the positions and
times between which it was part of the namespace, one per bucket life, and the time of each
event it applied — what point-in-time reads (x-chronicle-as-of) answer from. A projection of
the log built by a follower, rebuilt by replay.

Revision ID: 0014_history
Revises: 0013_request_audit
"""

from alembic import op

revision = "0014_history"
down_revision = "0013_request_audit"


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    bigint, text_key = ("BIGINT", 'TEXT COLLATE "C"') if pg else ("INTEGER", "TEXT")
    op.execute(
        f"""CREATE TABLE IF NOT EXISTS ns_history (
            id TEXT PRIMARY KEY, bucket {text_key} NOT NULL, key {text_key} NOT NULL, version_id TEXT NOT NULL,
            from_position {bigint} NOT NULL, from_us {bigint} NOT NULL, to_position {bigint}, to_us {bigint},
            is_delete_marker BOOLEAN NOT NULL, size {bigint} NOT NULL, etag TEXT NOT NULL,
            mtime_us {bigint} NOT NULL, content_type TEXT NOT NULL, headers TEXT NOT NULL, metadata TEXT NOT NULL,
            blob TEXT NOT NULL, checksum TEXT NOT NULL, tags TEXT NOT NULL, parts TEXT NOT NULL,
            owner TEXT NOT NULL, operation TEXT NOT NULL, acl TEXT NOT NULL)"""
    )
    op.execute("CREATE INDEX IF NOT EXISTS ns_history_by_key ON ns_history (bucket, key, from_position DESC)")
    op.execute("CREATE INDEX IF NOT EXISTS ns_history_by_end ON ns_history (to_us)")
    op.execute(
        f"""CREATE TABLE IF NOT EXISTS ns_history_buckets (
            name {text_key} NOT NULL, id TEXT NOT NULL, from_position {bigint} NOT NULL, to_position {bigint},
            versioning TEXT NOT NULL, PRIMARY KEY (name, from_position))"""
    )
    op.execute(
        f"CREATE TABLE IF NOT EXISTS ns_history_clock (position {bigint} PRIMARY KEY, time_us {bigint} NOT NULL)"
    )
    op.execute("CREATE INDEX IF NOT EXISTS ns_history_clock_by_time ON ns_history_clock (time_us, position)")
    op.execute(
        f"""CREATE TABLE IF NOT EXISTS ns_history_tracking (
            name TEXT PRIMARY KEY, position {bigint} NOT NULL, time_us {bigint} NOT NULL)"""
    )


def downgrade() -> None:
    for table in ("ns_history_tracking", "ns_history_clock", "ns_history_buckets", "ns_history"):
        op.execute(f"DROP TABLE IF EXISTS {table}")

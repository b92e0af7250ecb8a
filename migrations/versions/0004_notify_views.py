"""Notification follower views, its tracking row and per-target delivery checkpoints.

Revision ID: 0004_notify_views
Revises: 0003_acl
"""

from alembic import op

revision = "0004_notify_views"
down_revision = "0003_acl"

# The statements this migration runs, written out: a migration never changes once released
# (a change to a schema module needs a new migration; tests/integration/test_migrations.py
# compares what the migrations create with what the schema modules declare).
POSTGRES = (
    "CREATE TABLE IF NOT EXISTS notify_rules (bucket TEXT PRIMARY KEY, config TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS notify_access_view (
            target TEXT NOT NULL, position BIGINT NOT NULL, event_name TEXT NOT NULL,
            bucket TEXT NOT NULL, object_key TEXT NOT NULL, event_time TEXT NOT NULL,
            record TEXT NOT NULL, PRIMARY KEY (target, position))""",
    """CREATE TABLE IF NOT EXISTS notify_namespace_view (
            target TEXT NOT NULL, bucket TEXT NOT NULL, object_key TEXT NOT NULL,
            position BIGINT NOT NULL, record TEXT NOT NULL, PRIMARY KEY (target, bucket, object_key))""",
    "CREATE TABLE IF NOT EXISTS notify_tracking (name TEXT PRIMARY KEY, position BIGINT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS notify_checkpoints (
            target TEXT PRIMARY KEY, position BIGINT NOT NULL, epoch BIGINT NOT NULL,
            delivered BIGINT NOT NULL, failed BIGINT NOT NULL, last_error TEXT NOT NULL,
            last_error_us BIGINT NOT NULL, last_delivery_us BIGINT NOT NULL, updated_us BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS notify_listeners (
            id TEXT PRIMARY KEY, bucket TEXT NOT NULL, events TEXT NOT NULL, pattern TEXT NOT NULL,
            expires_us BIGINT NOT NULL)""",
)

SQLITE = (
    "CREATE TABLE IF NOT EXISTS notify_rules (bucket TEXT PRIMARY KEY, config TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS notify_access_view (
            target TEXT NOT NULL, position INTEGER NOT NULL, event_name TEXT NOT NULL,
            bucket TEXT NOT NULL, object_key TEXT NOT NULL, event_time TEXT NOT NULL,
            record TEXT NOT NULL, PRIMARY KEY (target, position))""",
    """CREATE TABLE IF NOT EXISTS notify_namespace_view (
            target TEXT NOT NULL, bucket TEXT NOT NULL, object_key TEXT NOT NULL,
            position INTEGER NOT NULL, record TEXT NOT NULL, PRIMARY KEY (target, bucket, object_key))""",
    "CREATE TABLE IF NOT EXISTS notify_tracking (name TEXT PRIMARY KEY, position INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS notify_checkpoints (
            target TEXT PRIMARY KEY, position INTEGER NOT NULL, epoch INTEGER NOT NULL,
            delivered INTEGER NOT NULL, failed INTEGER NOT NULL, last_error TEXT NOT NULL,
            last_error_us INTEGER NOT NULL, last_delivery_us INTEGER NOT NULL, updated_us INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS notify_listeners (
            id TEXT PRIMARY KEY, bucket TEXT NOT NULL, events TEXT NOT NULL, pattern TEXT NOT NULL,
            expires_us INTEGER NOT NULL)""",
)

TABLES = (
    "notify_rules",
    "notify_access_view",
    "notify_namespace_view",
    "notify_tracking",
    "notify_checkpoints",
    "notify_listeners",
)


def upgrade() -> None:
    for statement in POSTGRES if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(statement)


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TABLE IF EXISTS {table}")

"""Notification target configuration (inline projection) and its generation number.

Revision ID: 0005_notify_targets
Revises: 0004_notify_views
"""

from alembic import op

revision = "0005_notify_targets"
down_revision = "0004_notify_views"

# The statements this migration runs, written out: a migration never changes once released
# (a change to a schema module needs a new migration; tests/integration/test_migrations.py
# compares what the migrations create with what the schema modules declare).
POSTGRES = (
    """CREATE TABLE IF NOT EXISTS notify_targets (
            subsystem TEXT NOT NULL, target_id TEXT NOT NULL, settings TEXT NOT NULL,
            enabled INTEGER NOT NULL, source TEXT NOT NULL, position BIGINT NOT NULL,
            PRIMARY KEY (subsystem, target_id))""",
    "CREATE TABLE IF NOT EXISTS notify_targets_generation (id INTEGER PRIMARY KEY, gen BIGINT NOT NULL)",
)

SQLITE = (
    """CREATE TABLE IF NOT EXISTS notify_targets (
            subsystem TEXT NOT NULL, target_id TEXT NOT NULL, settings TEXT NOT NULL,
            enabled INTEGER NOT NULL, source TEXT NOT NULL, position INTEGER NOT NULL,
            PRIMARY KEY (subsystem, target_id))""",
    "CREATE TABLE IF NOT EXISTS notify_targets_generation (id INTEGER PRIMARY KEY, gen INTEGER NOT NULL)",
)

TABLES = ("notify_targets", "notify_targets_generation")


def upgrade() -> None:
    for statement in POSTGRES if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(statement)


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TABLE IF EXISTS {table}")

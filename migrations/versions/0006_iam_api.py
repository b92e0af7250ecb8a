"""IAM API: paths (users, groups, roles), groups' creation times, roles' attached policies, OIDC providers.

Revision ID: 0006_iam_api
Revises: 0005_notify_targets
"""

from alembic import op

revision = "0006_iam_api"
down_revision = "0005_notify_targets"

# The statements this migration runs, written out: a migration never changes once released
# (a change to a schema module needs a new migration; tests/integration/test_migrations.py
# compares what the migrations create with what the schema modules declare).
POSTGRES = (
    "ALTER TABLE iam_users ADD COLUMN path TEXT NOT NULL DEFAULT '/'",
    "ALTER TABLE iam_groups ADD COLUMN path TEXT NOT NULL DEFAULT '/'",
    "ALTER TABLE iam_groups ADD COLUMN created_us BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE iam_roles ADD COLUMN path TEXT NOT NULL DEFAULT '/'",
    "ALTER TABLE iam_roles ADD COLUMN policies TEXT NOT NULL DEFAULT '[]'",
    """CREATE TABLE IF NOT EXISTS iam_oidc_providers (
            name TEXT PRIMARY KEY, url TEXT NOT NULL, client_ids TEXT NOT NULL,
            thumbprints TEXT NOT NULL, created_us BIGINT NOT NULL)""",
)

SQLITE = (
    "ALTER TABLE iam_users ADD COLUMN path TEXT NOT NULL DEFAULT '/'",
    "ALTER TABLE iam_groups ADD COLUMN path TEXT NOT NULL DEFAULT '/'",
    "ALTER TABLE iam_groups ADD COLUMN created_us INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE iam_roles ADD COLUMN path TEXT NOT NULL DEFAULT '/'",
    "ALTER TABLE iam_roles ADD COLUMN policies TEXT NOT NULL DEFAULT '[]'",
    """CREATE TABLE IF NOT EXISTS iam_oidc_providers (
            name TEXT PRIMARY KEY, url TEXT NOT NULL, client_ids TEXT NOT NULL,
            thumbprints TEXT NOT NULL, created_us INTEGER NOT NULL)""",
)


def upgrade() -> None:
    for statement in POSTGRES if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS iam_oidc_providers")
    for table, column in (
        ("iam_users", "path"),
        ("iam_groups", "path"),
        ("iam_groups", "created_us"),
        ("iam_roles", "path"),
        ("iam_roles", "policies"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")

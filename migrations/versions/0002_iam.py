"""IAM projection tables: credentials, users, groups, policies, roles.

Revision ID: 0002_iam
Revises: 0001_namespace
"""

from alembic import op

from projections.eventstore.sql import Dialect, PostgresDialect
from projections.iam.schema import IAM_TABLES, iam_ddl

revision = "0002_iam"
down_revision = "0001_namespace"


def _dialect() -> Dialect:
    return PostgresDialect() if op.get_bind().dialect.name == "postgresql" else Dialect()


def upgrade() -> None:
    for statement in iam_ddl(_dialect()):
        op.execute(statement)
    # Not a projection: the master key's check value, so a node with another key refuses to start.
    op.execute("CREATE TABLE IF NOT EXISTS chronicle_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)")


def downgrade() -> None:
    for table in (*IAM_TABLES, "chronicle_settings"):
        op.execute(f"DROP TABLE IF EXISTS {table}")

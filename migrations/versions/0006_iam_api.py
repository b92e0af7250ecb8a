"""IAM API: paths (users, groups, roles), groups' creation times, roles' attached policies, OIDC providers.

Revision ID: 0006_iam_api
Revises: 0005_notify_targets
"""

from alembic import op

from projections.eventstore.sql import Dialect, PostgresDialect
from projections.iam.schema import iam_api_ddl

revision = "0006_iam_api"
down_revision = "0005_notify_targets"


def _dialect() -> Dialect:
    return PostgresDialect() if op.get_bind().dialect.name == "postgresql" else Dialect()


def upgrade() -> None:
    for statement in iam_api_ddl(_dialect()):
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

"""Namespace projection tables and the inline blob table.

Revision ID: 0001_namespace
Revises:
"""

from alembic import op

from projections.namespace_schema import PROJECTION_TABLES, namespace_ddl
from projections.sql import Dialect, PostgresDialect

revision = "0001_namespace"
down_revision = None


def _dialect() -> Dialect:
    return PostgresDialect() if op.get_bind().dialect.name == "postgresql" else Dialect()


def upgrade() -> None:
    for statement in namespace_ddl(_dialect()):
        op.execute(statement)


def downgrade() -> None:
    for table in PROJECTION_TABLES:
        op.execute(f"DROP TABLE IF EXISTS {table}")

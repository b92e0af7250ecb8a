"""Namespace projection tables and the inline blob table.

Revision ID: 0001_namespace
Revises:
"""

from alembic import op

from projections.eventstore.sql import Dialect, PostgresDialect
from projections.namespace.schema import PROJECTION_TABLES, namespace_ddl

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

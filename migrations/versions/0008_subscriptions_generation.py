"""The subscriptions generation counter (projections.subscriptions_generation): a GET
reads it with its bucket row to know whether the node's s3:ObjectAccessed subscriptions
cache is stale.

Revision ID: 0008_subscriptions_generation
Revises: 0007_append_function
"""

from alembic import op

from projections.sql import Dialect, PostgresDialect
from projections.subscriptions_generation import TABLE, subscriptions_generation_ddl

revision = "0008_subscriptions_generation"
down_revision = "0007_append_function"


def _dialect() -> Dialect:
    return PostgresDialect() if op.get_bind().dialect.name == "postgresql" else Dialect()


def upgrade() -> None:
    for statement in subscriptions_generation_ddl(_dialect()):
        op.execute(statement)


def downgrade() -> None:
    op.execute(f"DROP TABLE IF EXISTS {TABLE}")

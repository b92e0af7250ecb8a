"""Notification target configuration (inline projection) and its generation number.

Revision ID: 0005_notify_targets
Revises: 0004_notify_views
"""

from alembic import op

from projections.eventstore.sql import Dialect, PostgresDialect
from projections.notifications.targets_schema import NOTIFY_TARGET_TABLES, notify_targets_ddl

revision = "0005_notify_targets"
down_revision = "0004_notify_views"


def _dialect() -> Dialect:
    return PostgresDialect() if op.get_bind().dialect.name == "postgresql" else Dialect()


def upgrade() -> None:
    for statement in notify_targets_ddl(_dialect()):
        op.execute(statement)


def downgrade() -> None:
    for table in NOTIFY_TARGET_TABLES:
        op.execute(f"DROP TABLE IF EXISTS {table}")

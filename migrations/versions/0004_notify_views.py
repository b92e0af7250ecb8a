"""Notification follower views, its tracking row and per-target delivery checkpoints.

Revision ID: 0004_notify_views
Revises: 0003_acl
"""

from alembic import op

from projections.eventstore.sql import Dialect, PostgresDialect
from projections.notifications.schema import NOTIFY_STATE_TABLES, NOTIFY_VIEW_TABLES, notify_ddl

revision = "0004_notify_views"
down_revision = "0003_acl"


def _dialect() -> Dialect:
    return PostgresDialect() if op.get_bind().dialect.name == "postgresql" else Dialect()


def upgrade() -> None:
    for statement in notify_ddl(_dialect()):
        op.execute(statement)


def downgrade() -> None:
    for table in (*NOTIFY_VIEW_TABLES, *NOTIFY_STATE_TABLES):
        op.execute(f"DROP TABLE IF EXISTS {table}")

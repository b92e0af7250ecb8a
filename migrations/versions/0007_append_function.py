"""The database function that appends a batch of plain PUTs in one statement
(projections.eventstore.fast_append). PostgreSQL only: SQLite appends in-process.

Revision ID: 0007_append_function
Revises: 0006_iam_api
"""

from alembic import op

from projections.eventstore.fast_append import FUNCTION, function_ddl

revision = "0007_append_function"
down_revision = "0006_iam_api"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(function_ddl())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}(jsonb, bytea, text)")

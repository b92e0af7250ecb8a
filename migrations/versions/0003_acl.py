"""Object ACLs: ns_versions.acl ('' = private to the version's owner).

Revision ID: 0003_acl
Revises: 0002_iam
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_acl"
down_revision = "0002_iam"


def _has_acl_column() -> bool:
    columns = sa.inspect(op.get_bind()).get_columns("ns_versions")
    return any(c["name"] == "acl" for c in columns)


def upgrade() -> None:
    # A database created after this column joined namespace_ddl (0001) already has it.
    if not _has_acl_column():
        op.execute("ALTER TABLE ns_versions ADD COLUMN acl TEXT NOT NULL DEFAULT ''")


def downgrade() -> None:
    if _has_acl_column():
        op.execute("ALTER TABLE ns_versions DROP COLUMN acl")

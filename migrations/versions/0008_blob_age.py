"""Inline blobs get an age: blob_data.created_us, set by the database when a row is written.

Garbage collection removes only what is older than its grace period; before this, rows
carried no time at all. Rows that exist when this runs get the migration's time, so none
of them becomes collectable before a full grace period has passed. No index: a pass reads
every row anyway, and an index would cost every small PUT.

The DDL is written out here (not taken from a schema module) so that this migration keeps
creating what it created when it was written.

Revision ID: 0008_blob_age
Revises: 0007_append_function
"""

from alembic import op

revision = "0008_blob_age"
down_revision = "0007_append_function"

PG_NOW_US = "((extract(epoch FROM clock_timestamp()) * 1000000)::bigint)"
# julianday('now') has millisecond precision; unixepoch('subsec') needs SQLite 3.42.
SQLITE_NOW_US = "(CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER))"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # A volatile default is evaluated for every existing row (the table is rewritten once).
        op.execute(f"ALTER TABLE blob_data ADD COLUMN IF NOT EXISTS created_us BIGINT NOT NULL DEFAULT {PG_NOW_US}")
        return
    # SQLite's ADD COLUMN takes only constant defaults: rebuild the table.
    op.execute(
        "CREATE TABLE blob_data_aged (id TEXT PRIMARY KEY, data BLOB NOT NULL, "
        f"created_us INTEGER NOT NULL DEFAULT {SQLITE_NOW_US})"
    )
    op.execute("INSERT INTO blob_data_aged (id, data) SELECT id, data FROM blob_data")
    op.execute("DROP TABLE blob_data")
    op.execute("ALTER TABLE blob_data_aged RENAME TO blob_data")


def downgrade() -> None:
    op.execute("ALTER TABLE blob_data DROP COLUMN created_us")

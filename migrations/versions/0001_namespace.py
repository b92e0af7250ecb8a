"""Namespace projection tables and the inline blob table.

Revision ID: 0001_namespace
Revises:
"""

from alembic import op

revision = "0001_namespace"
down_revision = None

# The statements this migration runs, written out: a migration never changes once released
# (a change to a schema module needs a new migration; tests/integration/test_migrations.py
# compares what the migrations create with what the schema modules declare).
POSTGRES = (
    """CREATE TABLE IF NOT EXISTS ns_buckets (
            name TEXT COLLATE "C" PRIMARY KEY, id TEXT NOT NULL, owner TEXT NOT NULL, region TEXT NOT NULL,
            created_us BIGINT NOT NULL, versioning TEXT NOT NULL, position BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS ns_bucket_configs (
            bucket TEXT COLLATE "C" NOT NULL, name TEXT NOT NULL, document TEXT NOT NULL,
            PRIMARY KEY (bucket, name))""",
    """CREATE TABLE IF NOT EXISTS ns_versions (
            id TEXT PRIMARY KEY, bucket TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL,
            version_id TEXT NOT NULL,
            position BIGINT NOT NULL, is_latest BOOLEAN NOT NULL, is_delete_marker BOOLEAN NOT NULL,
            size BIGINT NOT NULL, etag TEXT NOT NULL, mtime_us BIGINT NOT NULL,
            content_type TEXT NOT NULL, headers TEXT NOT NULL, metadata TEXT NOT NULL,
            blob TEXT NOT NULL, checksum TEXT NOT NULL, tags TEXT NOT NULL, parts TEXT NOT NULL,
            owner TEXT NOT NULL, operation TEXT NOT NULL, acl TEXT NOT NULL DEFAULT '')""",
    "CREATE INDEX IF NOT EXISTS ns_versions_by_key ON ns_versions (bucket, key, position)",
    "CREATE UNIQUE INDEX IF NOT EXISTS ns_versions_by_version ON ns_versions (bucket, key, version_id)",
    """CREATE UNIQUE INDEX IF NOT EXISTS ns_versions_live ON ns_versions (bucket, key)
            WHERE is_latest AND NOT is_delete_marker""",
    """CREATE TABLE IF NOT EXISTS ns_uploads (
            id TEXT PRIMARY KEY, bucket TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL,
            initiated_us BIGINT NOT NULL,
            content_type TEXT NOT NULL, headers TEXT NOT NULL, metadata TEXT NOT NULL, tags TEXT NOT NULL,
            checksum_algorithm TEXT NOT NULL, checksum_type TEXT NOT NULL, owner TEXT NOT NULL,
            position BIGINT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS ns_uploads_by_key ON ns_uploads (bucket, key, initiated_us)",
    """CREATE TABLE IF NOT EXISTS ns_parts (
            upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, id TEXT NOT NULL,
            size BIGINT NOT NULL, etag TEXT NOT NULL, blob TEXT NOT NULL, checksum TEXT NOT NULL,
            mtime_us BIGINT NOT NULL, position BIGINT NOT NULL,
            PRIMARY KEY (upload_id, part_number))""",
    "CREATE TABLE IF NOT EXISTS blob_data (id TEXT PRIMARY KEY, data BYTEA NOT NULL)",
)

SQLITE = (
    """CREATE TABLE IF NOT EXISTS ns_buckets (
            name TEXT PRIMARY KEY, id TEXT NOT NULL, owner TEXT NOT NULL, region TEXT NOT NULL,
            created_us INTEGER NOT NULL, versioning TEXT NOT NULL, position INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS ns_bucket_configs (
            bucket TEXT NOT NULL, name TEXT NOT NULL, document TEXT NOT NULL,
            PRIMARY KEY (bucket, name))""",
    """CREATE TABLE IF NOT EXISTS ns_versions (
            id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL, version_id TEXT NOT NULL,
            position INTEGER NOT NULL, is_latest BOOLEAN NOT NULL, is_delete_marker BOOLEAN NOT NULL,
            size INTEGER NOT NULL, etag TEXT NOT NULL, mtime_us INTEGER NOT NULL,
            content_type TEXT NOT NULL, headers TEXT NOT NULL, metadata TEXT NOT NULL,
            blob TEXT NOT NULL, checksum TEXT NOT NULL, tags TEXT NOT NULL, parts TEXT NOT NULL,
            owner TEXT NOT NULL, operation TEXT NOT NULL, acl TEXT NOT NULL DEFAULT '')""",
    "CREATE INDEX IF NOT EXISTS ns_versions_by_key ON ns_versions (bucket, key, position)",
    "CREATE UNIQUE INDEX IF NOT EXISTS ns_versions_by_version ON ns_versions (bucket, key, version_id)",
    """CREATE UNIQUE INDEX IF NOT EXISTS ns_versions_live ON ns_versions (bucket, key)
            WHERE is_latest AND NOT is_delete_marker""",
    """CREATE TABLE IF NOT EXISTS ns_uploads (
            id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL, initiated_us INTEGER NOT NULL,
            content_type TEXT NOT NULL, headers TEXT NOT NULL, metadata TEXT NOT NULL, tags TEXT NOT NULL,
            checksum_algorithm TEXT NOT NULL, checksum_type TEXT NOT NULL, owner TEXT NOT NULL,
            position INTEGER NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS ns_uploads_by_key ON ns_uploads (bucket, key, initiated_us)",
    """CREATE TABLE IF NOT EXISTS ns_parts (
            upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, id TEXT NOT NULL,
            size INTEGER NOT NULL, etag TEXT NOT NULL, blob TEXT NOT NULL, checksum TEXT NOT NULL,
            mtime_us INTEGER NOT NULL, position INTEGER NOT NULL,
            PRIMARY KEY (upload_id, part_number))""",
    "CREATE TABLE IF NOT EXISTS blob_data (id TEXT PRIMARY KEY, data BLOB NOT NULL)",
)

TABLES = ("ns_buckets", "ns_bucket_configs", "ns_versions", "ns_uploads", "ns_parts")


def upgrade() -> None:
    for statement in POSTGRES if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(statement)


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TABLE IF EXISTS {table}")

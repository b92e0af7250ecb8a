"""Tables of the namespace projection (and the blob-store table that lives beside them)."""

from __future__ import annotations

from projections.eventstore.sql import Dialect
from projections.namespace.usage import USAGE_TABLE, usage_ddl

PROJECTION_TABLES = (
    "ns_buckets",
    "ns_bucket_configs",
    "ns_bucket_retention",
    "ns_versions",
    "ns_uploads",
    "ns_parts",
    USAGE_TABLE,
)


def namespace_ddl(d: Dialect) -> list[str]:
    k = d.text_key
    return [
        f"""CREATE TABLE IF NOT EXISTS ns_buckets (
            name {k} PRIMARY KEY, id TEXT NOT NULL, owner TEXT NOT NULL, region TEXT NOT NULL,
            created_us {d.bigint} NOT NULL, versioning TEXT NOT NULL, position {d.bigint} NOT NULL,
            quota_bytes {d.bigint} NOT NULL DEFAULT 0, quota_objects {d.bigint} NOT NULL DEFAULT 0)""",
        f"""CREATE TABLE IF NOT EXISTS ns_bucket_configs (
            bucket {k} NOT NULL, name TEXT NOT NULL, document TEXT NOT NULL,
            PRIMARY KEY (bucket, name))""",
        # A bucket's own history retention (seconds), where it has one; garbage collection
        # joins it on the history's bucket name (projections.history.retention).
        f"""CREATE TABLE IF NOT EXISTS ns_bucket_retention (
            bucket {k} PRIMARY KEY, seconds {d.bigint} NOT NULL, position {d.bigint} NOT NULL)""",
        f"""CREATE TABLE IF NOT EXISTS ns_versions (
            id TEXT PRIMARY KEY, bucket {k} NOT NULL, key {k} NOT NULL, version_id TEXT NOT NULL,
            position {d.bigint} NOT NULL, is_latest BOOLEAN NOT NULL, is_delete_marker BOOLEAN NOT NULL,
            size {d.bigint} NOT NULL, etag TEXT NOT NULL, mtime_us {d.bigint} NOT NULL,
            content_type TEXT NOT NULL, headers TEXT NOT NULL, metadata TEXT NOT NULL,
            blob TEXT NOT NULL, checksum TEXT NOT NULL, tags TEXT NOT NULL, parts TEXT NOT NULL,
            owner TEXT NOT NULL, operation TEXT NOT NULL, acl TEXT NOT NULL DEFAULT '')""",
        "CREATE INDEX IF NOT EXISTS ns_versions_by_key ON ns_versions (bucket, key, position)",
        # One row per version id of a key: the null version is replaced by an upsert.
        "CREATE UNIQUE INDEX IF NOT EXISTS ns_versions_by_version ON ns_versions (bucket, key, version_id)",
        # Listing reads only live current versions: a partial index makes a page an index range scan.
        """CREATE UNIQUE INDEX IF NOT EXISTS ns_versions_live ON ns_versions (bucket, key)
            WHERE is_latest AND NOT is_delete_marker""",
        f"""CREATE TABLE IF NOT EXISTS ns_uploads (
            id TEXT PRIMARY KEY, bucket {k} NOT NULL, key {k} NOT NULL, initiated_us {d.bigint} NOT NULL,
            content_type TEXT NOT NULL, headers TEXT NOT NULL, metadata TEXT NOT NULL, tags TEXT NOT NULL,
            checksum_algorithm TEXT NOT NULL, checksum_type TEXT NOT NULL, owner TEXT NOT NULL,
            position {d.bigint} NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS ns_uploads_by_key ON ns_uploads (bucket, key, initiated_us)",
        f"""CREATE TABLE IF NOT EXISTS ns_parts (
            upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, id TEXT NOT NULL,
            size {d.bigint} NOT NULL, etag TEXT NOT NULL, blob TEXT NOT NULL, checksum TEXT NOT NULL,
            mtime_us {d.bigint} NOT NULL, position {d.bigint} NOT NULL,
            PRIMARY KEY (upload_id, part_number))""",
        *usage_ddl(d),
        # Blob store, not a projection: small objects' bytes, written with their event, and
        # when (garbage collection spares young blobs).
        f"""CREATE TABLE IF NOT EXISTS blob_data (
            id TEXT PRIMARY KEY, data {d.blob} NOT NULL, created_us {d.bigint} NOT NULL DEFAULT {d.now_us})""",
    ]

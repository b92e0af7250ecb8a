"""Each bucket's usage, kept exact from the namespace's version rows: the bytes of every
version (current or not) and the number of versions that are not delete markers, as MinIO
counts a bucket's usage for its quota.

Database triggers on ns_versions keep ns_bucket_usage, so every path that writes version
rows keeps it, in the same transaction: the projection applied plan by plan, its bulk
upserts, and the PostgreSQL one-statement append (projections.eventstore.fast_append), which
writes ns_versions without Python. A bucket holds a row only while it holds an object
version (bytes > 0 implies objects > 0), so the table is a function of ns_versions alone:
replay, `replay --into` and `chronicle verify` rebuild the same rows. Migration 0017 created
the table and filled it once from ns_versions.
"""

from __future__ import annotations

from projections.eventstore.sql import Dialect
from projections.eventstore.tx import Tx

USAGE_TABLE = "ns_bucket_usage"
USAGE_FUNCTION = "chronicle_bucket_usage"
USAGE_TRIGGER = "ns_versions_usage"

_POSTGRES_FUNCTION = f"""CREATE OR REPLACE FUNCTION {USAGE_FUNCTION}() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  left_objects bigint;
BEGIN
  IF TG_OP = 'UPDATE' AND NOT OLD.is_delete_marker AND NOT NEW.is_delete_marker
     AND OLD.bucket = NEW.bucket THEN
    -- An overwrite of a version by another (the null version replaced): only bytes change.
    UPDATE ns_bucket_usage SET bytes = bytes + NEW.size - OLD.size WHERE bucket = NEW.bucket;
    RETURN NULL;
  END IF;
  IF TG_OP <> 'INSERT' AND NOT OLD.is_delete_marker THEN
    UPDATE ns_bucket_usage SET bytes = bytes - OLD.size, objects = objects - 1
      WHERE bucket = OLD.bucket RETURNING objects INTO left_objects;
    IF left_objects = 0 THEN
      DELETE FROM ns_bucket_usage WHERE bucket = OLD.bucket;
    END IF;
  END IF;
  IF TG_OP <> 'DELETE' AND NOT NEW.is_delete_marker THEN
    INSERT INTO ns_bucket_usage AS u (bucket, bytes, objects) VALUES (NEW.bucket, NEW.size, 1)
      ON CONFLICT (bucket) DO UPDATE SET bytes = u.bytes + excluded.bytes, objects = u.objects + 1;
  END IF;
  RETURN NULL;
END
$fn$"""

# Fires on the columns usage depends on: is_latest changes (every overwrite in a versioned
# bucket) cost nothing.
_POSTGRES_TRIGGER = f"""CREATE TRIGGER {USAGE_TRIGGER}
  AFTER INSERT OR DELETE OR UPDATE OF size, is_delete_marker, bucket ON ns_versions
  FOR EACH ROW EXECUTE FUNCTION {USAGE_FUNCTION}()"""

_SQLITE_ADD = """INSERT INTO ns_bucket_usage (bucket, bytes, objects) SELECT NEW.bucket, NEW.size, 1
    WHERE NOT NEW.is_delete_marker
    ON CONFLICT (bucket) DO UPDATE SET bytes = bytes + excluded.bytes, objects = objects + 1;"""
_SQLITE_SUBTRACT = """UPDATE ns_bucket_usage SET bytes = bytes - OLD.size, objects = objects - 1
    WHERE bucket = OLD.bucket AND NOT OLD.is_delete_marker;
  DELETE FROM ns_bucket_usage WHERE bucket = OLD.bucket AND objects = 0;"""

_SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER IF NOT EXISTS {USAGE_TRIGGER}_insert AFTER INSERT ON ns_versions
BEGIN
  {_SQLITE_ADD}
END""",
    f"""CREATE TRIGGER IF NOT EXISTS {USAGE_TRIGGER}_delete AFTER DELETE ON ns_versions
BEGIN
  {_SQLITE_SUBTRACT}
END""",
    f"""CREATE TRIGGER IF NOT EXISTS {USAGE_TRIGGER}_update
  AFTER UPDATE OF size, is_delete_marker, bucket ON ns_versions
BEGIN
  {_SQLITE_SUBTRACT}
  {_SQLITE_ADD}
END""",
)


def usage_ddl(d: Dialect) -> list[str]:
    """The usage table and what keeps it; run after ns_versions exists (a fresh
    ns_versions is empty, so the table starts empty too)."""
    table = f"""CREATE TABLE IF NOT EXISTS {USAGE_TABLE} (
            bucket {d.text_key} PRIMARY KEY, bytes {d.bigint} NOT NULL, objects {d.bigint} NOT NULL)"""
    if d.name == "postgres":
        return [
            table,
            _POSTGRES_FUNCTION,
            f"DROP TRIGGER IF EXISTS {USAGE_TRIGGER} ON ns_versions",
            _POSTGRES_TRIGGER,
        ]
    return [table, *_SQLITE_TRIGGERS]


def bucket_usage(tx: Tx, bucket: str) -> tuple[int, int]:
    """(bytes, objects) the bucket holds now."""
    row = tx.one("SELECT bytes, objects FROM ns_bucket_usage WHERE bucket = ?", (bucket,))
    return (0, 0) if row is None else (int(row["bytes"]), int(row["objects"]))

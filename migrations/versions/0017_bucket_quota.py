"""Bucket quotas and usage (issue 15): ns_buckets gains the hard quota (quota_bytes,
quota_objects; 0 is no limit), ns_bucket_usage holds each bucket's usage (bytes of every
version, versions that are not delete markers) kept by triggers on ns_versions and filled
once here from the rows already there, and chronicle_append_puts (migration 0007) is
replaced by one that also refuses a batch into a bucket with a quota, so such PUTs have their
quota checked on the careful path.

Revision ID: 0017_bucket_quota
Revises: 0016_bucket_retention
"""

import importlib.util
from pathlib import Path

from alembic import op

revision = "0017_bucket_quota"
down_revision = "0016_bucket_retention"

# The statements this migration runs, written out: a migration never changes once released
# (tests/integration/test_migrations.py compares the result with the schema modules).
POSTGRES = (
    "ALTER TABLE ns_buckets ADD COLUMN IF NOT EXISTS quota_bytes BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE ns_buckets ADD COLUMN IF NOT EXISTS quota_objects BIGINT NOT NULL DEFAULT 0",
    """CREATE TABLE IF NOT EXISTS ns_bucket_usage (
            bucket TEXT COLLATE "C" PRIMARY KEY, bytes BIGINT NOT NULL, objects BIGINT NOT NULL)""",
    """CREATE OR REPLACE FUNCTION chronicle_bucket_usage() RETURNS trigger
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
$fn$""",
    """DROP TRIGGER IF EXISTS ns_versions_usage ON ns_versions""",
    """CREATE TRIGGER ns_versions_usage
  AFTER INSERT OR DELETE OR UPDATE OF size, is_delete_marker, bucket ON ns_versions
  FOR EACH ROW EXECUTE FUNCTION chronicle_bucket_usage()""",
)

SQLITE = (
    "ALTER TABLE ns_buckets ADD COLUMN quota_bytes INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE ns_buckets ADD COLUMN quota_objects INTEGER NOT NULL DEFAULT 0",
    """CREATE TABLE IF NOT EXISTS ns_bucket_usage (
            bucket TEXT PRIMARY KEY, bytes INTEGER NOT NULL, objects INTEGER NOT NULL)""",
    """CREATE TRIGGER IF NOT EXISTS ns_versions_usage_insert AFTER INSERT ON ns_versions
BEGIN
  INSERT INTO ns_bucket_usage (bucket, bytes, objects) SELECT NEW.bucket, NEW.size, 1
    WHERE NOT NEW.is_delete_marker
    ON CONFLICT (bucket) DO UPDATE SET bytes = bytes + excluded.bytes, objects = objects + 1;
END""",
    """CREATE TRIGGER IF NOT EXISTS ns_versions_usage_delete AFTER DELETE ON ns_versions
BEGIN
  UPDATE ns_bucket_usage SET bytes = bytes - OLD.size, objects = objects - 1
    WHERE bucket = OLD.bucket AND NOT OLD.is_delete_marker;
  DELETE FROM ns_bucket_usage WHERE bucket = OLD.bucket AND objects = 0;
END""",
    """CREATE TRIGGER IF NOT EXISTS ns_versions_usage_update
  AFTER UPDATE OF size, is_delete_marker, bucket ON ns_versions
BEGIN
  UPDATE ns_bucket_usage SET bytes = bytes - OLD.size, objects = objects - 1
    WHERE bucket = OLD.bucket AND NOT OLD.is_delete_marker;
  DELETE FROM ns_bucket_usage WHERE bucket = OLD.bucket AND objects = 0;
  INSERT INTO ns_bucket_usage (bucket, bytes, objects) SELECT NEW.bucket, NEW.size, 1
    WHERE NOT NEW.is_delete_marker
    ON CONFLICT (bucket) DO UPDATE SET bytes = bytes + excluded.bytes, objects = objects + 1;
END""",
)

# After the trigger exists (on PostgreSQL it holds a lock on ns_versions until this
# migration commits, so no write falls between the fill and the trigger).
FILL = """INSERT INTO ns_bucket_usage (bucket, bytes, objects)
    SELECT bucket, SUM(size), COUNT(*) FROM ns_versions WHERE NOT is_delete_marker GROUP BY bucket"""

APPEND_FUNCTION = """
CREATE OR REPLACE FUNCTION chronicle_append_puts(doc jsonb, data bytea, lock_timeout text)
RETURNS TABLE (ord integer, notification_id bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
BEGIN
  PERFORM set_config('lock_timeout', lock_timeout, true);
  -- Serialises appends with every other writer of the log, exactly as the recorder does.
  LOCK TABLE public.chronicle_events IN EXCLUSIVE MODE;
  IF (SELECT count(*) FROM ns_buckets
      WHERE name IN (SELECT jsonb_array_elements_text(doc->'b')) AND versioning = ''
        AND quota_bytes = 0 AND quota_objects = 0)
     <> jsonb_array_length(doc->'b') THEN
    RAISE EXCEPTION 'a bucket of the batch is missing, versioned or has a quota' USING ERRCODE = 'CH001';
  END IF;
  RETURN QUERY
  WITH e AS (
    SELECT x.n::integer AS n, (x.r->>0)::uuid AS originator_id, (x.r->>1)::integer AS version,
           x.r->>2 AS topic, substring(data FROM (x.r->>3)::integer + 1 FOR (x.r->>4)::integer) AS state
    FROM jsonb_array_elements(doc->'e') WITH ORDINALITY AS x(r, n)
  ), ev AS (
    -- Numbered in doc order: the last PUT of a key in the batch is the newest.
    INSERT INTO public.chronicle_events (originator_id, originator_version, topic, state)
    SELECT originator_id, version, topic, state FROM e ORDER BY n
    RETURNING notification_id, originator_id
  ), up AS (
    INSERT INTO ns_versions (id, bucket, key, version_id, position, is_latest, is_delete_marker, size, etag, mtime_us, content_type, headers, metadata, blob, checksum, tags, parts, owner, operation, acl)
    SELECT v.r->>0, v.r->>1, v.r->>2, 'null', ev.notification_id, TRUE, FALSE, (v.r->>3)::bigint, v.r->>4, (v.r->>5)::bigint, v.r->>6, v.r->>7, v.r->>8, v.r->>9, v.r->>10, v.r->>11, v.r->>12, v.r->>13, v.r->>14, v.r->>15
    FROM jsonb_array_elements(doc->'v') AS v(r)
    JOIN ev ON ev.originator_id = (v.r->>0)::uuid
    ON CONFLICT (bucket, key, version_id) DO UPDATE SET id = excluded.id, position = excluded.position,
      is_latest = TRUE, is_delete_marker = FALSE, size = excluded.size, etag = excluded.etag, mtime_us = excluded.mtime_us, content_type = excluded.content_type, headers = excluded.headers, metadata = excluded.metadata, blob = excluded.blob, checksum = excluded.checksum, tags = excluded.tags, parts = excluded.parts, owner = excluded.owner, operation = excluded.operation, acl = excluded.acl
  )
  SELECT e.n, ev.notification_id FROM ev JOIN e ON e.originator_id = ev.originator_id;
  INSERT INTO blob_data (id, data)
  SELECT o.r->>0, substring(data FROM (o.r->>1)::integer + 1 FOR (o.r->>2)::integer)
  FROM jsonb_array_elements(doc->'o') AS o(r);
  PERFORM pg_notify('chronicle_events', '');
END
$fn$"""  # noqa: E501 - the text installed, as it was


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES if postgres else SQLITE:
        op.execute(statement)
    op.execute(FILL)
    if postgres:
        op.execute(APPEND_FUNCTION)


def _previous_append_function() -> str:
    """Migration 0007's function text (it never changes, like this one)."""
    spec = importlib.util.spec_from_file_location("m0007", Path(__file__).with_name("0007_append_function.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.FUNCTION_DDL)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(_previous_append_function())
        op.execute("DROP TRIGGER IF EXISTS ns_versions_usage ON ns_versions")
        op.execute("DROP FUNCTION IF EXISTS chronicle_bucket_usage()")
    else:
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS ns_versions_usage_{trigger}")
    op.execute("DROP TABLE IF EXISTS ns_bucket_usage")
    op.execute("ALTER TABLE ns_buckets DROP COLUMN quota_objects")
    op.execute("ALTER TABLE ns_buckets DROP COLUMN quota_bytes")

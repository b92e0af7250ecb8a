"""The database function that appends a batch of plain PUTs in one statement
(projections.eventstore.fast_append). PostgreSQL only: SQLite appends in-process.

Revision ID: 0007_append_function
Revises: 0006_iam_api
"""

from alembic import op

revision = "0007_append_function"
down_revision = "0006_iam_api"

# The function this migration installs, written out: a migration never changes once released
# (projections/eventstore/fast_append.py may change or go; a later migration replaces or drops it).
FUNCTION = "chronicle_append_puts"
FUNCTION_DDL = """
CREATE OR REPLACE FUNCTION chronicle_append_puts(doc jsonb, data bytea, lock_timeout text)
RETURNS TABLE (ord integer, notification_id bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
BEGIN
  PERFORM set_config('lock_timeout', lock_timeout, true);
  -- Serialises appends with every other writer of the log, exactly as the recorder does.
  LOCK TABLE public.chronicle_events IN EXCLUSIVE MODE;
  IF (SELECT count(*) FROM ns_buckets
      WHERE name IN (SELECT jsonb_array_elements_text(doc->'b')) AND versioning = '')
     <> jsonb_array_length(doc->'b') THEN
    RAISE EXCEPTION 'a bucket of the batch is missing or versioned' USING ERRCODE = 'CH001';
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
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION_DDL)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}(jsonb, bytea, text)")

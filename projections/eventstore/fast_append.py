"""The one-statement append of plain PUTs on PostgreSQL.

A batch of plain PUTs (new ObjectVersions in buckets that never versioned, no condition
but "the bucket exists"; chosen by projections.eventstore.fast_path) is appended by one call of the database function
`chronicle_append_puts` (migration 0007, replaced by 0017), in autocommit, so the call is its own
transaction: it takes the store's table lock (as eventsourcing's recorder does), asserts
that every bucket exists unversioned and without a quota (migration 0017: a PUT into a
bucket with a quota has its quota checked on the careful path), inserts the events and upserts their null versions,
inserts the blobs and notifies the store's channel. One prepared statement, one round trip;
the table lock is held only while PostgreSQL executes the batch and commits it, and a second
committer's batch queued behind the lock starts the moment this one commits.

The batch travels as two parameters: a JSON document with every row's text and numbers, and
one bytea holding the event states and blob bytes back to back (the document gives each its
offset and length). psycopg dumps a str and a bytes in C, where 20-odd typed arrays cost
about 0.3 ms of Python per batch.

If the assertion fails (a bucket was deleted, turned versioning on or got a quota) the transaction
aborts as a whole and the caller replays the batch on the careful path, which gives each
change its own outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from eventsourcing.persistence import JSONTranscoder
from eventsourcing.utils import get_topic

from projections.eventstore.eventsourcing_internals import transcoder_default
from projections.namespace.projection import NULL_VERSION, _version_params

FUNCTION = "chronicle_append_puts"
# The events table the function is written for: eventsourcing's table of the application
# named "chronicle", in its default schema. A recorder with another table does not call it.
EVENTS_SCHEMA = "public"
EVENTS_TABLE = "chronicle_events"

# ns_versions columns sent per row (position comes from the event insert, is_latest is
# TRUE, is_delete_marker FALSE and version_id 'null' for every row of this path), with
# their index in _version_params' tuple.
_ROW_COLUMNS = (
    ("id", "text", 0),
    ("bucket", "text", 1),
    ("key", "text", 2),
    ("size", "bigint", 6),
    ("etag", "text", 7),
    ("mtime_us", "bigint", 8),
    ("content_type", "text", 9),
    ("headers", "text", 10),
    ("metadata", "text", 11),
    ("blob", "text", 12),
    ("checksum", "text", 13),
    ("tags", "text", 14),
    ("parts", "text", 15),
    ("owner", "text", 16),
    ("operation", "text", 17),
    ("acl", "text", 18),
)
_PICK = tuple(index for _, _, index in _ROW_COLUMNS)
_UPDATED = [name for name, _, _ in _ROW_COLUMNS if name not in ("id", "bucket", "key")]

# SQLSTATE of the failed bucket assertion (raised by the function, caught by the caller).
BUCKET_ASSERTION = "CH001"

CALL_SQL = f"SELECT ord, notification_id FROM {FUNCTION}(%s, %b, %s)"


def function_ddl(events_table: str = f"{EVENTS_SCHEMA}.{EVENTS_TABLE}", channel: str = EVENTS_TABLE) -> str:
    """CREATE OR REPLACE FUNCTION chronicle_append_puts(doc jsonb, data bytea, lock_timeout
    text): doc = {"b": [bucket, ...], "e": [[originator id, version, topic, offset, length],
    ...], "v": [[ns_versions column, ...], ...], "o": [[blob id, offset, length], ...]}; event
    states and blob bytes are slices of data. Returns each event's ordinal (1-based, in
    doc order) and notification id."""
    columns = ", ".join(name for name, _, _ in _ROW_COLUMNS[3:])
    values = ", ".join(
        f"(v.r->>{i})::{kind}" if kind != "text" else f"v.r->>{i}"
        for i, (_, kind, _) in enumerate(_ROW_COLUMNS)
        if i >= 3
    )
    updates = ", ".join(f"{name} = excluded.{name}" for name in _UPDATED)
    return f"""
CREATE OR REPLACE FUNCTION {FUNCTION}(doc jsonb, data bytea, lock_timeout text)
RETURNS TABLE (ord integer, notification_id bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
BEGIN
  PERFORM set_config('lock_timeout', lock_timeout, true);
  -- Serialises appends with every other writer of the log, exactly as the recorder does.
  LOCK TABLE {events_table} IN EXCLUSIVE MODE;
  IF (SELECT count(*) FROM ns_buckets
      WHERE name IN (SELECT jsonb_array_elements_text(doc->'b')) AND versioning = ''
        AND quota_bytes = 0 AND quota_objects = 0)
     <> jsonb_array_length(doc->'b') THEN
    RAISE EXCEPTION 'a bucket of the batch is missing, versioned or has a quota' USING ERRCODE = '{BUCKET_ASSERTION}';
  END IF;
  RETURN QUERY
  WITH e AS (
    SELECT x.n::integer AS n, (x.r->>0)::uuid AS originator_id, (x.r->>1)::integer AS version,
           x.r->>2 AS topic, substring(data FROM (x.r->>3)::integer + 1 FOR (x.r->>4)::integer) AS state
    FROM jsonb_array_elements(doc->'e') WITH ORDINALITY AS x(r, n)
  ), ev AS (
    -- Numbered in doc order: the last PUT of a key in the batch is the newest.
    INSERT INTO {events_table} (originator_id, originator_version, topic, state)
    SELECT originator_id, version, topic, state FROM e ORDER BY n
    RETURNING notification_id, originator_id
  ), up AS (
    INSERT INTO ns_versions (id, bucket, key, version_id, position, is_latest, is_delete_marker, {columns})
    SELECT v.r->>0, v.r->>1, v.r->>2, '{NULL_VERSION}', ev.notification_id, TRUE, FALSE, {values}
    FROM jsonb_array_elements(doc->'v') AS v(r)
    JOIN ev ON ev.originator_id = (v.r->>0)::uuid
    ON CONFLICT (bucket, key, version_id) DO UPDATE SET id = excluded.id, position = excluded.position,
      is_latest = TRUE, is_delete_marker = FALSE, {updates}
  )
  SELECT e.n, ev.notification_id FROM ev JOIN e ON e.originator_id = ev.originator_id;
  INSERT INTO blob_data (id, data)
  SELECT o.r->>0, substring(data FROM (o.r->>1)::integer + 1 FOR (o.r->>2)::integer)
  FROM jsonb_array_elements(doc->'o') AS o(r);
  PERFORM pg_notify('{channel}', '');
END
$fn$"""


_PASSTHROUGH = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATACLASS


def event_row(mapper: Any, event: Any) -> tuple[str, int, str, bytes]:
    """(originator id hex, version, topic, state) of a new ObjectVersion's event, as
    mapper.to_stored_event stores it. The state is encoded with orjson where eventsourcing's
    JSONTranscoder uses the json module (several times slower): the same document, which the
    transcoder decodes to the same values. Values orjson would not hand to the transcoder's
    hook (a datetime, a str or dict subclass, a dataclass) go through it as they would with
    json; anything orjson cannot encode as json would (a non-str key, a huge int), and any
    mapper with a cipher or compressor, takes eventsourcing's own path."""
    transcoder = mapper.transcoder
    if mapper.cipher is None and mapper.compressor is None and type(transcoder) is JSONTranscoder:
        state = dict(vars(event))
        originator_id = state.pop("originator_id")
        version = state.pop("originator_version")
        if getattr(type(event), "class_version", 1) == 1:
            try:
                data = orjson.dumps(state, default=transcoder_default(transcoder), option=_PASSTHROUGH)
            except TypeError:
                pass
            else:
                return originator_id.hex, version, _topic(type(event)), data
    stored = mapper.to_stored_event(event)
    return stored.originator_id.hex, stored.originator_version, stored.topic, stored.state


_topics: dict[type, str] = {}


def _topic(cls: type) -> str:
    topic = _topics.get(cls)
    if topic is None:
        topic = _topics[cls] = get_topic(cls)
    return topic


class AppendBatch:
    """The parameters of one batch, computed before the table lock is taken."""

    def __init__(self, changes: Sequence[Any], mapper: Any) -> None:
        self.changes = changes
        events: list[tuple[Any, ...]] = []
        chunks: list[bytes] = []
        offset = 0
        newest: dict[tuple[str, str], tuple[Any, ...]] = {}
        blobs: list[tuple[str, int, int]] = []
        buckets: set[str] = set()
        for change in changes:
            for e in change.events:
                buckets.add(e.bucket)
                originator, version, topic, state = event_row(mapper, e)
                events.append((originator, version, topic, offset, len(state)))
                chunks.append(state)
                offset += len(state)
                # Events are numbered in this order, so the last PUT of a key in the batch
                # is the newest: it alone is upserted, as replaying one by one would leave.
                params = _version_params(0, e, marker=False, version_id=NULL_VERSION)
                newest[(e.bucket, e.key)] = tuple([params[i] for i in _PICK])
            for blob_id, data in change.blobs:
                blobs.append((blob_id, offset, len(data)))
                chunks.append(data)
                offset += len(data)
        doc = {"b": sorted(buckets), "e": events, "v": list(newest.values()), "o": blobs}
        self.doc = orjson.dumps(doc).decode()
        self.data = b"".join(chunks)

    def finish(self, rows: list[tuple[int, int]]) -> None:
        """Hand each change its positions and results (the null version id)."""
        position = dict(rows)
        n = 0
        for change in self.changes:
            for _ in change.events:
                n += 1
                change.positions.append(position[n])
                change.results.append(NULL_VERSION)

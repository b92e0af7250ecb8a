"""The fast path of appends on PostgreSQL: the one place where a batch of write plans is
appended other than plan by plan.

The store decides from each plan's content alone (callers set no flags):
- a *plain PUT* (new ObjectVersions of one bucket, whose only preconditions are that the
  bucket exists and stays within its quota) into a bucket last seen unversioned and without
  a quota joins a one-statement append
  (projections.eventstore.fast_append: one call of the database function
  chronicle_append_puts, which asserts the buckets itself under the lock);
- a *create-only* plan (only first events of randomly-identified aggregates) is appended
  together with its neighbours, one multi-row INSERT per run of them, its projection
  writes pipelined, and null-version PUTs upserted in bulk;
- anything else runs alone under a savepoint, in order, exactly as the careful path does.
If the pipelined transaction fails as a whole, the batch is replayed the careful way.

Measured gain: PUT 1 KiB c=32 with the fast path on 1139 and 1137 requests/s, off 716 and
738 (+55%), runs alternated back to back on one 2-core machine shared with other work:
`CHRONICLE_FAST_PATH=on|off python -m bench.run --only put`. Switch: CHRONICLE_FAST_PATH=off
(given to the store when it opens) sends every batch down the careful path (a savepoint and
statements per plan), turns the event-loop appender (projections.eventstore.loop_append, its own
gain +48%) off, and has PUTs build their aggregate instead of the first event alone
(domain.created, +26%). tests/integration/test_write_paths.py checks that both leave the same
tables, row by row.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import tuple_row

from domain.aggregates import DeleteMarker, MultipartUpload, ObjectAccess, ObjectVersion, UploadedPart
from domain.preconditions import BucketExists, WithinQuota
from domain.write_plan import WritePlan
from projections.eventstore.eventsourcing_internals import lock_events_table, notify_events_channel
from projections.eventstore.fast_append import BUCKET_ASSERTION, CALL_SQL, FUNCTION, AppendBatch
from projections.eventstore.preconditions import has_quota, reads_only_bucket_rows, verify
from projections.eventstore.tx import Tx
from projections.namespace.projection import NULL_VERSION, bulk_null_versions, is_null_version_put

log = logging.getLogger("chronicle.eventstore")

SETTING = "CHRONICLE_FAST_PATH"
QUOTA_HINT = "quota"  # versioning_hint's value for a bucket with a quota (never "")
UNDEFINED_FUNCTION = "42883"

_CREATED: Any = ObjectVersion.Created  # Any: the event's fields are made at run time, unseen by mypy
CREATE_ONLY_EVENTS = frozenset(
    {ObjectVersion.Created, DeleteMarker.Created, UploadedPart.Created, MultipartUpload.Created, ObjectAccess.Created}
)


def enabled(setting: str) -> bool:
    """The CHRONICLE_FAST_PATH setting's text (cli.settings), given to the store when it opens."""
    return setting.strip().lower() not in ("off", "0", "false", "no")


def plain_put_bucket(plan: WritePlan) -> str | None:
    """The bucket of a plain PUT (new ObjectVersions of one bucket, nothing required but
    that the bucket exists and, when it has one, stays within its quota), else None. The
    one-statement append takes a batch only into buckets without a quota, and asserts that
    itself under the lock."""
    preconditions = plan.preconditions
    if not plan.events or not 1 <= len(preconditions) <= 2 or type(preconditions[0]) is not BucketExists:
        return None
    bucket = preconditions[0].bucket
    if len(preconditions) == 2:
        quota = preconditions[1]
        if type(quota) is not WithinQuota or quota.bucket != bucket:
            return None
    for e in plan.events:  # (a loop, not all() over a generator: once per PUT)
        if type(e) is not _CREATED or e.bucket != bucket:
            return None
    return bucket


def is_create_only(plan: WritePlan) -> bool:
    """Only first events of randomly-identified aggregates: it cannot collide with anything,
    and changes nothing another plan's preconditions read but object rows."""
    return all(type(e) in CREATE_ONLY_EVENTS for e in plan.events)


def append(store: Any, plans: Sequence[WritePlan]) -> None:
    """Append a batch on PostgreSQL (store: a PostgresChronicleRecorder with the fast path on)."""
    hint = store.versioning_hint
    plain = [p for p in plans if hint.get(plain_put_bucket(p)) == ""]
    if plain and append_plain_puts(store, plain):
        done = {id(p) for p in plain}
        plans = [p for p in plans if id(p) not in done]
    elif plain:
        for plan in plain:
            plan.reset()
            hint.pop(plain_put_bucket(plan), None)
    if plans:
        with store.careful_lock:
            try:
                commit_pipelined(store, plans)
            except Exception as exc:  # noqa: BLE001 - retry the batch the careful way, plan by plan
                if store.is_pool_timeout(exc):
                    raise  # no connection came within the pool's wait: a retry would wait as long
                log.debug("pipelined commit failed; retrying plan by plan", exc_info=True)
                store.slow_batches += 1
                for plan in plans:
                    plan.reset()
                store.append_carefully(plans)


def append_plain_puts(store: Any, plans: Sequence[WritePlan]) -> bool:
    """One statement for a batch of plain PUTs. False when the batch was not appended (a
    bucket is missing or versioned): nothing was written."""
    if not store._append_function:
        return False
    batch = AppendBatch(plans, store.mapper)
    with store.datastore.get_connection() as conn:
        try:
            with conn.cursor(row_factory=tuple_row) as cursor:
                cursor.execute(CALL_SQL, (batch.doc, batch.data, store.lock_timeout), prepare=True)
                rows = cursor.fetchall()
        except psycopg.Error as exc:
            if conn.broken or conn.closed:
                # The connection went away: whether the COMMIT landed is unknown, so the
                # batch fails as a whole rather than being appended a second time.
                raise
            if exc.sqlstate == UNDEFINED_FUNCTION:
                log.warning("%s is missing (run `chronicle migrate`): PUTs take the slower path", FUNCTION)
                store._append_function = False
            elif exc.sqlstate != BUCKET_ASSERTION:
                log.debug("one-statement append failed; taking the careful path", exc_info=True)
            if conn.info.transaction_status != TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
            return False
    batch.finish(rows)
    store.one_trip_batches += 1
    return True


def commit_pipelined(store: Any, plans: Sequence[WritePlan]) -> None:
    """One transaction in psycopg pipeline mode. Create-only plans are appended together
    with one multi-row INSERT and their projection writes are pipelined; a plan that may
    collide, or whose preconditions read more than bucket rows, first flushes what is
    pending and then runs alone under a savepoint."""
    with store.datastore.get_connection() as conn:
        with conn.pipeline() as pipeline, conn.transaction():
            cursor = conn.cursor()
            # Serialises appends across nodes (ids visible in commit order) and makes the
            # preconditions checked below atomic with the append.
            lock_events_table(store, cursor)
            tx = Tx(cursor, store.dialect, cache={})
            pending: list[WritePlan] = []
            for plan in plans:
                heavy = not is_create_only(plan)
                if pending and (heavy or not reads_only_bucket_rows(tx, plan.preconditions)):
                    _flush(store, tx, pending)
                    pending = []
                if heavy:
                    store.apply_in_savepoints(cursor, [plan], tx=tx)
                    pipeline.sync()
                    continue
                try:
                    verify(tx, plan.preconditions)
                except Exception as exc:  # noqa: BLE001 - a failed precondition writes nothing
                    plan.error = exc
                    continue
                pending.append(plan)
            if pending:
                _flush(store, tx, pending)
            notify_events_channel(store, cursor)
        # Committed: the bucket rows read under the lock tell which buckets' plain PUTs may
        # take the one-statement path next time (it verifies that itself).
        _remember_versioning(store, tx)


def _remember_versioning(store: Any, tx: Tx) -> None:
    for key, row in tx.cache.items():
        if isinstance(key, tuple) and key[0] == "bucket":
            if row is None:
                store.versioning_hint.pop(key[1], None)
            else:
                # A bucket with a quota is no candidate for the one-statement append.
                store.versioning_hint[key[1]] = QUOTA_HINT if has_quota(row) else row["versioning"]


def _flush(store: Any, tx: Tx, pending: list[WritePlan]) -> None:
    positions = _insert_events(store, tx, pending)
    i = 0
    blobs: list[tuple[str, bytes]] = []
    bulk: list[tuple[int, Any]] = []
    for plan in pending:
        for domain_event in plan.events:
            position = positions[i]
            i += 1
            plan.positions.append(position)
            # Plain PUTs into never-versioned buckets are applied with one statement per
            # flush; anything else is applied in order after them.
            if is_null_version_put(tx, domain_event):
                bulk.append((position, domain_event))
                plan.results.append(NULL_VERSION)
                continue
            if bulk:
                bulk_null_versions(tx, bulk)
                bulk = []
            plan.results.append(store.projection.apply(tx, position, domain_event))
        blobs.extend(plan.blobs)
    if bulk:
        bulk_null_versions(tx, bulk)
    if blobs:
        values = ", ".join(["(%s, %s)"] * len(blobs))
        tx.cursor.execute(f"INSERT INTO blob_data (id, data) VALUES {values}", [v for b in blobs for v in b])


def _insert_events(store: Any, tx: Tx, pending: list[WritePlan]) -> list[int]:
    stored = [store.mapper.to_stored_event(e) for p in pending for e in p.events]
    if not stored:
        return []
    values = ", ".join(["(%s, %s, %s, %s)"] * len(stored))
    params: list[Any] = []
    for s in stored:
        params.extend((s.originator_id, s.originator_version, s.topic, s.state))
    tx.cursor.execute(
        f"INSERT INTO {store.events_table_sql} (originator_id, originator_version, topic, state) VALUES {values} "
        "RETURNING notification_id",
        params,
    )
    return [int(r["notification_id"]) for r in tx.cursor.fetchall()]

"""Rebuild the inline projections (namespace, IAM, notification targets) from the log: drop
its tables, replay every event.

Because every column derives from the events, the rebuilt tables equal the ones the live
system wrote (DESIGN invariant 1). The blob_data table is blob storage and is kept.

Nothing is touched while a node or worker runs: replay first takes the lock every running
`chronicle serve` and `chronicle worker` holds (projections.eventstore.node_lock) and refuses when it
cannot have it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from domain.change_record import RedactSettings
from projections import rebuild_fast
from projections.audit.indexer import AUDIT_TABLES, AuditIndexer
from projections.eventstore.eventsourcing_internals import lock_events_table
from projections.eventstore.inline import INLINE_TABLES, InlineProjections, inline_ddl
from projections.eventstore.node_lock import NodesRunning, hold_for_replay
from projections.eventstore.recorder import ChronicleApplication, PostgresChronicleRecorder
from projections.eventstore.session_name import session_name
from projections.eventstore.tx import Tx
from projections.history.follower import HISTORY_TABLES, HistoryFollower
from projections.notifications.follower import NotificationFollower
from projections.notifications.schema import NOTIFY_VIEW_TABLES, notify_ddl
from projections.rebuild_fast import FastRebuild

PAGE = 1000

__all__ = ["FollowerBusy", "NodesRunning", "Replayed", "rebuild_namespace", "rebuild_notifications", "replay"]


@dataclass(frozen=True)
class Replayed:
    namespace_events: int
    notification_events: int
    audit_events: int = 0
    history_events: int = 0


def replay(
    database_url: str | None,
    data_dir: Path,
    open_app: Callable[[str], ChronicleApplication],
    *,
    region: str = "",
    progress: Callable[[int, int], None] | None = None,
    rebuilt_namespace: Callable[[int], None] | None = None,
    before: Callable[[ChronicleApplication], None] | None = None,
    redact_settings: RedactSettings | None = None,
) -> Replayed:
    """Both rebuilds, while holding the nodes' lock exclusively (raises NodesRunning before
    anything is touched). ``open_app(name)`` opens the store, its sessions named ``name``."""
    name = session_name("replay")
    held = hold_for_replay(database_url, data_dir, name)
    try:
        app = open_app(name)
        try:
            if before is not None:  # e.g. the chain check: under the lock, before anything is dropped
                before(app)
            namespace = rebuild_namespace(app, progress=progress)
            if rebuilt_namespace is not None:
                rebuilt_namespace(namespace)
            notifications = rebuild_notifications(app, region=region, progress=progress)
            audit = rebuild_audit(app, redact_settings=redact_settings)
            history = rebuild_history(app)
        finally:
            app.close()
    finally:
        held.release()
    return Replayed(namespace, notifications, audit, history)


def rebuild_audit(app: ChronicleApplication, *, redact_settings: RedactSettings | None = None) -> int:
    """The audit index from scratch (its follower then goes on from where this ends)."""
    with app.store.datastore.transaction(commit=True) as cursor:
        tx = Tx(cursor, app.store.dialect)
        for table in AUDIT_TABLES:
            tx.execute(f"DELETE FROM {table}")
    return AuditIndexer(app, redact_settings=redact_settings).run_until_caught_up()


def rebuild_history(app: ChronicleApplication) -> int:
    """The history view from scratch (its follower then goes on from where this ends)."""
    with app.store.datastore.transaction(commit=True) as cursor:
        tx = Tx(cursor, app.store.dialect)
        for table in HISTORY_TABLES:
            tx.execute(f"DELETE FROM {table}")
    return HistoryFollower(app).run_until_caught_up()


def rebuild_namespace(app: ChronicleApplication, progress: Callable[[int, int], None] | None = None) -> int:
    store = app.store
    projection = InlineProjections()
    total = store.max_notification_id() or 0
    applied = 0
    with store.datastore.transaction(commit=True) as cursor:
        if isinstance(store, PostgresChronicleRecorder):
            lock_events_table(store, cursor)  # no append may interleave with the rebuild
        tx = Tx(cursor, store.dialect)
        for table in INLINE_TABLES:
            tx.execute(f"DROP TABLE IF EXISTS {table}")
        for statement in inline_ddl(store.dialect):
            tx.execute(statement)
        fast = FastRebuild(app, tx, projection) if rebuild_fast.usable(app, store.dialect.name) else None
        start = 1
        while True:
            # Read through the rebuild's own connection: SQLite's pool would block a second one.
            rows = tx.all(store.events_page_sql(), (start, PAGE))
            if not rows:
                break
            if fast is not None:
                fast.apply(rows)
                fast.flush()
                fast.wait()  # the next page is read on this connection
            else:
                for row in rows:
                    projection.apply(tx, int(row["notification_id"]), app.decode_row(row))
            applied += len(rows)
            start = int(rows[-1]["notification_id"]) + 1
            if progress is not None:
                progress(start - 1, total)
        if fast is not None:
            fast.close()
    return applied


class FollowerBusy(RuntimeError):
    """Another process's notification follower holds the log (PostgreSQL)."""


def rebuild_notifications(
    app: ChronicleApplication, *, region: str = "", progress: Callable[[int, int], None] | None = None
) -> int:
    """Drop the notification views and run the follower over the whole log again. Target
    checkpoints are delivery state, not projections: they are kept, so targets are not
    sent again what they already confirmed."""
    store = app.store
    total = store.max_notification_id() or 0
    with store.datastore.transaction(commit=True) as cursor:
        tx = Tx(cursor, store.dialect)
        for table in NOTIFY_VIEW_TABLES:
            tx.execute(f"DROP TABLE IF EXISTS {table}")
        for statement in notify_ddl(store.dialect):
            tx.execute(statement)
    follower = NotificationFollower(app, region=region, page=PAGE * 5)
    try:
        applied = follower.run_until_caught_up(
            None if progress is None else lambda _n: progress(follower.position(), total)
        )
        if follower.position() < total:
            # On PostgreSQL a running follower holds the follower lock: this one stood by.
            raise FollowerBusy(
                "the notification follower of a running server or worker holds the log: "
                "stop every `chronicle serve` and `chronicle worker` before replaying"
            )
        return applied
    finally:
        follower.close()

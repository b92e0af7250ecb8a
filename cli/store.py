"""Opening the event store for a command: the database probed first (a wrong URL is said
plainly), the node lock every running node holds, and the check that tables exist."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import psycopg

from cli.database_probe import probe_database
from cli.datadir import require_data_dir
from cli.settings import ChronicleSettings
from projections.eventstore import fast_path
from projections.eventstore.node_lock import Held, ReplayRunning, hold_for_node
from projections.eventstore.recorder import ChronicleApplication, StoreOptions, open_store
from projections.eventstore.session_name import session_name
from projections.eventstore.tx import Tx


def open_event_store(
    settings: ChronicleSettings, data_dir: Path, *, create_table: bool, name: str | None = None
) -> ChronicleApplication:
    """The event store; name: its PostgreSQL sessions' application_name."""
    if settings.database_url:
        probe_database(settings.database_url)
    return open_store(
        settings.database_url,
        data_dir,
        create_table=create_table,
        application_name=name,
        options=store_options(settings),
    )


def store_options(settings: ChronicleSettings) -> StoreOptions:
    return StoreOptions(
        pool_size=settings.pg_pool_size,
        max_overflow=settings.pg_max_overflow,
        pool_timeout=settings.pg_pool_timeout,
        fast_path=fast_path.enabled(settings.fast_path),
    )


def existing_store(settings: ChronicleSettings, data_dir: Path, name: str) -> ChronicleApplication:
    """The store of an existing deployment (never creates a data dir)."""
    if not settings.database_url:
        require_data_dir(data_dir, database_url=None)
    return open_event_store(settings, data_dir, create_table=False, name=session_name(name))


def hold_node_lock(settings: ChronicleSettings, data_dir: Path, command: str, name: str) -> Held | None:
    """The lock every running node holds, so that `chronicle replay` refuses to run under
    it; None (after saying why) while a replay runs."""
    if settings.database_url:
        probe_database(settings.database_url)  # a wrong URL is said plainly before any connection is tried
    try:
        return hold_for_node(settings.database_url, data_dir, name)
    except ReplayRunning as e:
        print(f"chronicle {command}: {e}", file=sys.stderr)
    except psycopg.Error as e:
        print(f"chronicle {command}: cannot reach the database: {e}", file=sys.stderr)
    return None


def require_tables(store: ChronicleApplication) -> None:
    try:
        with store.store.read() as cursor:
            Tx(cursor, store.store.dialect).execute("SELECT 1 FROM ns_buckets LIMIT 1")
    except Exception as exc:  # noqa: BLE001 - the driver's error may come wrapped by eventsourcing's
        if not _missing_table(exc):
            raise  # not "no tables yet": a database out of reach is said as such by the caller
        raise SystemExit(
            "The database has no Chronicle tables yet: run `chronicle migrate` once (same environment), "
            "then start the nodes."
        ) from None


def _missing_table(exc: BaseException | None) -> bool:
    """Whether `exc` (or what it wraps) says a table does not exist, on either backend."""
    while exc is not None:
        if isinstance(exc, psycopg.errors.UndefinedTable):
            return True
        if isinstance(exc, sqlite3.OperationalError) and "no such table" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False

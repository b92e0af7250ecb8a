"""Build the inline views (namespace, IAM, notification targets) as of a moment of the log into
another place — a PostgreSQL database, or a SQLite file — while the servers keep running:
`chronicle replay --until TIME|POSITION --into TARGET`. The live tables are never touched; the
log is only read, a page at a time, each page in a read-only transaction of its own.

What lands in the target equals what the live system held right after that position (DESIGN
invariant 1: every column is derived from the events), so an auditor can open it with any SQL
client and ask what the namespace and the identities were at that moment."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psycopg
from psycopg.rows import dict_row

from projections import rebuild_fast
from projections.eventstore.inline import INLINE_TABLES, InlineProjections, inline_ddl
from projections.eventstore.recorder import ChronicleApplication
from projections.eventstore.sql import Dialect, PostgresDialect
from projections.eventstore.tx import Tx
from projections.rebuild_fast import FastRebuild

PAGE = 5000  # events read (and committed into the target) at a time


class BadTarget(ValueError):
    """A target that is neither a PostgreSQL URL nor a SQLite file path; says what to give."""


@dataclass(frozen=True)
class Target:
    postgres_url: str | None = None
    sqlite_path: Path | None = None
    # A scratch target inside the live PostgreSQL database: its own schema, reached with the
    # store's own connection settings (chronicle verify).
    postgres_kwargs: dict[str, Any] | None = field(default=None, compare=False)
    schema: str | None = None

    @classmethod
    def parse(cls, text: str) -> Target:
        scheme = urlparse(text).scheme
        if scheme in ("postgres", "postgresql"):
            return cls(postgres_url=text)
        if scheme == "sqlite":
            return cls(sqlite_path=Path(text.split("://", 1)[1]))
        if scheme:
            raise BadTarget(f"{text}: give postgresql://host/database or a SQLite file path (sqlite:///path works too)")
        return cls(sqlite_path=Path(text))

    def describe(self) -> str:
        return self.postgres_url.split("@")[-1] if self.postgres_url else f"SQLite {self.sqlite_path}"


def rebuild_into(
    app: ChronicleApplication,
    target: Target,
    until: int,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Apply every event up to position `until` (inclusive) to fresh inline tables in `target`;
    returns the number of events applied."""
    conn, dialect = connect(target)
    fast: FastRebuild | None = None
    try:
        cursor = conn.cursor()
        tx = Tx(cursor, dialect)
        for table in INLINE_TABLES:
            tx.execute(f"DROP TABLE IF EXISTS {table}")
        for statement in inline_ddl(dialect):
            tx.execute(statement)
        conn.commit()
        projection = InlineProjections()
        fast = FastRebuild(app, tx, projection) if rebuild_fast.usable(app, dialect.name) else None
        store = app.store
        applied, start = 0, 1
        while start <= until:
            with store.read() as source:
                rows = Tx(source, store.dialect).all(store.events_page_sql(), (start, PAGE))
            rows = [r for r in rows if int(r["notification_id"]) <= until]
            if not rows:
                break
            if fast is not None:
                fast.apply(rows)
                fast.flush(commit=True)  # written and committed while the next page is read
            else:
                for row in rows:
                    projection.apply(tx, int(row["notification_id"]), app.decode_row(row))
                conn.commit()
            applied += len(rows)
            start = int(rows[-1]["notification_id"]) + 1
            if progress is not None:
                progress(start - 1, until)
        if fast is not None:
            fast.close()
            conn.commit()
        return applied
    finally:
        if fast is not None:
            fast.stop()  # its writer may still use the connection when something failed
        conn.close()


def drop_views(target: Target) -> None:
    """Drop what rebuild_into built in `target` (a replay refused after the build)."""
    conn, dialect = connect(target)
    try:
        tx = Tx(conn.cursor(), dialect)
        for table in INLINE_TABLES:
            tx.execute(f"DROP TABLE IF EXISTS {table}")
        conn.commit()
    finally:
        conn.close()


def connect(target: Target) -> tuple[Any, Dialect]:
    """A connection to `target` (dict rows), in its schema when it has one."""
    if target.postgres_kwargs is not None or target.postgres_url is not None:
        if target.postgres_kwargs is not None:
            conn = psycopg.connect(**target.postgres_kwargs, row_factory=dict_row)
        else:
            conn = psycopg.connect(target.postgres_url or "", row_factory=dict_row)
        if target.schema:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{target.schema}"')
            conn.execute(f'SET search_path TO "{target.schema}"')
        return conn, PostgresDialect()
    assert target.sqlite_path is not None
    target.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(target.sqlite_path)
    conn.row_factory = sqlite3.Row
    return conn, Dialect()


def position_until(app: ChronicleApplication, text: str) -> int:
    """`--until`: a position (an integer), or an ISO 8601 time — the last event at or before it.
    Raises ValueError for anything else."""
    store = app.store
    with store.read() as cursor:
        tx = Tx(cursor, store.dialect)
        head = int(tx.scalar(store.head_sql()) or 0)
        if text.isdigit():
            return min(int(text), head)
        from_us = _time_us(text)
        # The audit index carries each event's time by position (the log's rows carry it only
        # inside their state); a time past what it reaches counts up to the head.
        indexed = int(tx.scalar("SELECT position FROM audit_tracking WHERE name = 'audit'") or 0)
        last = tx.scalar("SELECT MAX(position) FROM audit_index WHERE time_us <= ?", (from_us,))
        if last is not None and int(last) == indexed and indexed < head:
            raise ValueError("the audit index has not reached that time yet: try again in a moment")
        return int(last or 0)


def _time_us(text: str) -> int:
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1_000_000)

"""The two SQL dialects we run on. Statements are written once with `?` placeholders."""

from __future__ import annotations

import sqlite3
from functools import lru_cache
from typing import Any

import psycopg
from eventsourcing.persistence import IntegrityError


class Dialect:
    name = "sqlite"
    text_key = "TEXT"  # SQLite's default BINARY collation already orders by UTF-8 bytes
    blob = "BLOB"
    bigint = "INTEGER"
    json = "TEXT"
    # The current time in microseconds, as a column default. julianday('now') has millisecond
    # precision; unixepoch('subsec') needs SQLite 3.42.
    now_us = "(CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER))"

    def sql(self, statement: str) -> str:
        return statement

    def is_integrity_error(self, exc: BaseException) -> bool:
        return isinstance(exc, (sqlite3.IntegrityError, IntegrityError))


class PostgresDialect(Dialect):
    name = "postgres"
    text_key = 'TEXT COLLATE "C"'  # byte order, never the database locale
    blob = "BYTEA"
    bigint = "BIGINT"
    json = "TEXT"
    now_us = "((extract(epoch FROM clock_timestamp()) * 1000000)::bigint)"

    def sql(self, statement: str) -> str:
        return _to_pyformat(statement)

    def is_integrity_error(self, exc: BaseException) -> bool:
        return isinstance(exc, (psycopg.IntegrityError, IntegrityError))


@lru_cache(maxsize=1024)
def _to_pyformat(statement: str) -> str:
    return statement.replace("%", "%%").replace("?", "%s")


def rows(cursor: Any) -> list[dict[str, Any]]:
    """Rows as plain dicts, whichever driver produced them."""
    fetched = cursor.fetchall()
    return [dict(r) for r in fetched]


def one(cursor: Any) -> dict[str, Any] | None:
    row = cursor.fetchone()
    return dict(row) if row is not None else None

"""Frozen migrations: every migration holds its own DDL, so what the schema modules declare
(the tables replay rebuilds) can drift from what a migrated database has. This runs every
migration on a fresh database and compares the result with the schema modules' DDL run on
another fresh database: a difference means a schema module changed without a migration."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg

from projections.eventstore.fast_append import function_ddl
from projections.eventstore.inline import inline_ddl
from projections.eventstore.recorder import open_store
from projections.eventstore.sql import Dialect, PostgresDialect
from projections.notifications.schema import notify_ddl
from tests.helpers.services import create_pg_database, drop_pg_database

ADVICE = (
    "the schema modules declare a schema the migrations do not create: write a new migration in "
    "migrations/versions/ that brings a migrated database to it (never edit a released migration)"
)


def declared_ddl(d: Dialect) -> list[str]:
    """Every table, index and function the schema modules declare."""
    return inline_ddl(d) + notify_ddl(d)


def _pg_schema(url: str, tables: list[str] | None) -> dict[str, Any]:
    with psycopg.connect(url, autocommit=True) as conn:
        if tables is None:
            tables = [
                r[0]
                for r in conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
            ]
        schema: dict[str, Any] = {}
        for table in sorted(tables):
            columns = conn.execute(
                "SELECT column_name, data_type, is_nullable, column_default, collation_name "
                "FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s "
                "ORDER BY column_name",
                (table,),
            ).fetchall()
            indexes = conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = %s ORDER BY indexname",
                (table,),
            ).fetchall()
            schema[table] = {"columns": columns, "indexes": [r[0] for r in indexes]}
        functions = conn.execute(
            "SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = 'public' ORDER BY p.proname"
        ).fetchall()
        schema["functions"] = dict(functions)
    return schema


def test_migrations_create_what_the_schema_modules_declare_postgres(empty_pg_url: str, tmp_path: Path) -> None:
    pg_url = empty_pg_url
    open_store(pg_url, tmp_path, create_table=True).close()
    name, declared_url = create_pg_database("chronicle_declared")
    try:
        with psycopg.connect(declared_url, autocommit=True) as conn:
            for statement in [*declared_ddl(PostgresDialect()), function_ddl()]:
                conn.execute(statement)
        declared = _pg_schema(declared_url, None)
        tables = [t for t in declared if t != "functions"]
        migrated = _pg_schema(pg_url, tables)
    finally:
        drop_pg_database(name)
    for table in tables:
        assert migrated[table] == declared[table], f"table {table}: {ADVICE}"
    for function, definition in declared["functions"].items():
        assert migrated["functions"].get(function) == definition, f"function {function}: {ADVICE}"


def _sqlite_schema(path: Path, tables: list[str] | None) -> dict[str, Any]:
    conn = sqlite3.connect(path)
    try:
        if tables is None:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        schema: dict[str, Any] = {}
        for table in sorted(tables):
            columns = sorted(conn.execute(f"PRAGMA table_info({table})").fetchall(), key=lambda c: c[1])
            indexes = []
            for _seq, index, unique, _origin, _partial in conn.execute(f"PRAGMA index_list({table})").fetchall():
                indexed = [r[2] for r in conn.execute(f"PRAGMA index_info({index})").fetchall()]
                indexes.append((index if not index.startswith("sqlite_autoindex") else "auto", unique, indexed))
            schema[table] = {"columns": [c[1:] for c in columns], "indexes": sorted(indexes)}
        return schema
    finally:
        conn.close()


def test_migrations_create_what_the_schema_modules_declare_sqlite(tmp_path: Path) -> None:
    open_store(None, tmp_path / "migrated", create_table=True).close()
    declared_path = tmp_path / "declared.sqlite3"
    conn = sqlite3.connect(declared_path)
    for statement in declared_ddl(Dialect()):
        conn.execute(statement)
    conn.commit()
    conn.close()
    declared = _sqlite_schema(declared_path, None)
    migrated = _sqlite_schema(tmp_path / "migrated" / "chronicle.sqlite3", list(declared))
    for table in declared:
        assert migrated[table] == declared[table], f"table {table}: {ADVICE}"

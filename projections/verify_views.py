"""`chronicle verify` (without --chain): rebuild every inline view (namespace, IAM, notification
targets) from the log into a scratch target while the servers run, and compare it row by row with
the live tables (DESIGN invariant 1). The live rows are read in one snapshot, with the log
position they reflect; the scratch is built up to exactly that position, so appends that land
meanwhile do not count as differences. Scratch: a schema of its own in the live PostgreSQL
database, or a SQLite file beside the live one; removed afterwards."""

from __future__ import annotations

import secrets
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from projections.eventstore.inline import INLINE_TABLES
from projections.eventstore.recorder import ChronicleApplication, PostgresChronicleRecorder, pg_connect_kwargs
from projections.eventstore.tx import Tx
from projections.rebuild_into import Target, connect, rebuild_into

SAMPLES = 5  # rows shown per table and side


@dataclass
class TableDifference:
    table: str
    only_live: int
    only_rebuilt: int
    samples_live: list[dict[str, Any]] = field(default_factory=list)
    samples_rebuilt: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ViewsReport:
    position: int
    rows: int
    differences: list[TableDifference]

    @property
    def ok(self) -> bool:
        return not self.differences


def verify_views(app: ChronicleApplication, *, progress: Callable[[int, int], None] | None = None) -> ViewsReport:
    store = app.store
    with store.snapshot() as cursor:
        tx = Tx(cursor, store.dialect)
        position = int(tx.scalar(store.head_sql()) or 0)
        live = {table: _rows(tx, table) for table in INLINE_TABLES}
    if isinstance(store, PostgresChronicleRecorder):
        target = Target(postgres_kwargs=pg_connect_kwargs(app), schema=f"chronicle_verify_{secrets.token_hex(4)}")
        scratch_dir = None
    else:
        scratch_dir = tempfile.TemporaryDirectory(prefix="chronicle-verify-")
        target = Target(sqlite_path=Path(scratch_dir.name) / "views.sqlite3")
    try:
        rebuild_into(app, target, position, progress=progress)
        conn, dialect = connect(target)
        try:
            rebuilt_tx = Tx(conn.cursor(), dialect)
            rebuilt = {table: _rows(rebuilt_tx, table) for table in INLINE_TABLES}
        finally:
            conn.close()
    finally:
        _drop(target)
        if scratch_dir is not None:
            scratch_dir.cleanup()
    differences = [d for table in INLINE_TABLES if (d := _compare(table, live[table], rebuilt[table]))]
    return ViewsReport(position, sum(sum(c.values()) for c in live.values()), differences)


def _rows(tx: Tx, table: str) -> Counter[tuple[tuple[str, Any], ...]]:
    return Counter(tuple(sorted((k, _plain(v)) for k, v in row.items())) for row in tx.all(f"SELECT * FROM {table}"))


def _plain(value: Any) -> Any:
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def _compare(table: str, live: Counter[Any], rebuilt: Counter[Any]) -> TableDifference | None:
    only_live, only_rebuilt = live - rebuilt, rebuilt - live
    if not only_live and not only_rebuilt:
        return None
    return TableDifference(
        table,
        sum(only_live.values()),
        sum(only_rebuilt.values()),
        [dict(r) for r in list(only_live)[:SAMPLES]],
        [dict(r) for r in list(only_rebuilt)[:SAMPLES]],
    )


def _drop(target: Target) -> None:
    if target.schema and target.postgres_kwargs is not None:
        conn, _ = connect(Target(postgres_kwargs=target.postgres_kwargs))
        try:
            conn.execute(f'DROP SCHEMA IF EXISTS "{target.schema}" CASCADE')
            conn.commit()
        finally:
            conn.close()

"""A thin wrapper over a DB-API cursor that speaks our one SQL spelling on both dialects."""

from __future__ import annotations

from typing import Any

from projections.eventstore.sql import Dialect


class Tx:
    def __init__(self, cursor: Any, dialect: Dialect, cache: dict[str, Any] | None = None) -> None:
        self.cursor = cursor
        self.dialect = dialect
        # Within one append transaction: rows the projection keeps current (bucket rows),
        # so a batch of writes to one bucket reads it once.
        self.cache = cache if cache is not None else {}

    def execute(self, statement: str, params: tuple[Any, ...] | list[Any] = ()) -> Any:
        self.cursor.execute(self.dialect.sql(statement), tuple(params))
        return self.cursor

    def one(self, statement: str, params: tuple[Any, ...] | list[Any] = ()) -> dict[str, Any] | None:
        self.execute(statement, params)
        row = self.cursor.fetchone()
        return dict(row) if row is not None else None

    def all(self, statement: str, params: tuple[Any, ...] | list[Any] = ()) -> list[dict[str, Any]]:
        self.execute(statement, params)
        return [dict(r) for r in self.cursor.fetchall()]

    def scalar(self, statement: str, params: tuple[Any, ...] | list[Any] = ()) -> Any:
        row = self.one(statement, params)
        return None if row is None else next(iter(row.values()))

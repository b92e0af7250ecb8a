"""The WHERE clause the audit questions share (changes and requests): equality on indexed
columns, one key or a key prefix as an index range, and a time range."""

from __future__ import annotations

from typing import Any


def after_prefix(prefix: str) -> str:
    """The smallest string greater than every string starting with `prefix` (byte order)."""
    return prefix + "\U0010ffff"


class Where:
    def __init__(self, clause: str, *params: Any) -> None:
        self.clauses = [clause]
        self.params: list[Any] = list(params)

    def add(self, clause: str, *params: Any) -> Where:
        self.clauses.append(clause)
        self.params.extend(params)
        return self

    def equal(self, column: str, value: Any) -> Where:
        return self if value is None else self.add(f"{column} = ?", value)

    def key(self, column: str, key: str | None, prefix: str | None) -> Where:
        if key is not None:
            return self.add(f"{column} = ?", key)
        if prefix:
            return self.add(f"{column} >= ? AND {column} < ?", prefix, after_prefix(prefix))
        return self

    def time(self, since_us: int | None, until_us: int | None) -> Where:
        if since_us is not None:
            self.add("time_us >= ?", since_us)
        if until_us is not None:
            self.add("time_us < ?", until_us)
        return self

    @property
    def sql(self) -> str:
        return " AND ".join(self.clauses)

"""MinIO's PostgreSQL target (``notify_postgres``, ARN type ``postgresql``).

Bootstrap: ``SELECT 1 FROM <table>`` and, if that fails, create MinIO's table:
- namespace: ``(key VARCHAR PRIMARY KEY, value JSONB)``; upsert ``bucket/key`` →
  ``{"Records":[record]}``, delete it on ``s3:ObjectRemoved:Delete``;
- access: ``(event_time TIMESTAMP WITH TIME ZONE NOT NULL, event_data JSONB)``; insert.

A batch is one transaction, its statements pipelined (executemany), so it costs a few
round trips and is confirmed by the COMMIT.

``connection_string`` is lib/pq's ``key=value`` form (or a URL), which libpq understands;
two lib/pq differences are kept: sslmode defaults to ``require``, and keys libpq does not
know are sent as server settings (``search_path=...``).
"""

from __future__ import annotations

import psycopg
from psycopg import conninfo as pg_conninfo

from workers.targets.base import (
    Delivery,
    TargetError,
    describe,
    is_namespace_delete,
    namespace_key,
    parse_event_time,
    records_body,
)
from workers.targets.config import PostgresConfig
from workers.targets.values import ConfigError, validate_postgres_table

CONNECT_TIMEOUT = 10


def parse_lib_pq(connection_string: str) -> dict[str, str]:
    """lib/pq's ``key=value`` connection string (values optionally single-quoted, with
    backslash escapes), or a ``postgres://`` URL."""
    s = connection_string.strip()
    if s.startswith(("postgres://", "postgresql://")):
        try:
            return {k: str(v) for k, v in pg_conninfo.conninfo_to_dict(s).items()}
        except psycopg.ProgrammingError as e:
            raise ConfigError(f"notify_postgres: connection_string cannot be parsed: {e}") from None
    out: dict[str, str] = {}
    i, n = 0, len(s)
    while i < n:
        while i < n and s[i].isspace():
            i += 1
        if i >= n:
            break
        start = i
        while i < n and s[i] != "=" and not s[i].isspace():
            i += 1
        key = s[start:i]
        while i < n and s[i].isspace():
            i += 1
        if i >= n or s[i] != "=" or not key:
            raise ConfigError(f"notify_postgres: connection_string: expected key=value near {s[start : start + 20]!r}")
        i += 1
        while i < n and s[i].isspace():
            i += 1
        value: list[str] = []
        if i < n and s[i] == "'":
            i += 1
            while True:
                if i >= n:
                    raise ConfigError(f"notify_postgres: connection_string: unterminated quote in {key}")
                if s[i] == "\\" and i + 1 < n:
                    value.append(s[i + 1])
                    i += 2
                elif s[i] == "'":
                    i += 1
                    break
                else:
                    value.append(s[i])
                    i += 1
        else:
            while i < n and not s[i].isspace():
                if s[i] == "\\" and i + 1 < n:
                    i += 1
                value.append(s[i])
                i += 1
        out[key] = "".join(value)
    return out


def libpq_conninfo(connection_string: str) -> str:
    """lib/pq connection string → a libpq conninfo psycopg accepts."""
    params = parse_lib_pq(connection_string)
    known = {d.keyword.decode() for d in psycopg.pq.Conninfo.get_defaults()}
    server_settings = {k: v for k, v in params.items() if k not in known}
    params = {k: v for k, v in params.items() if k in known}
    if server_settings:
        extra = " ".join(
            "-c " + f"{k}={v}".replace("\\", "\\\\").replace(" ", "\\ ") for k, v in server_settings.items()
        )
        params["options"] = (params.get("options", "") + " " + extra).strip()
    params.setdefault("sslmode", "require")  # lib/pq's default (libpq's is "prefer")
    params.setdefault("connect_timeout", str(CONNECT_TIMEOUT))
    return pg_conninfo.make_conninfo(**params)


class PostgresTarget:
    type = "postgresql"

    def __init__(self, target_id: str, config: PostgresConfig) -> None:
        validate_postgres_table(config.table)
        self.id = target_id
        self.config = config
        self._conninfo = libpq_conninfo(config.connection_string)
        self._conn: psycopg.AsyncConnection | None = None
        self._ready = False
        t = config.table
        if config.format == "access":
            self._create = f"CREATE TABLE {t} (event_time TIMESTAMP WITH TIME ZONE NOT NULL, event_data JSONB)"
            self._insert = f"INSERT INTO {t} (event_time, event_data) VALUES (%s, %s)"
        else:
            self._create = f"CREATE TABLE {t} (key VARCHAR PRIMARY KEY, value JSONB)"
            self._upsert = (
                f"INSERT INTO {t} (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
            )
            self._delete = f"DELETE FROM {t} WHERE key = %s"

    def _where(self) -> str:
        p = pg_conninfo.conninfo_to_dict(self._conninfo)
        return f"postgresql {p.get('host', 'localhost')}:{p.get('port', 5432)} table {self.config.table}"

    async def _ensure(self) -> psycopg.AsyncConnection:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
                self._ready = False
            if not self._ready:
                await self._bootstrap(self._conn)
                self._ready = True
        except psycopg.Error as e:
            await self._drop()
            raise TargetError(f"{self._where()}: {describe(e)}") from e
        return self._conn

    async def _bootstrap(self, conn: psycopg.AsyncConnection) -> None:
        async def exists() -> bool:
            try:
                await conn.execute(f"SELECT 1 FROM {self.config.table} LIMIT 1")
                return True
            except psycopg.DatabaseError:
                return False

        if await exists():
            return
        try:
            await conn.execute(self._create)
        except psycopg.DatabaseError:
            if not await exists():  # another worker may have created it meanwhile
                raise

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()
            except Exception:  # best effort
                pass

    async def open(self) -> None:
        await self._ensure()

    async def deliver(self, batch: list[Delivery]) -> None:
        if not batch:
            return
        conn = await self._ensure()
        try:
            async with conn.transaction():
                async with conn.cursor() as cur:
                    if self.config.format == "access":
                        await cur.executemany(
                            self._insert,
                            [(parse_event_time(d.event_time), records_body(d.record).decode()) for d in batch],
                        )
                    else:
                        for delete, run in _runs(batch):
                            if delete:
                                await cur.executemany(self._delete, [(namespace_key(d),) for d in run])
                            else:
                                await cur.executemany(
                                    self._upsert,
                                    [(namespace_key(d), records_body(d.record).decode()) for d in run],
                                )
        except (psycopg.Error, OSError) as e:
            await self._drop()
            raise TargetError(f"{self._where()}: {describe(e)}") from e

    async def close(self) -> None:
        await self._drop()


def _runs(batch: list[Delivery]) -> list[tuple[bool, list[Delivery]]]:
    """Consecutive deliveries grouped by operation (delete or upsert), in order."""
    runs: list[tuple[bool, list[Delivery]]] = []
    for d in batch:
        delete = is_namespace_delete(d)
        if runs and runs[-1][0] == delete:
            runs[-1][1].append(d)
        else:
            runs.append((delete, [d]))
    return runs

"""MinIO's MySQL target (``notify_mysql``), through PyMySQL in a worker thread.

Bootstrap: ``SELECT 1 FROM <table>`` and, if that fails, create MinIO's table:
- namespace: ``key_name VARCHAR(3072)``, ``key_hash CHAR(64) GENERATED ALWAYS AS
  (SHA2(key_name, 256)) STORED NOT NULL PRIMARY KEY``, ``value JSON``, utf8mb4_bin;
  ``INSERT ... ON DUPLICATE KEY UPDATE value=VALUES(value)``, and
  ``DELETE ... WHERE key_hash = SHA2(?, 256)`` on ``s3:ObjectRemoved:Delete``.
  MariaDB rejects that DDL (no NOT NULL or PRIMARY KEY on a generated column), so there
  the same table is created with a UNIQUE key on key_hash, which the statements use alike.
- access: ``(event_time DATETIME NOT NULL, event_data JSON)``; insert.

A batch is one transaction (multi-row INSERTs, DELETE ... IN), confirmed by the COMMIT.
``dsn_string`` is go-sql-driver's ``user:password@tcp(host:port)/dbname?param=value``.
"""

from __future__ import annotations

import asyncio
import ssl
from datetime import UTC

import pymysql

from workers.targets.base import (
    Delivery,
    TargetError,
    describe,
    is_namespace_delete,
    namespace_key,
    parse_event_time,
    records_body,
)
from workers.targets.config import MySQLConfig
from workers.targets.values import MySQLDSN, go_duration_seconds, parse_mysql_dsn, validate_mysql_table

DELETE_CHUNK = 1000


def connect_kwargs(dsn: MySQLDSN) -> dict:
    """PyMySQL connect() arguments for a go-sql-driver DSN."""
    kw: dict = {
        "user": dsn.user or None,
        "password": dsn.password,
        "database": dsn.database or None,
        "charset": "utf8mb4",
        "autocommit": False,
        "connect_timeout": 10,
        "read_timeout": 60,
        "write_timeout": 60,
    }
    if dsn.net == "unix":
        kw["unix_socket"] = dsn.unix_socket
    else:
        kw["host"] = dsn.host
        kw["port"] = dsn.port
    for name, go_key in (
        ("connect_timeout", "timeout"),
        ("read_timeout", "readTimeout"),
        ("write_timeout", "writeTimeout"),
    ):
        if go_key in dsn.params:
            kw[name] = go_duration_seconds(dsn.params[go_key], f"notify_mysql: dsn_string {go_key}")
    if "charset" in dsn.params:
        kw["charset"] = dsn.params["charset"].split(",")[0]
    if "collation" in dsn.params:
        kw["collation"] = dsn.params["collation"]
    tls = dsn.params.get("tls", "false").lower()
    if tls in ("true", "1"):
        kw["ssl"] = ssl.create_default_context()
    elif tls in ("skip-verify", "preferred"):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        kw["ssl"] = ctx
    return kw


class MySQLTarget:
    type = "mysql"

    def __init__(self, target_id: str, config: MySQLConfig) -> None:
        validate_mysql_table(config.table)
        self.id = target_id
        self.config = config
        self._dsn = parse_mysql_dsn(config.dsn_string)
        self._conn: pymysql.connections.Connection | None = None
        self._ready = False
        self._lock = asyncio.Lock()
        t = config.table
        if config.format == "access":
            self._create = [f"CREATE TABLE {t} (event_time DATETIME NOT NULL, event_data JSON) ROW_FORMAT = Dynamic"]
            self._insert = f"INSERT INTO {t} (event_time, event_data) VALUES (%s, %s)"
        else:
            self._create = [
                f"CREATE TABLE {t} (key_name VARCHAR(3072) NOT NULL, "
                "key_hash CHAR(64) GENERATED ALWAYS AS (SHA2(key_name, 256)) STORED NOT NULL "
                "PRIMARY KEY, value JSON) "
                "CHARACTER SET = utf8mb4 COLLATE = utf8mb4_bin ROW_FORMAT = Dynamic",
                # MariaDB: a generated column can be neither NOT NULL nor the PRIMARY KEY.
                f"CREATE TABLE {t} (key_name VARCHAR(3072) NOT NULL, "
                "key_hash CHAR(64) GENERATED ALWAYS AS (SHA2(key_name, 256)) STORED, "
                "value JSON, UNIQUE KEY (key_hash)) "
                "CHARACTER SET = utf8mb4 COLLATE = utf8mb4_bin ROW_FORMAT = Dynamic",
            ]
            self._upsert = (
                f"INSERT INTO {t} (key_name, value) VALUES (%s, %s) ON DUPLICATE KEY UPDATE value=VALUES(value)"
            )
            self._delete_prefix = f"DELETE FROM {t} WHERE key_hash IN "

    def _where(self) -> str:
        d = self._dsn
        addr = d.unix_socket if d.net == "unix" else f"{d.host}:{d.port}"
        return f"mysql {addr}/{d.database} table {self.config.table}"

    # -- blocking parts, run in a thread ------------------------------------------------

    def _ensure_sync(self) -> pymysql.connections.Connection:
        if self._conn is not None and self._conn.open:
            try:
                self._conn.ping(reconnect=False)  # the server may have closed an idle one
            except pymysql.MySQLError:
                self._close_sync()
        if self._conn is None or not self._conn.open:
            self._conn = pymysql.connect(**connect_kwargs(self._dsn))
            self._ready = False
        if not self._ready:
            self._bootstrap(self._conn)
            self._ready = True
        return self._conn

    def _bootstrap(self, conn: pymysql.connections.Connection) -> None:
        def exists() -> bool:
            try:
                with conn.cursor() as cur:
                    cur.execute(f"SELECT 1 FROM {self.config.table} LIMIT 1")
                    cur.fetchall()
                return True
            except pymysql.MySQLError:
                return False
            finally:
                conn.rollback()

        if exists():
            return
        err: Exception | None = None
        for ddl in self._create:
            try:
                with conn.cursor() as cur:
                    cur.execute(ddl)
                return
            except pymysql.err.ProgrammingError as e:  # 1064 syntax: try the MariaDB form
                err = e
                continue
            except pymysql.MySQLError as e:
                err = e
                break
        if not exists():  # another worker may have created it meanwhile
            assert err is not None
            raise err

    def _deliver_sync(self, batch: list[Delivery]) -> None:
        conn = self._ensure_sync()
        try:
            conn.begin()
            with conn.cursor() as cur:
                if self.config.format == "access":
                    cur.executemany(
                        self._insert,
                        [
                            (
                                parse_event_time(d.event_time).astimezone(UTC).replace(tzinfo=None),
                                records_body(d.record).decode(),
                            )
                            for d in batch
                        ],
                    )
                else:
                    run: list[Delivery] = []
                    for i, d in enumerate(batch):
                        run.append(d)
                        last = i + 1 == len(batch)
                        if last or is_namespace_delete(batch[i + 1]) != is_namespace_delete(d):
                            self._apply_run(cur, run)
                            run = []
            conn.commit()
        except BaseException:
            self._close_sync()
            raise

    def _apply_run(self, cur, run: list[Delivery]) -> None:
        if is_namespace_delete(run[0]):
            for start in range(0, len(run), DELETE_CHUNK):
                chunk = run[start : start + DELETE_CHUNK]
                marks = ",".join(["SHA2(%s, 256)"] * len(chunk))
                cur.execute(self._delete_prefix + f"({marks})", [namespace_key(d) for d in chunk])
        else:
            cur.executemany(self._upsert, [(namespace_key(d), records_body(d.record).decode()) for d in run])

    def _close_sync(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # best effort
                pass

    # -- Target -------------------------------------------------------------------------

    async def open(self) -> None:
        async with self._lock:
            try:
                await asyncio.to_thread(self._ensure_sync)
            except (pymysql.MySQLError, OSError) as e:
                await asyncio.to_thread(self._close_sync)
                raise TargetError(f"{self._where()}: {describe(e)}") from e

    async def deliver(self, batch: list[Delivery]) -> None:
        if not batch:
            return
        async with self._lock:
            try:
                await asyncio.to_thread(self._deliver_sync, batch)
            except (pymysql.MySQLError, OSError) as e:
                raise TargetError(f"{self._where()}: {describe(e)}") from e

    async def close(self) -> None:
        async with self._lock:
            await asyncio.to_thread(self._close_sync)

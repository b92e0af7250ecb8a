"""Single-statement reads on PostgreSQL from the event loop itself, over libpq (psycopg.pq).

A GET's metadata is one statement. Sent through a psycopg cursor on a worker thread it cost
about 280 us of CPU (the thread hop alone ~180: submit, wake-up, future, loop wake-up);
here about 45 us: the statement goes out from the event loop, the loop watches the socket,
and the row is decoded straight from libpq's binary result.

Connections are in autocommit, so each statement is its own snapshot (as with the readers'
connections in api.context); statements are prepared once per connection. Results come back
in binary and are decoded for the types the views select (text, integers, booleans, bytea);
anything else is a programming error. A read that finds its connection broken is tried once
more on a fresh one; a read that is cancelled midway closes its connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import pq

log = logging.getLogger("chronicle.pg_async")

_TEXT = frozenset({25, 1043, 19, 1042, 705, 114})  # text, varchar, name, bpchar, unknown, json
_INTS = frozenset({20, 23, 21})  # int8, int4, int2
_BOOL = 16
_BYTEA = 17


def _decoder(oid: int) -> Callable[[bytes], Any]:
    if oid in _TEXT:
        return _text
    if oid in _INTS:
        return _int
    if oid == _BOOL:
        return _bool
    if oid == _BYTEA:
        return bytes
    raise TypeError(f"no binary decoder for type oid {oid}")


def _text(value: bytes) -> str:
    return value.decode()


def _int(value: bytes) -> int:
    return int.from_bytes(value, "big", signed=True)


def _bool(value: bytes) -> bool:
    return value == b"\x01"


def _encode(value: Any) -> bytes | None:
    """A parameter in text format (its type is inferred by the server, as psycopg lets it
    infer a str's)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bool):
        return b"t" if value else b"f"
    if isinstance(value, int):
        return str(value).encode()
    raise TypeError(f"unsupported parameter type {type(value).__name__}")


def _numbered(statement: str) -> bytes:
    """Our `?` placeholders as $1, $2, ..."""
    parts = statement.split("?")
    out = [parts[0]]
    for i, part in enumerate(parts[1:], start=1):
        out.append(f"${i}{part}")
    return "".join(out).encode()


class _Statement:
    __slots__ = ("name", "text", "shape")

    def __init__(self, name: bytes, text: bytes) -> None:
        self.name = name
        self.text = text
        self.shape: tuple[tuple[str, ...], tuple[Callable[[bytes], Any], ...]] | None = None


class _Connection:
    """One libpq connection whose socket the event loop watches for as long as it lives."""

    def __init__(self, pgconn: pq.PGconn, loop: asyncio.AbstractEventLoop) -> None:
        self.pg = pgconn
        self.loop = loop
        self.fd = pgconn.socket
        self.prepared: set[bytes] = set()
        self.waiter: asyncio.Future[None] | None = None
        self.closed = False
        loop.add_reader(self.fd, self._readable)

    def _readable(self) -> None:
        try:
            self.pg.consume_input()
        except psycopg.OperationalError as exc:
            self.close()
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_exception(exc)
            return
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def result(self) -> pq.PGresult:
        """Flush what was sent and wait for the command's result."""
        pg = self.pg
        while pg.flush():  # the output buffer is rarely full: a parameter larger than it
            writable = self.loop.create_future()
            self.loop.add_writer(self.fd, writable.set_result, None)
            try:
                await writable
            finally:
                self.loop.remove_writer(self.fd)
        result: pq.PGresult | None = None
        while True:
            while not pg.is_busy():
                r = pg.get_result()
                if r is None:
                    if result is None:
                        raise psycopg.OperationalError("no result from the server")
                    return result
                result = r
            if self.closed:
                raise psycopg.OperationalError("the connection is closed")
            self.waiter = self.loop.create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.loop.remove_reader(self.fd)
        except (OSError, ValueError, RuntimeError):
            pass
        self.pg.finish()


def _raise_for(result: pq.PGresult, expected: pq.ExecStatus) -> None:
    if result.status == expected:
        return
    primary = result.error_field(pq.DiagnosticField.MESSAGE_PRIMARY) or result.error_message
    message = (primary or b"").decode(errors="replace").strip()
    sqlstate = result.error_field(pq.DiagnosticField.SQLSTATE)
    try:
        cls = psycopg.errors.lookup(sqlstate.decode()) if sqlstate else psycopg.DatabaseError
    except KeyError:
        cls = psycopg.DatabaseError
    raise cls(message or f"unexpected result status {result.status}")


class AsyncReads:
    """At most max_connections connections per process (PostgreSQL's max_connections is shared
    by every node); reads beyond that wait for one."""

    def __init__(self, conninfo: Callable[[], str], *, max_connections: int = 8) -> None:
        self._conninfo = conninfo
        self._max = max_connections
        self._idle: list[_Connection] = []
        self._count = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._statements: dict[str, _Statement] = {}
        self._closed = False

    async def one(self, statement: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = await self.all(statement, params)
        return rows[0] if rows else None

    async def all(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        stmt = self._statements.get(statement)
        if stmt is None:
            stmt = _Statement(f"chr_async_{len(self._statements)}".encode(), _numbered(statement))
            self._statements[statement] = stmt
        values = [_encode(v) for v in params]
        for attempt in (0, 1):
            conn = await self._take()
            try:
                result = await self._execute(conn, stmt, values)
            except psycopg.OperationalError:
                broken = conn.closed or conn.pg.status != pq.ConnStatus.OK
                self._give_back(conn, broken=True)
                if broken and attempt == 0:
                    continue  # a stale connection (the server restarted): once more, fresh
                raise
            except psycopg.Error:
                idle = not conn.closed and conn.pg.transaction_status == pq.TransactionStatus.IDLE
                self._give_back(conn, broken=not idle)
                raise
            except BaseException:
                self._give_back(conn, broken=True)  # cancelled midway: its state is unknown
                raise
            self._give_back(conn, broken=False)
            return self._rows(stmt, result)
        raise AssertionError("unreachable")

    async def _execute(
        self, conn: _Connection, stmt: _Statement, values: list[bytes | None]
    ) -> pq.PGresult:
        if stmt.name not in conn.prepared:
            conn.pg.send_prepare(stmt.name, stmt.text)
            _raise_for(await conn.result(), pq.ExecStatus.COMMAND_OK)
            conn.prepared.add(stmt.name)
        conn.pg.send_query_prepared(stmt.name, values, result_format=pq.Format.BINARY)
        result = await conn.result()
        _raise_for(result, pq.ExecStatus.TUPLES_OK)
        return result

    @staticmethod
    def _rows(stmt: _Statement, result: pq.PGresult) -> list[dict[str, Any]]:
        if stmt.shape is None:
            nfields = result.nfields
            names = tuple((result.fname(i) or b"").decode() for i in range(nfields))
            stmt.shape = names, tuple(_decoder(result.ftype(i)) for i in range(nfields))
        names, decoders = stmt.shape
        get = result.get_value
        rows = []
        for r in range(result.ntuples):
            row = {}
            for c, name in enumerate(names):
                value = get(r, c)
                row[name] = None if value is None else decoders[c](value)
            rows.append(row)
        return rows

    async def _take(self) -> _Connection:
        while True:
            if self._closed:
                raise psycopg.OperationalError("the reads are closed")
            if self._idle:
                return self._idle.pop()
            if self._count < self._max:
                self._count += 1
                try:
                    return await self._connect()
                except BaseException:
                    self._count -= 1
                    self._wake()
                    raise
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # pass the turn on
                raise

    async def _connect(self) -> _Connection:
        return await connect(self._conninfo())

    def _give_back(self, conn: _Connection, *, broken: bool) -> None:
        if broken or conn.closed or self._closed:
            conn.close()
            self._count -= 1
        else:
            self._idle.append(conn)
        self._wake()

    def _wake(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        """Close idle connections (from the event loop's thread); busy ones close when their
        read ends."""
        self._closed = True
        self._count -= close_idle(self._idle)


def close_idle(idle: list[_Connection]) -> int:
    """Close and forget the connections of an idle list; returns how many there were."""
    closing = list(idle)
    idle.clear()
    for conn in closing:
        conn.close()
    return len(closing)


async def connect(conninfo: str) -> _Connection:
    """A nonblocking libpq connection watched by the running event loop (the connecting
    itself, which blocks, on a worker thread)."""
    loop = asyncio.get_running_loop()
    pgconn = await loop.run_in_executor(None, pq.PGconn.connect, conninfo.encode())
    if pgconn.status != pq.ConnStatus.OK:
        message = (pgconn.error_message or b"").decode(errors="replace")
        pgconn.finish()
        raise psycopg.OperationalError(f"connection failed: {message}")
    pgconn.nonblocking = 1
    pgconn.notice_handler = _ignore_notice
    return _Connection(pgconn, loop)


def _ignore_notice(result: pq.PGresult) -> None:
    log.debug("notice: %s", result.error_message)

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

Why this layer and not psycopg's AsyncConnection (issue 13: the project keeps one async read
mechanism, psycopg's unless this one measures more than 10% better). Both were run behind
ServerContext.fetch_one, psycopg with a pool of up to 8 connections per process and every
statement prepared (prepare_threshold=0), by `python -m bench.run --only get,list,authz
--workers 2`, alternating, 4 runs of this layer and 3 of psycopg on a shared 2-core machine
(medians): GET 1 KiB c=32 4603 vs 2744 req/s (+68%), server and PostgreSQL CPU 175 vs 326 us a
request; GET 1 MiB c=8 1217 vs 1021 MiB/s (0.42 vs 0.30 of the null app); LIST p50 on a
100k-key bucket 11 vs 23 ms without delimiter (30 vs 32 and 34 vs 29 ms with one). Single
reads in a loop cost the client 12-17 us of CPU each here, 45-90 us through psycopg.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import pq
from psycopg.pq import abc as pq_abc

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


class _Watched:
    """A libpq connection whose socket the event loop watches for as long as it lives."""

    def __init__(self, pgconn: pq_abc.PGconn, loop: asyncio.AbstractEventLoop) -> None:
        self.pg = pgconn
        self.loop = loop
        self.fd = pgconn.socket
        self.prepared: set[bytes] = set()
        self.writing = False  # a writer is registered for the rest of the output buffer
        self.closed = False
        loop.add_reader(self.fd, self._readable)

    def _readable(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.loop.remove_reader(self.fd)
            if self.writing:
                self.loop.remove_writer(self.fd)
        except (OSError, ValueError, RuntimeError):
            pass
        self.pg.finish()


class _Connection(_Watched):
    """One statement at a time: `result()` waits for the command's result."""

    def __init__(self, pgconn: pq_abc.PGconn, loop: asyncio.AbstractEventLoop) -> None:
        self.waiter: asyncio.Future[None] | None = None
        super().__init__(pgconn, loop)

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

    async def result(self) -> pq_abc.PGresult:
        """Flush what was sent and wait for the command's result."""
        pg = self.pg
        while pg.flush():  # the output buffer is rarely full: a parameter larger than it
            writable = self.loop.create_future()
            self.loop.add_writer(self.fd, writable.set_result, None)
            try:
                await writable
            finally:
                self.loop.remove_writer(self.fd)
        result: pq_abc.PGresult | None = None
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


def _raise_for(result: pq_abc.PGresult, expected: pq.ExecStatus) -> None:
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


class _Pending:
    """One read in a pipeline: its statement, whether a Prepare went ahead of it, the results
    gathered so far and the future its caller awaits."""

    __slots__ = ("stmt", "prepares", "results", "future")

    def __init__(self, stmt: _Statement, prepares: bool, future: asyncio.Future[pq_abc.PGresult]) -> None:
        self.stmt = stmt
        self.prepares = prepares
        self.results: list[pq_abc.PGresult] = []
        self.future = future


class _Pipeline(_Watched):
    """A libpq connection in pipeline mode: reads are sent as they come, each followed by its
    own Sync (so one read's error aborts nothing else), and answered in order.

    Why: a backend woken for every statement costs PostgreSQL about twice the statement's
    own CPU on a small VM (measured with pgbench: 47 us a statement when busy, 85-115 us
    when each arrives at an idle backend). Statements queued behind a running one are taken
    without that wake-up, and one connection per process keeps its backend warm."""

    def __init__(self, pgconn: pq_abc.PGconn, loop: asyncio.AbstractEventLoop) -> None:
        # self.prepared: sent; a failed Prepare is forgotten again
        self.pending: deque[_Pending] = deque()
        self.partial: list[pq_abc.PGresult] = []  # the results of the command being read
        self.retiring = False  # takes no new reads; closes once the pending ones are answered
        pgconn.enter_pipeline_mode()
        super().__init__(pgconn, loop)

    def send(self, stmt: _Statement, values: list[bytes | None]) -> asyncio.Future[pq_abc.PGresult]:
        pg = self.pg
        prepares = stmt.name not in self.prepared
        if prepares:
            pg.send_prepare(stmt.name, stmt.text)
            self.prepared.add(stmt.name)
        pg.send_query_prepared(stmt.name, values, result_format=pq.Format.BINARY)
        pg.pipeline_sync()
        future: asyncio.Future[pq_abc.PGresult] = self.loop.create_future()
        self.pending.append(_Pending(stmt, prepares, future))
        self._flush()
        return future

    def _flush(self) -> None:
        if self.pg.flush():  # the output buffer is full: finish when writable
            if not self.writing:
                self.writing = True
                self.loop.add_writer(self.fd, self._writable)
            # libpq reads what the server sent while it cannot write (so that neither side
            # blocks on the other): results may now wait in its buffer, not on the socket.
            self.loop.call_soon(self._take_results)

    def _writable(self) -> None:
        try:
            if self.pg.flush():
                self._take_results()
                return
        except psycopg.OperationalError as exc:
            self._fail(exc)
            return
        self.writing = False
        self.loop.remove_writer(self.fd)
        self._take_results()

    def _readable(self) -> None:
        try:
            self.pg.consume_input()
        except psycopg.OperationalError as exc:
            self._fail(exc)
            return
        self._take_results()

    def _take_results(self) -> None:
        """Hand out every result libpq has whole in its input buffer."""
        if self.closed:
            return
        pg = self.pg
        try:
            while not pg.is_busy():
                result = pg.get_result()
                if result is None:
                    if not self.partial:
                        break  # nothing more has arrived
                    self.pending[0].results.append(self.partial[-1])  # one command's end
                    self.partial = []
                elif result.status == pq.ExecStatus.PIPELINE_SYNC:
                    self._answer(self.pending.popleft())
                else:
                    self.partial.append(result)
        except psycopg.OperationalError as exc:
            self._fail(exc)
            return
        if pg.status != pq.ConnStatus.OK:  # the server went away: stop watching a dead socket
            self._fail(psycopg.OperationalError("the server closed the connection"))
        elif self.retiring and not self.pending:
            self.close()

    def _answer(self, entry: _Pending) -> None:
        error: Exception | None = None
        query = entry.results[-1] if entry.results else None
        if entry.prepares:
            prepared = entry.results[0] if entry.results else None
            if prepared is None or prepared.status != pq.ExecStatus.COMMAND_OK:
                self.prepared.discard(entry.stmt.name)
                query = prepared
        if query is None:
            error = psycopg.OperationalError("no result from the server")
        else:
            try:
                _raise_for(query, pq.ExecStatus.TUPLES_OK)
            except psycopg.Error as exc:
                error = exc
        if entry.future.done():
            return  # its reader was cancelled
        if error is None and query is not None:
            entry.future.set_result(query)
        else:
            entry.future.set_exception(error or psycopg.OperationalError("no result from the server"))

    def _fail(self, exc: Exception) -> None:
        self.close()
        while self.pending:
            future = self.pending.popleft().future
            if not future.done():
                future.set_exception(exc)

    def abandon(self) -> None:
        """A reader gave up waiting (it was cancelled): its answer will be dropped. No new reads
        are sent here, and the connection closes once nothing it was asked is outstanding."""
        self.retiring = True
        if all(entry.future.done() for entry in self.pending):
            self._fail(psycopg.OperationalError("the connection was abandoned"))

    @property
    def broken(self) -> bool:
        return self.closed or self.pg.status != pq.ConnStatus.OK


class AsyncReads:
    """Reads pipelined on as few connections as the load needs: a read goes to the first
    connection with fewer than `depth` reads outstanding; another connection opens only when
    every one is that deep, up to max_connections per process (PostgreSQL's max_connections
    is shared by every node); beyond that, reads wait for a place."""

    def __init__(self, conninfo: Callable[[], str], *, max_connections: int = 8, depth: int = 8) -> None:
        self._conninfo = conninfo
        self._max = max_connections
        self._depth = depth
        self._conns: list[_Pipeline] = []
        self._opening = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._statements: dict[str, _Statement] = {}
        self._closed = False

    @property
    def _count(self) -> int:
        return len(self._conns) + self._opening

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
                future = conn.send(stmt, values)
            except psycopg.OperationalError:
                conn._fail(psycopg.OperationalError("the connection broke"))
                self._forget(conn)
                if attempt == 0:
                    continue  # a stale connection (the server restarted): once more, fresh
                raise
            try:
                result = await future
            except psycopg.OperationalError:
                self._forget(conn)
                if conn.broken and attempt == 0:
                    continue
                raise
            except asyncio.CancelledError:
                conn.abandon()
                self._forget(conn)
                raise
            finally:
                self._wake()
            return self._rows(stmt, result)
        raise AssertionError("unreachable")

    @staticmethod
    def _rows(stmt: _Statement, result: pq_abc.PGresult) -> list[dict[str, Any]]:
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

    async def _take(self) -> _Pipeline:
        while True:
            if self._closed:
                raise psycopg.OperationalError("the reads are closed")
            for conn in self._conns:
                if len(conn.pending) < self._depth and not conn.retiring and not conn.closed:
                    return conn
            self._conns = [c for c in self._conns if not c.closed and not c.retiring]
            if self._count < self._max and not self._opening:
                # One opening at a time: the reads arriving meanwhile wait for its room
                # rather than each opening a connection of its own.
                self._opening += 1
                try:
                    pgconn = await open_pgconn(self._conninfo())
                finally:
                    self._opening -= 1
                    self._wake(everyone=True)
                conn = _Pipeline(pgconn, asyncio.get_running_loop())
                if self._closed:
                    conn.close()
                    continue
                self._conns.append(conn)
                return conn
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # pass the turn on
                raise

    def _forget(self, conn: _Pipeline) -> None:
        """A connection that broke or retires takes no more reads (its place may open anew)."""
        if conn in self._conns and (conn.closed or conn.retiring):
            self._conns.remove(conn)

    def _wake(self, *, everyone: bool = False) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                if not everyone:
                    return

    def close(self) -> None:
        """Close the connections (from the event loop's thread) that have nothing outstanding;
        busy ones close when their reads are answered."""
        self._closed = True
        for conn in self._conns:
            if conn.pending:
                conn.retiring = True
            else:
                conn.close()
        self._conns = []


def close_idle(idle: list[_Connection]) -> int:
    """Close and forget the connections of an idle list; returns how many there were."""
    closing = list(idle)
    idle.clear()
    for conn in closing:
        conn.close()
    return len(closing)


async def connect(conninfo: str) -> _Connection:
    """A nonblocking libpq connection watched by the running event loop."""
    return _Connection(await open_pgconn(conninfo), asyncio.get_running_loop())


async def open_pgconn(conninfo: str) -> pq_abc.PGconn:
    """A nonblocking libpq connection (the connecting itself, which blocks, on a worker
    thread)."""
    loop = asyncio.get_running_loop()
    pgconn = await loop.run_in_executor(None, pq.PGconn.connect, conninfo.encode())
    if pgconn.status != pq.ConnStatus.OK:
        message = (pgconn.error_message or b"").decode(errors="replace")
        pgconn.finish()
        raise psycopg.OperationalError(f"connection failed: {message}")
    pgconn.nonblocking = 1
    pgconn.notice_handler = _ignore_notice
    return pgconn


def _ignore_notice(result: pq_abc.PGresult) -> None:
    log.debug("notice: %s", result.error_message)

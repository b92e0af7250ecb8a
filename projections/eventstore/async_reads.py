"""Single-statement reads on PostgreSQL from the event loop: psycopg's AsyncConnection, a small
pool of connections of our own, every statement prepared on each connection's first use.

Connections are in autocommit, so each statement is its own snapshot (as with the readers'
connections in api.context). A read that finds its connection broken (the server restarted
or dropped it) is tried once more on a fresh one; a read that is cancelled midway closes its
connection, which may still be busy with the statement.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow, dict_row

from projections.eventstore.sql import PostgresDialect

_DIALECT = PostgresDialect()


class AsyncReads:
    """At most max_connections per process (PostgreSQL's max_connections is shared by every
    node); a read that finds every one busy waits for one to be given back."""

    def __init__(self, conninfo: Callable[[], str], *, max_connections: int = 8) -> None:
        self._conninfo = conninfo
        self._max = max(1, max_connections)
        self._idle: list[AsyncConnection[DictRow]] = []
        self._count = 0  # connections open or being opened
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._closed = False

    async def one(self, statement: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = await self.all(statement, params)
        return rows[0] if rows else None

    async def all(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        sql = _DIALECT.sql(statement)
        for attempt in (0, 1):
            conn = await self._take()
            try:
                cursor = await conn.execute(sql, params, prepare=True)
                rows = await cursor.fetchall()
            except psycopg.OperationalError:
                if conn.broken or conn.closed:
                    self._drop(conn)
                    if attempt == 0:
                        continue  # a stale connection (the server restarted): once more, fresh
                else:
                    self._give(conn)
                raise
            except psycopg.Error:
                self._give(conn)  # the statement failed; in autocommit the connection is idle again
                raise
            except BaseException:
                self._drop(conn)  # cancelled midway: the connection may still be running it
                raise
            self._give(conn)
            return rows
        raise AssertionError("unreachable")

    async def _take(self) -> AsyncConnection[DictRow]:
        while True:
            if self._closed:
                raise psycopg.OperationalError("the reads are closed")
            if self._idle:
                return self._idle.pop()
            if self._count < self._max:
                self._count += 1
                try:
                    return await AsyncConnection.connect(
                        self._conninfo(), autocommit=True, prepare_threshold=0, row_factory=dict_row
                    )
                except psycopg.OperationalError:
                    self._count -= 1
                    self._wake()
                    if self._count == 0:
                        raise
                    # PostgreSQL refused one more (too many clients: max_connections is
                    # shared by every node): this read waits for one already open.
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

    def _give(self, conn: AsyncConnection[DictRow]) -> None:
        if self._closed or conn.closed or conn.info.transaction_status != TransactionStatus.IDLE:
            self._drop(conn)
            return
        self._idle.append(conn)
        self._wake()

    def _drop(self, conn: AsyncConnection[DictRow]) -> None:
        _close_now(conn)
        self._count -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        """Close the idle connections (from the event loop's thread); busy ones close when
        their read ends."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            _close_now(conn)
        self._count -= len(idle)
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)  # it wakes to find the reads closed


def _close_now(conn: AsyncConnection[DictRow]) -> None:
    # AsyncConnection.close() awaits nothing but is a coroutine; finishing the libpq
    # connection is the same act, and callers here (a cancelled read, shutdown) cannot await.
    if not conn.closed:
        conn.pgconn.finish()

"""Plain PUTs group-committed from the event loop itself, over libpq (psycopg.pq).

The committer threads (projections.eventstore.committer) cost every request a queue put (a futex wake
of the thread), the thread's turn at the GIL and a wake-up of the event loop to resolve its
future; the batch then goes through a psycopg cursor. Plain PUTs (projections.eventstore.fast_append:
new ObjectVersions whose only precondition is that their bucket exists unversioned) need no
savepoints and no reads, only the one statement `chronicle_append_puts`: here the event
loop collects the PUTs that arrive within one turn, sends the batch on a connection of its
own whose socket it watches (as projections.eventstore.pg_async does for reads), and resolves the
requests' futures itself when the result arrives. At most ``connections`` batches are in
flight per process (one by default, see api.context); PUTs arriving meanwhile wait for the
next batch.

Durability is unchanged: the statement runs in autocommit, so a success result means the
function's transaction (events, namespace rows, blob bytes) committed with
synchronous_commit as the server has it. A batch the function refuses (a bucket missing or
versioned: nothing was written) is handed back to the caller, which takes the careful path
through the committer threads. A connection that breaks while a batch is in flight fails
that batch as a whole: whether its COMMIT landed is unknown, so it is never sent twice.

Measured gain (issue 13, `python -m bench.run --only put --workers 2`, PUT 1 KiB c=32, with and
without this path, alternating, 8 and 5 runs on a shared 2-core machine, medians): 1257 vs 848
req/s (+48%), 0.056 vs 0.038 of the null app, server and PostgreSQL CPU 519 vs 712 us a PUT.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import pq
from psycopg.pq import abc as pq_abc

from projections.eventstore.fast_append import BUCKET_ASSERTION, FUNCTION, AppendBatch
from projections.eventstore.fast_path import plain_put_bucket
from projections.eventstore.pg_async import _Connection, close_idle, connect

log = logging.getLogger("chronicle.loop_append")

MAX_BATCH = 256
UNDEFINED_FUNCTION = "42883"
_NAME = b"chr_append_puts"
_CALL = f"SELECT ord, notification_id FROM {FUNCTION}($1::jsonb, $2::bytea, $3::text)".encode()
_FORMATS = [pq.Format.TEXT, pq.Format.BINARY, pq.Format.TEXT]


class LoopAppender:
    """One per process and event loop (the loop of the first commit)."""

    def __init__(
        self,
        store: Any,
        conninfo: Callable[[], str],
        *,
        hooks: Sequence[Callable[[], None]] = (),
        connections: int = 1,
    ) -> None:
        self.store = store  # a PostgresChronicleRecorder
        self._conninfo = conninfo
        self._hooks = hooks
        self._max = max(1, connections)
        self._idle: list[_Connection] = []
        self._count = 0  # connections open or being opened
        self._pending: list[tuple[Any, asyncio.Future[bool]]] = []
        self._scheduled = False
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.observe_batch: Callable[[int], None] | None = None  # see GroupCommitter

    def accepts(self, change: Any) -> bool:
        store = self.store
        return not self._closed and store.versioning_hint.get(plain_put_bucket(change)) == "" and store._append_function

    async def commit(self, change: Any) -> bool:
        """Append a plain PUT (its events prebuilt) with the others of this loop turn. True
        once committed; False when the batch was not appended (the caller takes the
        careful path; nothing was written); raises when the outcome is unknown."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif loop is not self._loop:
            return False  # another loop (tests): the committer threads serve it
        change.error = None
        change.conflict = False
        change.results = []
        change.positions = []
        future: asyncio.Future[bool] = loop.create_future()
        self._pending.append((change, future))
        if not self._scheduled:
            self._scheduled = True
            # The batch leaves at the end of this loop turn: the PUTs whose bodies arrived
            # in the same turn go with it.
            loop.call_soon(self._dispatch)
        return await future

    def _dispatch(self) -> None:
        self._scheduled = False
        while self._idle and self._idle[-1].closed:  # the server closed it while idle
            self._idle.pop()
            self._count -= 1
        while self._pending and (self._idle or self._count < self._max):
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            if self._idle:
                conn: _Connection | None = self._idle.pop()
            else:
                conn = None
                self._count += 1
            asyncio.get_running_loop().create_task(self._run(conn, batch))

    async def _run(self, conn: _Connection | None, batch: list[tuple[Any, asyncio.Future[bool]]]) -> None:
        try:
            if conn is None:
                try:
                    conn = await self._connect()
                except BaseException:
                    self._count -= 1
                    raise
            try:
                await self._append(conn, batch)
            except _NotSent:
                # A connection that had died while idle (the server restarted): nothing
                # reached the server, so the batch may go once more on a fresh one.
                conn.close()
                conn = await self._connect()
                await self._append(conn, batch)
        except BaseException as exc:  # every request of the batch hears of it
            failure = exc if isinstance(exc, Exception) else psycopg.OperationalError("append interrupted")
            for _, future in batch:
                if not future.done():
                    future.set_exception(failure)
            if not isinstance(exc, Exception):
                raise
        finally:
            if conn is not None:
                if conn.closed or self._closed or conn.pg.transaction_status != pq.TransactionStatus.IDLE:
                    conn.close()
                    self._count -= 1
                else:
                    self._idle.append(conn)
            if self._pending and not self._scheduled:
                self._scheduled = True
                asyncio.get_running_loop().call_soon(self._dispatch)

    async def _append(self, conn: _Connection, batch: list[tuple[Any, asyncio.Future[bool]]]) -> None:
        store = self.store
        changes = [change for change, _ in batch]
        appended = AppendBatch(changes, store.mapper)
        pg = conn.pg
        if conn.closed or pg.status != pq.ConnStatus.OK:
            raise _NotSent
        if _NAME not in conn.prepared:
            try:
                pg.send_prepare(_NAME, _CALL)
            except psycopg.OperationalError as exc:
                raise _NotSent from exc
            result = await conn.result()
            if result.status != pq.ExecStatus.COMMAND_OK:
                _refused(store, changes, result)
                _settle(batch, False)
                return
            conn.prepared.add(_NAME)
        pg.send_query_prepared(
            _NAME,
            [appended.doc.encode(), appended.data, store.lock_timeout.encode()],
            param_formats=_FORMATS,
            result_format=pq.Format.BINARY,
        )
        result = await conn.result()
        if result.status != pq.ExecStatus.TUPLES_OK:
            _refused(store, changes, result)
            _settle(batch, False)
            return
        get = result.get_value
        rows = [
            (
                int.from_bytes(get(r, 0) or b"", "big", signed=True),
                int.from_bytes(get(r, 1) or b"", "big", signed=True),
            )
            for r in range(result.ntuples)
        ]
        appended.finish(rows)
        store.one_trip_batches += 1
        if self.observe_batch is not None:
            self.observe_batch(len(batch))
        for hook in self._hooks:
            hook()
        _settle(batch, True)

    async def _connect(self) -> _Connection:
        return await connect(self._conninfo())

    def close(self) -> None:
        """Close idle connections (from the event loop's thread); busy ones close when their
        batch ends."""
        self._closed = True
        self._count -= close_idle(self._idle)


class _NotSent(Exception):
    """The connection failed before the batch was sent."""


def _settle(batch: list[tuple[Any, asyncio.Future[bool]]], outcome: bool) -> None:
    for _, future in batch:
        if not future.done():  # the request was cancelled (client went away)
            future.set_result(outcome)


def _refused(store: Any, changes: list[Any], result: pq_abc.PGresult) -> None:
    """The statement failed as a whole (its transaction rolled back): forget the buckets'
    hints so that the careful path reads them again."""
    sqlstate = (result.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode()
    if sqlstate == UNDEFINED_FUNCTION:
        log.warning("%s is missing (run `chronicle migrate`): PUTs take the slower path", FUNCTION)
        store._append_function = False
    elif sqlstate != BUCKET_ASSERTION:
        message = (result.error_message or b"").decode(errors="replace").strip()
        log.debug("one-statement append failed (%s); taking the careful path", message)
    for change in changes:
        store.versioning_hint.pop(plain_put_bucket(change), None)
        change.reset()

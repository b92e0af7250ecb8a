"""The request audit's PostgreSQL writer, in a process of its own.

Measured (bench.run --only audit, GET 1 KiB, quiet 2-core machine): building each entry on the
request path costs about 7% of the GET rate, but writing the rows to PostgreSQL from a thread
of the serving process cost another 20%, far more than the thread's own work shows in a
profile (psycopg's COPY takes 2.6 µs a row). A process of its own takes the writes out of the
serving process: its thread only hands each batch of rows (plain tuples) over a pipe.

The child is spawned, not forked (the server has threads and connections by then). If it dies,
the batch being sent stays with the caller, which writes it itself (api.audit.recorder)."""

from __future__ import annotations

import logging
import multiprocessing
import signal
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

import psycopg

log = logging.getLogger("chronicle.audit")

COPY_SQL = (
    "COPY request_audit (time_us, api, bucket, object, status_code, error, access_key, parent_user, "
    "source_ip, request_id, entry) FROM STDIN"
)
RETRY_SECONDS = 1.0


def _write(db: Any, rows: Sequence[tuple[Any, ...]]) -> None:
    with db.transaction(), db.cursor().copy(COPY_SQL) as copy:
        for row in rows:
            copy.write_row(row)


def _receive(pipe: Connection) -> Any:
    try:
        return pipe.recv()
    except (EOFError, OSError):  # the server is gone without saying goodbye
        return None


def _serve(connect_kwargs: dict[str, Any], pipe: Connection) -> None:
    """The child: COPY each batch it receives; None ends it. A store out of reach is retried,
    the batch kept (later batches wait in the pipe, then in the parent's queue)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server's own shutdown ends this process
    db: Any = None
    while (rows := _receive(pipe)) is not None:
        while True:
            try:
                if db is None or db.closed:
                    db = psycopg.connect(**connect_kwargs, connect_timeout=5)
                _write(db, rows)
                break
            except psycopg.Error as exc:
                log.warning("request audit writer: %d entries wait for the store (%s)", len(rows), exc)
                db = None
                time.sleep(RETRY_SECONDS)
    if db is not None:
        db.close()


class AuditWriterProcess:
    def __init__(self, connect_kwargs: dict[str, Any]) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child_end = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(connect_kwargs, child_end), name="chronicle-request-audit", daemon=True
        )
        self.process.start()
        child_end.close()

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def send(self, rows: list[tuple[Any, ...]]) -> None:
        """Raises OSError (a broken pipe) when the child is gone."""
        self._pipe.send(rows)

    def close(self, timeout: float = 10.0) -> None:
        try:
            self._pipe.send(None)
        except OSError:
            pass
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.terminate()
        self._pipe.close()

"""The request audit: requests that change nothing — reads, listings and above all refused
requests (AccessDenied, bad signatures) — recorded when enabled, globally or per bucket
(CHRONICLE_AUDIT_REQUESTS), in MinIO's audit entry format (api.audit.entry).

Off the request path (on PostgreSQL the writes are made by a process of its own:
api.audit.writer_process): a request turns its entry into the table's row at once (the entry's
JSON text and its columns: a tuple of strings and numbers, which the garbage collector stops
tracking, where a queue of nested dicts would be carried into its older generations and
rescanned) and appends the row to an in-memory queue; a thread writes
the queue to the `request_audit` table in batches (one transaction per batch, every
FLUSH_SECONDS or BATCH entries). The table is not a projection (requests are not events);
replay leaves it alone. If the store is out of reach the entries wait (up to MAX_QUEUED, the
oldest dropped beyond that, and said in the log)."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from api.audit.writer_process import AuditWriterProcess
from projections.eventstore.recorder import ChronicleApplication, PostgresChronicleRecorder, pg_connect_kwargs
from projections.eventstore.tx import Tx

log = logging.getLogger("chronicle.audit")

FLUSH_SECONDS = 0.2
BATCH = 500
MAX_QUEUED = 100_000
_COLUMNS = "time_us, api, bucket, object, status_code, error, access_key, parent_user, source_ip, request_id, entry"


@dataclass(frozen=True)
class AuditScope:
    """What is recorded: every request (`on`), none (`off`), or requests to the named buckets."""

    everything: bool = False
    buckets: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str) -> AuditScope:
        value = text.strip()
        if value.lower() in ("", "off"):
            return cls()
        if value.lower() == "on":
            return cls(everything=True)
        return cls(buckets=frozenset(b.strip() for b in value.split(",") if b.strip()))

    @property
    def enabled(self) -> bool:
        return self.everything or bool(self.buckets)

    def covers(self, bucket: str) -> bool:
        return self.everything or bucket in self.buckets


class RequestAudit:
    def __init__(self, app: ChronicleApplication, scope: AuditScope, *, writer_process: bool = True) -> None:
        self.app = app
        self.scope = scope
        # CHRONICLE_FAST_PATH=off writes from this process's thread (the plain path).
        self.writer_process = writer_process
        self._queue: deque[tuple[Any, ...]] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._writer: AuditWriterProcess | None = None
        self.dropped = 0

    def covers(self, bucket: str) -> bool:
        return self.scope.covers(bucket)

    def record(self, entry: dict[str, Any]) -> None:
        if self._thread is None:
            self._start()
        if len(self._queue) >= MAX_QUEUED:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(_row(entry))
        if len(self._queue) >= BATCH:
            self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:  # started by the process that serves (after a fork)
                if self.writer_process and isinstance(self.app.store, PostgresChronicleRecorder):
                    self._writer = AuditWriterProcess(pg_connect_kwargs(self.app))
                self._thread = threading.Thread(target=self._run, name="chronicle-request-audit", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            self.flush()
        self.flush()

    def flush(self) -> int:
        written = 0
        while self._queue:
            batch = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
            if self._writer is not None:
                try:
                    self._writer.send(batch)
                    written += len(batch)
                    continue
                except OSError:
                    log.warning("request audit: the writer process is gone; writing from this process")
                    self._writer = None
            try:
                store = self.app.store
                with store.datastore.transaction(commit=True) as cursor:
                    insert(Tx(cursor, store.dialect), batch)
            except Exception as exc:  # noqa: BLE001 - the store out of reach: keep the entries, try again
                self._queue.extendleft(reversed(batch))
                log.warning("request audit: %d entries wait for the store (%s)", len(self._queue), exc)
                return written
            written += len(batch)
        if self.dropped:
            log.warning("request audit: %d entries dropped while the store was out of reach", self.dropped)
            self.dropped = 0
        return written

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        else:
            self.flush()
        if self._writer is not None:
            self._writer.close()


def insert(tx: Tx, rows: Sequence[tuple[Any, ...]]) -> None:
    if tx.dialect.name == "postgres":
        # COPY: one stream for the batch, far cheaper for PostgreSQL than row inserts.
        with tx.cursor.copy(f"COPY request_audit ({_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    for i in range(0, len(rows), 100):
        chunk = rows[i : i + 100]
        marks = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
        tx.execute(f"INSERT INTO request_audit ({_COLUMNS}) VALUES {marks}", [v for row in chunk for v in row])


def _row(entry: dict[str, Any]) -> tuple[Any, ...]:
    api = entry["api"]
    return (
        int(entry.pop("_time_us", time.time() * 1_000_000)),
        api["name"],
        api["bucket"],
        api["object"],
        api["statusCode"],
        entry.get("error", ""),
        entry["accessKey"],
        entry.get("parentUser", ""),
        entry["remotehost"],
        entry["requestID"],
        orjson.dumps(entry).decode(),
    )

"""Per-target delivery state in the database: checkpoint, fencing epoch and counters.

Only one worker delivers to a target at a time. On PostgreSQL it holds a session
advisory lock on its own connection (released by the server if the worker dies), and
every claim bumps the target's epoch. A checkpoint moves only by compare-and-set on the
epoch, so a worker that lost its lock (network partition, long pause) can no longer
advance it, whatever it still believes. On SQLite (embedded, one process) the epoch
alone fences.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg.rows import dict_row

from projections.eventstore.recorder import (
    ChronicleApplication,
    PostgresChronicleRecorder,
    pg_connect_kwargs,
)
from projections.eventstore.tx import Tx
from projections.notifications.follower import FOLLOWER_NAME

T = TypeVar("T")

_LOCK_NAMESPACE = 0x43484E54  # "CHNT": the advisory-lock key space of target workers


def now_us() -> int:
    return int(time.time() * 1_000_000)


def lock_key(target: str) -> int:
    """The target's advisory-lock key: its CRC-32 as a signed 32-bit integer. PostgreSQL
    has only pg_try_advisory_lock(int4, int4); a CRC at or above 2**31 passed as a bigint
    found no function, so such a target (notify_postgres:1) could never be claimed."""
    key = zlib.crc32(target.encode())
    return key - (1 << 32) if key >= 1 << 31 else key


@dataclass(frozen=True, slots=True)
class PendingRecord:
    position: int
    event_name: str
    bucket: str
    key: str
    event_time: str
    record: str


class CheckpointStore:
    """The delivery state of one target, read and written on a connection of its own.
    ``TABLE`` and ``LOCK_NAMESPACE`` let another kind of delivery (workers.audit_checkpoints)
    claim and track its targets the same way, in a table and a lock key space of its own."""

    TABLE = "notify_checkpoints"
    LOCK_NAMESPACE = _LOCK_NAMESPACE

    def __init__(self, app: ChronicleApplication, target: str) -> None:
        self.app = app
        self.target = target
        self.epoch = 0
        self._conn: Any = None  # PostgreSQL: the connection holding the advisory lock
        self._pg = isinstance(app.store, PostgresChronicleRecorder)

    # -- running SQL ----------------------------------------------------------------------

    def _run(self, fn: Callable[[Tx], T], *, write: bool = True) -> T:
        store = self.app.store
        if not self._pg:
            # SQLite has one writer: reads must not queue behind the group committer.
            with store.datastore.transaction(commit=write) as cursor:
                return fn(Tx(cursor, store.dialect))
        if self._conn is None or self._conn.closed or self._conn.broken:
            raise LostClaim(f"{self.target}: the connection holding the delivery lock is gone")
        if not write:  # single statements: autocommit, one round trip
            with self._conn.cursor() as cursor:
                return fn(Tx(cursor, store.dialect))
        with self._conn.transaction(), self._conn.cursor() as cursor:
            return fn(Tx(cursor, store.dialect))

    # -- claiming -------------------------------------------------------------------------

    def try_claim(self) -> bool:
        """Become the one deliverer of this target; False when another worker is."""
        if self._pg:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._conn = psycopg.connect(
                    **pg_connect_kwargs(self.app), autocommit=True, row_factory=dict_row, connect_timeout=5
                )
                # A checkpoint a crash loses only means records are sent again (delivery
                # is at-least-once): moving it need not wait for the disk.
                self._conn.execute("SET synchronous_commit = off")
            got = self._conn.execute(
                "SELECT pg_try_advisory_lock(%s::int4, %s::int4) AS got",
                (self.LOCK_NAMESPACE, lock_key(self.target)),
            ).fetchone()
            if not got["got"]:
                return False
        self.epoch = self._run(self._bump_epoch)
        return True

    def initial_position(self, tx: Tx) -> int:
        """Where a target claimed for the first time starts: the beginning of its view."""
        return 0

    def _bump_epoch(self, tx: Tx) -> int:
        now = now_us()
        table = self.TABLE
        if tx.one(f"SELECT epoch FROM {table} WHERE target = ?", (self.target,)) is None:
            tx.execute(
                f"INSERT INTO {table} (target, position, epoch, delivered, failed, last_error, "
                "last_error_us, last_delivery_us, updated_us) VALUES (?, ?, 0, 0, 0, '', 0, 0, ?)",
                (self.target, self.initial_position(tx), now),
            )
        tx.execute(f"UPDATE {table} SET epoch = epoch + 1, updated_us = ? WHERE target = ?", (now, self.target))
        return int(tx.scalar(f"SELECT epoch FROM {table} WHERE target = ?", (self.target,)))

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()  # ends the session: the advisory lock goes with it
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass
            self._conn = None

    # -- delivering -----------------------------------------------------------------------

    def position(self) -> int:
        return int(
            self._run(
                lambda tx: tx.scalar(f"SELECT position FROM {self.TABLE} WHERE target = ?", (self.target,)),
                write=False,
            )
            or 0
        )

    def read_view(self, after: int, limit: int) -> tuple[list[PendingRecord], int]:
        """Up to ``limit`` records after ``after`` and the follower's position, as of one
        moment: when fewer than ``limit`` come back, the view holds no other record for
        this target up to that position (the follower writes both in one transaction)."""
        view = (
            "SELECT position, event_name, bucket, object_key, event_time, record "
            "FROM notify_access_view WHERE target = ? AND position > ? ORDER BY position LIMIT ?"
        )
        # One statement: one snapshot of both tables.
        sql = (
            f"SELECT * FROM ({view}) v UNION ALL "
            "SELECT position, NULL, NULL, NULL, NULL, NULL FROM notify_tracking WHERE name = ?"
        )
        rows = self._run(lambda tx: tx.all(sql, (self.target, after, limit, FOLLOWER_NAME)), write=False)
        tracked = 0
        records = []
        for r in rows:
            if r["event_name"] is None:
                tracked = int(r["position"])
            else:
                records.append(
                    PendingRecord(
                        int(r["position"]), r["event_name"], r["bucket"], r["object_key"], r["event_time"], r["record"]
                    )
                )
        records.sort(key=lambda p: p.position)  # UNION ALL promises no order
        return records, tracked

    def _update_ours(self, assignments: str, params: tuple[Any, ...]) -> None:
        """``UPDATE <TABLE> SET <assignments>`` for this target, only while the
        epoch is still ours (compare-and-set); LostClaim otherwise. On PostgreSQL one
        autocommitted statement; SQLite's cursor has no rowcount, so there the epoch is
        read back first, in the same transaction."""
        sql = f"UPDATE {self.TABLE} SET {assignments} WHERE target = ? AND epoch = ?"
        args = (*params, self.target, self.epoch)

        def update(tx: Tx) -> bool:
            if self._pg:
                return tx.one(sql + " RETURNING epoch", args) is not None
            epoch = tx.scalar(f"SELECT epoch FROM {self.TABLE} WHERE target = ?", (self.target,))
            if epoch is None or int(epoch) != self.epoch:
                return False
            tx.execute(sql, args)
            return True

        if not self._run(update, write=not self._pg):
            raise LostClaim(f"{self.target}: another worker took over delivery (epoch moved on)")

    def advance(self, position: int, delivered: int) -> None:
        """Move the checkpoint to ``position``."""
        now = now_us()
        self._update_ours(
            "position = ?, delivered = delivered + ?, last_delivery_us = ?, updated_us = ?",
            (position, delivered, now, now),
        )

    def failed(self, count: int, error: str) -> None:
        now = now_us()
        self._update_ours(
            "failed = failed + ?, last_error = ?, last_error_us = ?, updated_us = ?",
            (count, error[:1000], now, now),
        )


class LostClaim(Exception):
    """This worker is no longer the target's deliverer."""

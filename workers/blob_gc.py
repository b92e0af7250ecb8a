"""Blob garbage collection (DESIGN invariant 10): reclaims object bytes that no committed
state can reference — blob files and `blob_data` rows that no version and no open upload
part points at — once they are older than a grace period.

Why nothing acknowledged can be lost:

1. **One snapshot.** Which blobs are referenced is decided by statements that all read one
   moment of the database (`store.snapshot()`: REPEATABLE READ on PostgreSQL, one read
   transaction on SQLite). Reading the tables at different moments is what lost data: a
   multipart completion moves its parts' blobs from `ns_parts` to `ns_versions` in one
   commit, and a statement on each side of that commit sees them in neither.
2. **Everything it may delete has an age.** Files by their mtime (set when the bytes were
   written and fsynced), rows by `blob_data.created_us` (set by the database when the row is
   written). Only what is older than the grace period, measured from before the snapshot
   was taken, is a candidate.
3. **A later commit that references an existing blob proves that it was referenced all
   along.** A commit can point at a blob it did not write itself in three ways, and each
   checks, inside its append transaction, that the row it took the blob from still exists:
   CopyObject and UploadPartCopy check the source version, CompleteMultipartUpload checks
   that each part is still the one it chose. Rows are never re-created under the same id,
   so that row existed from the moment the request read it to the commit — including at the
   snapshot, if the snapshot fell in between — and the blob was referenced there. A commit
   whose source was removed first fails (NoSuchKey, InvalidPart) rather than pointing at
   bytes that may be gone.
4. **A blob a request writes itself** is referenced by that request's commit. Rows are
   inserted in the same transaction as their event, so they are never seen unreferenced.
   Files are written (and fsynced) before the event is appended; the grace period protects
   them while the request is in flight, and the server refuses to commit a file staged more
   than `STAGE_DEADLINE` seconds earlier (projections.blobstore), so any grace period longer
   than that deadline is safe while servers run.

5. **The history keeps what it may still be asked for** (projections.history.retention): the
   blobs of versions superseded less than their bucket's retention window ago (the bucket's
   own, else the default; and of versions the history still holds current) are referenced
   too; so are the blobs of versions whose event the history follower has not indexed yet,
   read from the log in the same snapshot, so a version superseded just before the pass
   cannot lose its bytes before its history row exists.

A GET that began before its object was deleted can still find the bytes gone; it is
refused before the status line, or the connection is aborted mid-body (api.app), never a
short body passed off as complete.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from projections.blobstore import STAGE_DEADLINE, BlobStore
from projections.eventstore.recorder import ChronicleApplication
from projections.eventstore.tx import Tx
from projections.history.retention import RETAINED, unindexed_blob_ids

log = logging.getLogger("chronicle.gc")

DELETE_CHUNK = 500
INSERT_CHUNK = 1000

# The ids of every blob a version or an open upload part references (segments of the
# `blob` JSON column), in each dialect.
_REFERENCED = {
    "postgres": (
        "SELECT s->>'id' AS id FROM ns_versions v "
        "CROSS JOIN LATERAL jsonb_array_elements(v.blob::jsonb -> 'segments') s "
        "UNION ALL "
        "SELECT s->>'id' FROM ns_parts p CROSS JOIN LATERAL jsonb_array_elements(p.blob::jsonb -> 'segments') s"
    ),
    "sqlite": (
        "SELECT json_extract(s.value, '$.id') AS id FROM ns_versions v, json_each(v.blob, '$.segments') s "
        "UNION ALL "
        "SELECT json_extract(s.value, '$.id') FROM ns_parts p, json_each(p.blob, '$.segments') s"
    ),
}
_NOW_US = {
    "postgres": "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint",
    "sqlite": "CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)",
}
_CANDIDATES_TABLE = {
    "postgres": "CREATE TEMP TABLE gc_candidates (id TEXT PRIMARY KEY) ON COMMIT DROP",
    "sqlite": "CREATE TEMP TABLE IF NOT EXISTS gc_candidates (id TEXT PRIMARY KEY)",
}


@dataclass
class Verdict:
    """What one snapshot allows a pass to delete."""

    files: list[Path]
    rows: list[str]
    cutoff_us: int  # rows must still be older than this when deleted


def collect(
    app: ChronicleApplication,
    blobs: BlobStore,
    *,
    grace_seconds: float,
    retention_seconds: float = 0.0,
    progress: bool = False,
) -> dict[str, int]:
    """One pass; returns what it removed. Safe beside running servers (see the module
    docstring for the conditions). Blobs of versions superseded less than their bucket's
    history retention ago stay readable as of the past; `retention_seconds` is the window of
    buckets without one of their own."""
    store = app.store
    started = time.time()
    cutoff = started - grace_seconds
    removed_tmp = _sweep_tmp(blobs, cutoff)
    history = (app, int(started * 1_000_000), int(retention_seconds * 1_000_000))
    verdict = decide(store, blobs, cutoff, progress=progress, history=history)
    removed_files = 0
    for i, path in enumerate(verdict.files, 1):
        try:
            path.unlink()
            removed_files += 1
        except FileNotFoundError:
            pass
        if progress and (i % 1000 == 0 or i == len(verdict.files)):
            _show(f"gc: removed {i}/{len(verdict.files)} unreferenced blob files")
    removed_rows = _delete_rows(store, verdict.rows, verdict.cutoff_us)
    if progress:
        _show(f"gc: removed {removed_files} blob files and {removed_rows} inline blobs", end="\n")
    result = {"files": removed_files, "rows": removed_rows, "tmp": removed_tmp}
    log.debug("gc pass in %.2fs: %s", time.time() - started, result)
    return result


def decide(
    store: Any,
    blobs: BlobStore,
    cutoff: float,
    *,
    progress: bool = False,
    history: tuple[ChronicleApplication, int, int] | None = None,
) -> Verdict:
    """The blob files and rows older than `cutoff` (epoch seconds) that nothing references,
    all judged from one snapshot. With `history` (the application, the pass's start and the
    default retention window, both in µs), what the history keeps counts as referenced."""
    dialect = store.dialect.name
    referenced, params = _REFERENCED[dialect], []
    if history is not None:
        referenced, params = f"{referenced} UNION ALL {RETAINED[dialect]}", [history[1], history[2]]
    grace_us = int((time.time() - cutoff) * 1_000_000)
    with store.snapshot() as cursor:
        tx = Tx(cursor, store.dialect)
        # The first statement fixes the snapshot; everything below reads that moment. Rows
        # are aged by the database's clock, which wrote their created_us.
        cutoff_us = int(tx.scalar(f"SELECT {_NOW_US[dialect]} AS now_us")) - grace_us
        pending = unindexed_blob_ids(tx, history[0]) if history is not None else set()
        rows = [
            r["id"]
            for r in tx.all(
                f"SELECT id FROM blob_data WHERE created_us < ? EXCEPT SELECT id FROM ({referenced}) AS refs",
                (cutoff_us, *params),
            )
            if r["id"] not in pending
        ]
        candidates = {path.name: path for path in _old_files(blobs, cutoff, progress=progress)}
        files: list[Path] = []
        if candidates:
            tx.execute(_CANDIDATES_TABLE[dialect])
            tx.execute("DELETE FROM gc_candidates")
            ids = list(candidates)
            for i in range(0, len(ids), INSERT_CHUNK):
                chunk = ids[i : i + INSERT_CHUNK]
                tx.execute(
                    "INSERT INTO gc_candidates (id) VALUES " + ", ".join(["(?)"] * len(chunk)),
                    chunk,
                )
            unreferenced = tx.all(f"SELECT id FROM gc_candidates EXCEPT SELECT id FROM ({referenced}) AS refs", params)
            files = [candidates[r["id"]] for r in unreferenced if r["id"] not in pending]
            if dialect == "sqlite":
                tx.execute("DROP TABLE gc_candidates")
    return Verdict(files=files, rows=rows, cutoff_us=cutoff_us)


def _old_files(blobs: BlobStore, cutoff: float, *, progress: bool) -> Iterator[Path]:
    """Blob files last written before `cutoff` (the temp directory is swept separately)."""
    tmp = blobs.root / "tmp"
    seen = 0
    for dirpath, dirs, files in os.walk(blobs.root):
        if Path(dirpath) == blobs.root:
            dirs[:] = [d for d in dirs if blobs.root / d != tmp]
        for name in files:
            path = Path(dirpath) / name
            seen += 1
            if progress and seen % 10_000 == 0:
                _show(f"gc: looked at {seen} blob files")
            try:
                if path.stat().st_mtime < cutoff:
                    yield path
            except FileNotFoundError:
                continue


def _sweep_tmp(blobs: BlobStore, cutoff: float) -> int:
    """Partial uploads abandoned before `cutoff` (a live upload keeps writing, so its temp
    file stays younger than any sane grace period)."""
    removed = 0
    tmp = blobs.root / "tmp"
    if not tmp.is_dir():
        return 0
    for entry in os.scandir(tmp):
        try:
            if entry.is_file() and entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
        except FileNotFoundError:
            continue
    return removed


def _delete_rows(store: Any, ids: list[str], cutoff_us: int) -> int:
    removed = 0
    for i in range(0, len(ids), DELETE_CHUNK):
        chunk = ids[i : i + DELETE_CHUNK]
        with store.datastore.transaction(commit=True) as cursor:
            tx = Tx(cursor, store.dialect)
            marks = ", ".join(["?"] * len(chunk))
            removed += len(
                tx.all(
                    f"DELETE FROM blob_data WHERE id IN ({marks}) AND created_us < ? RETURNING id",
                    [*chunk, cutoff_us],
                )
            )
    return removed


def check_grace(grace_seconds: float) -> str | None:
    """A warning when the grace period is shorter than the server's staging deadline: a file
    written by a request still in flight could then be reclaimed before its commit."""
    if grace_seconds < STAGE_DEADLINE:
        return (
            f"grace period {grace_seconds:g}s is shorter than the write deadline ({STAGE_DEADLINE:g}s): "
            "only safe while no server is writing"
        )
    return None


def _show(text: str, end: str = "") -> None:
    print(f"\r{text}", end=end, file=sys.stderr, flush=True)

"""Blob garbage collection: bytes that no live version and no open upload part reference,
once older than a grace period (a blob is written before its event is appended)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import orjson

from projections.blobstore import BlobStore
from projections.eventstore import ChronicleApplication
from projections.tx import Tx

log = logging.getLogger("chronicle.gc")


def referenced_blobs(tx: Tx) -> set[str]:
    ids: set[str] = set()
    for table in ("ns_versions", "ns_parts"):
        for row in tx.all(f"SELECT blob FROM {table}"):
            doc = orjson.loads(row["blob"])
            ids.update(seg["id"] for seg in doc.get("segments", []))
    return ids


def collect(app: ChronicleApplication, blobs: BlobStore, *, grace_seconds: float, progress: bool = False) -> dict[str, int]:
    """One pass. Returns counts of what was removed."""
    store = app.store
    cutoff = time.time() - grace_seconds
    # Candidates first, references second: a blob that becomes referenced in between is
    # younger than the grace period anyway.
    candidates: list[Path] = []
    for dirpath, _dirs, files in os.walk(blobs.root):
        if Path(dirpath) == blobs.root / "tmp":
            for name in files:
                p = Path(dirpath) / name
                if p.stat().st_mtime < cutoff:
                    p.unlink(missing_ok=True)
            continue
        for name in files:
            p = Path(dirpath) / name
            try:
                if p.stat().st_mtime < cutoff:
                    candidates.append(p)
            except FileNotFoundError:
                continue
    with store.read() as cursor:
        tx = Tx(cursor, store.dialect)
        refs = referenced_blobs(tx)
        db_ids = [r["id"] for r in tx.all("SELECT id FROM blob_data")]
    removed_files = 0
    for i, p in enumerate(candidates):
        if p.name not in refs:
            p.unlink(missing_ok=True)
            removed_files += 1
        if progress and i % 1000 == 0:
            print(f"\rgc: checked {i + 1}/{len(candidates)} files", end="", flush=True)
    orphan_rows = [i for i in db_ids if i not in refs]
    removed_rows = 0
    if orphan_rows:
        # Rows carry no timestamp: only remove those still unreferenced after the grace wait
        # would require one; blob ids are never reused, so an unreferenced row whose version
        # was removed stays unreferenced. A row staged for an in-flight request is written in
        # the same transaction as its event, so it is never seen unreferenced.
        with store.datastore.transaction(commit=True) as cursor:
            tx = Tx(cursor, store.dialect)
            for blob_id in orphan_rows:
                tx.execute("DELETE FROM blob_data WHERE id = ?", (blob_id,))
                removed_rows += 1
    if progress:
        print(f"\rgc: removed {removed_files} files and {removed_rows} inline blobs")
    return {"files": removed_files, "rows": removed_rows}

"""Blob storage: object bytes, never a projection.

Large bodies stream to a temp file (hashed on the way), are fsynced and renamed into place
before their event is appended; small ones are kept in memory and written to `blob_data`
in the same transaction as their event, which makes a small PUT a single commit.
A blob is described by segments, so multipart objects and copies reference existing blobs
instead of copying bytes: {"segments": [{"id": ..., "offset": 0, "size": n, "db": bool}]}.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from domain.ids import random_hex
from projections.eventstore.tx import Tx

READ_CHUNK = 1024 * 1024
WRITE_BATCH = 1024 * 1024
# A file written for a request must be committed within this many seconds of being written,
# or the request fails: garbage collection relies on it (workers.blob_gc, point 4), so any
# grace period longer than this is safe while servers write.
STAGE_DEADLINE = 600.0


class BlobMissing(OSError):
    """Bytes that a committed version references are not in the blob store (removed from
    outside, or collected under a read that began before its version was removed)."""


def new_blob_id() -> str:
    return random_hex()


@dataclass
class StagedBlob:
    """Bytes received and hashed, not yet referenced by any event."""

    blob_id: str
    size: int
    inline: bytes | None = None  # small object: goes to blob_data with the event
    path: Path | None = None
    digests: dict[str, Any] = field(default_factory=dict)
    staged_at: float = field(default_factory=time.time)  # when the bytes were on disk

    def descriptor(self) -> dict[str, Any]:
        if self.size == 0:
            return {"segments": []}
        return {"segments": [{"id": self.blob_id, "offset": 0, "size": self.size, "db": self.inline is not None}]}

    @property
    def file_written_at(self) -> float | None:
        """When the file this blob lives in was written (None: the bytes are inline)."""
        return self.staged_at if self.path is not None else None

    def db_rows(self) -> list[tuple[str, bytes]]:
        return [(self.blob_id, self.inline)] if self.inline is not None and self.size else []


class BlobStore:
    def __init__(self, root: Path, *, inline_limit: int = 128 * 1024) -> None:
        self.root = root
        self._root_text = str(root)
        self.inline_limit = inline_limit
        (root / "tmp").mkdir(parents=True, exist_ok=True)

    def path_of(self, blob_id: str) -> Path:
        return Path(self.file_name(blob_id))

    def file_name(self, blob_id: str) -> str:
        """path_of as a plain string: reads open it straight away, and every GET opens one
        (a pathlib join costs several microseconds)."""
        return f"{self._root_text}/{blob_id[:2]}/{blob_id[2:4]}/{blob_id}"

    async def stage(
        self,
        chunks: AsyncIterator[bytes],
        sink: Callable[[bytes], None],
        *,
        expected_size: int | None,
    ) -> StagedBlob:
        """Consume the body. `sink` sees every byte (hashers); runs off the event loop for
        large batches so hashing does not stall other requests."""
        blob_id = new_blob_id()
        if expected_size is not None and expected_size <= self.inline_limit:
            buf = bytearray()
            async for chunk in chunks:
                buf += chunk
                if len(buf) > self.inline_limit:
                    break
            else:
                data = bytes(buf)
                sink(data)
                return StagedBlob(blob_id, len(data), inline=data)
            return await self._stage_file(blob_id, _prepend(bytes(buf), chunks), sink)
        return await self._stage_file(blob_id, chunks, sink)

    async def _stage_file(
        self, blob_id: str, chunks: AsyncIterator[bytes], sink: Callable[[bytes], None]
    ) -> StagedBlob:
        tmp = self.root / "tmp" / f"{blob_id}.part"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        size = 0
        pending: list[bytes] = []
        pending_size = 0

        def flush(parts: list[bytes]) -> None:
            data = b"".join(parts)
            sink(data)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]

        try:
            async for chunk in chunks:
                pending.append(chunk)
                pending_size += len(chunk)
                size += len(chunk)
                if pending_size >= WRITE_BATCH:
                    parts, pending, pending_size = pending, [], 0
                    await anyio.to_thread.run_sync(flush, parts)
            if pending:
                await anyio.to_thread.run_sync(flush, pending)
            await anyio.to_thread.run_sync(os.fsync, fd)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
        if size == 0:
            tmp.unlink(missing_ok=True)
            return StagedBlob(blob_id, 0)
        final = self.path_of(blob_id)
        await anyio.to_thread.run_sync(self._install, tmp, final)
        return StagedBlob(blob_id, size, path=final)

    @staticmethod
    def _install(tmp: Path, final: Path) -> None:
        final.parent.mkdir(parents=True, exist_ok=True)
        os.rename(tmp, final)
        dir_fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def discard(self, staged: StagedBlob) -> None:
        """The event was never appended: the bytes are nobody's."""
        if staged.path is not None:
            staged.path.unlink(missing_ok=True)

    def read_span(
        self, segments: list[dict[str, Any]], start: int, length: int, load_db: Callable[[str], bytes]
    ) -> bytes:
        """`length` bytes from `start` across segments, as one bytes object (blocking). Files
        are opened, read with pread and closed within the call: nothing stays open between
        calls, whatever becomes of the caller."""
        parts: list[bytes] = []
        for seg, offset, take in _plan(segments, start, length):
            if seg.get("db"):
                parts.append(load_db(seg["id"])[offset : offset + take])
                continue
            fd = self._open(seg["id"])
            try:
                data = os.pread(fd, take, offset)
                while len(data) < take:
                    more = os.pread(fd, take - len(data), offset + len(data))
                    if not more:
                        raise BlobMissing(f"blob {seg['id']} is shorter than recorded")
                    data += more
            finally:
                os.close(fd)
            parts.append(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _open(self, blob_id: str) -> int:
        try:
            return os.open(self.file_name(blob_id), os.O_RDONLY)
        except FileNotFoundError:
            raise BlobMissing(f"blob {blob_id} is missing") from None

    def check_present(self, segments: list[dict[str, Any]], start: int, length: int) -> None:
        """Raise BlobMissing unless every file holding the range is there and long enough:
        a GET asks before it sends its status line (a stat per file, no read)."""
        for seg, offset, take in _plan(segments, start, length):
            if seg.get("db"):
                continue
            try:
                size = os.stat(self.file_name(seg["id"])).st_size
            except FileNotFoundError:
                raise BlobMissing(f"blob {seg['id']} is missing") from None
            if size < offset + take:
                raise BlobMissing(f"blob {seg['id']} is shorter than recorded")

    def file_spans(self, segments: list[dict[str, Any]], start: int, length: int) -> list[tuple[str, int, int]] | None:
        """(file, offset, count) covering the range, or None when part of it lives in the
        database."""
        spans = []
        for seg, offset, take in _plan(segments, start, length):
            if seg.get("db"):
                return None
            spans.append((self.file_name(seg["id"]), offset, take))
        return spans

    def read_range(
        self, segments: list[dict[str, Any]], start: int, length: int, load_db: Callable[[str], bytes]
    ) -> Iterator[bytes]:
        """Yield `length` bytes from `start` across segments (blocking; call from a thread
        or iterate via `stream`)."""
        pos = 0
        remaining = length
        for seg in segments:
            seg_size = int(seg["size"])
            if remaining <= 0:
                break
            if start >= pos + seg_size:
                pos += seg_size
                continue
            inner = max(0, start - pos)
            take = min(seg_size - inner, remaining)
            offset = int(seg.get("offset", 0)) + inner
            if seg.get("db"):
                data = load_db(seg["id"])
                yield data[offset : offset + take]
            else:
                with os.fdopen(self._open(seg["id"]), "rb") as f:
                    f.seek(offset)
                    left = take
                    while left > 0:
                        data = f.read(min(READ_CHUNK, left))
                        if not data:
                            raise BlobMissing(f"blob {seg['id']} is shorter than recorded")
                        left -= len(data)
                        yield data
            remaining -= take
            pos += seg_size


def _plan(segments: list[dict[str, Any]], start: int, length: int) -> Iterator[tuple[dict[str, Any], int, int]]:
    """(segment, offset within its blob, bytes to take) covering `length` bytes from `start`."""
    pos = 0
    remaining = length
    for seg in segments:
        if remaining <= 0:
            break
        seg_size = int(seg["size"])
        if start >= pos + seg_size:
            pos += seg_size
            continue
        inner = max(0, start - pos)
        take = min(seg_size - inner, remaining)
        yield seg, int(seg.get("offset", 0)) + inner, take
        remaining -= take
        pos += seg_size


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk


def load_db_blob(tx: Tx, blob_id: str) -> bytes:
    data = tx.scalar("SELECT data FROM blob_data WHERE id = ?", (blob_id,))
    if data is None:
        raise BlobMissing(f"blob {blob_id} missing from blob_data")
    return bytes(data)

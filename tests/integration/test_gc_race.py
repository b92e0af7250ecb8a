"""Garbage collection racing writers never loses an acknowledged object (DESIGN invariant 10).

The server collects in a tight loop (every 0.1 s, grace period 1 s) while eight writers put
small objects (bytes in the database), overwrite large ones (files), complete multipart
uploads whose parts were uploaded more than a grace period earlier (one part uploaded twice),
and copy objects whose source is then overwritten. Everything a writer was told succeeded
must then read back byte for byte. Collection reading its references at different moments
(on PostgreSQL, one statement per table) lost objects of every kind here.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time

import pytest

from tests.conftest import unique_bucket_name

KiB = 1024
MiB = 1024 * KiB
RUN_SECONDS = 12.0
GRACE = 1.0


class Acknowledged:
    """What the writers were told succeeded: the last bytes of each key."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.bodies: dict[str, bytes] = {}
        self.errors: list[str] = []

    def record(self, key: str, body: bytes) -> None:
        with self.lock:
            self.bodies[key] = body

    def fail(self, what: str, exc: BaseException) -> None:
        with self.lock:
            self.errors.append(f"{what}: {exc!r}")


def _small_puts(s3, bucket: str, acked: Acknowledged, stop: threading.Event, name: str) -> None:
    # A handful of keys overwritten again and again: each overwrite leaves a garbage row.
    i = 0
    while not stop.is_set():
        key = f"{name}/small-{i % 5}"
        body = os.urandom(random.randint(1, 4 * KiB))
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        acked.record(key, body)
        i += 1


def _large_puts(s3, bucket: str, acked: Acknowledged, stop: threading.Event, name: str) -> None:
    i = 0
    while not stop.is_set():
        key = f"{name}/large-{i % 3}"
        body = os.urandom(300 * KiB)
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        acked.record(key, body)
        i += 1


def _multipart(s3, bucket: str, acked: Acknowledged, stop: threading.Event, name: str) -> None:
    i = 0
    while not stop.is_set():
        key = f"{name}/mpu-{i}"
        upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        first = os.urandom(5 * MiB)
        # Part 1 twice: the first copy becomes garbage while the upload is open.
        s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=os.urandom(5 * MiB))
        e1 = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=first)["ETag"]
        last = os.urandom(random.choice([100, 200 * KiB]))  # a row or a file
        e2 = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=2, Body=last)["ETag"]
        # The parts' bytes are now older than the grace period when the upload completes.
        stop.wait(GRACE * 1.5)
        s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]},
        )  # fmt: skip
        acked.record(key, first + last)
        i += 1


def _copies(s3, bucket: str, acked: Acknowledged, stop: threading.Event, name: str) -> None:
    i = 0
    while not stop.is_set():
        source = f"{name}/source-{i % 2}"
        body = os.urandom(random.choice([2 * KiB, 260 * KiB]))
        s3.put_object(Bucket=bucket, Key=source, Body=body)
        acked.record(source, body)
        stop.wait(GRACE * 1.2)  # the source's bytes are older than the grace period
        target = f"{name}/copy-{i}"
        s3.copy_object(Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": source})
        acked.record(target, body)
        # Overwritten: only the copy references the old bytes now.
        replacement = os.urandom(1 * KiB)
        s3.put_object(Bucket=bucket, Key=source, Body=replacement)
        acked.record(source, replacement)
        i += 1


WRITERS = [
    ("small-a", _small_puts),
    ("small-b", _small_puts),
    ("small-c", _small_puts),
    ("large", _large_puts),
    ("mpu-a", _multipart),
    ("mpu-b", _multipart),
    ("copy-a", _copies),
    ("copy-b", _copies),
]


def _collected(srv) -> tuple[int, int]:
    """Blob files and rows the server's collection passes have removed so far."""
    files = rows = 0
    for m in re.finditer(r"gc pass: \{'files': (\d+), 'rows': (\d+)", srv.stderr_text()):
        files += int(m.group(1))
        rows += int(m.group(2))
    return files, rows


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_gc_in_a_tight_loop_never_loses_an_acknowledged_object(server_factory, request, backend):
    kwargs = {}
    if backend == "postgres":
        kwargs["database_url"] = request.getfixturevalue("pg_url")
    srv = server_factory(
        backend,
        env={"CHRONICLE_GC_INTERVAL": "0.1", "CHRONICLE_GC_GRACE": str(GRACE), "CHRONICLE_HISTORY_RETENTION": "0"},
        **kwargs,
    )
    s3 = srv.client(max_pool_connections=16)
    bucket = unique_bucket_name("gcrace")
    s3.create_bucket(Bucket=bucket)
    acked = Acknowledged()
    stop = threading.Event()

    def run(name, writer):
        try:
            writer(s3, bucket, acked, stop, name)
        except Exception as exc:  # noqa: BLE001 - reported below with the writer's name
            acked.fail(name, exc)
            stop.set()

    threads = [threading.Thread(target=run, args=w, daemon=True) for w in WRITERS]
    for t in threads:
        t.start()
    stop.wait(RUN_SECONDS)
    stop.set()
    for t in threads:
        t.join(timeout=120)
    assert not acked.errors, f"a writer was refused: {acked.errors}"
    # A few more passes over what the writers left behind.
    time.sleep(GRACE * 2)

    lost = []
    for key, body in sorted(acked.bodies.items()):
        try:
            got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:  # noqa: BLE001 - every failure is listed
            lost.append(f"{key}: {exc!r}")
            continue
        if got != body:
            lost.append(f"{key}: {len(got)} bytes read back, {len(body)} acknowledged")
    assert not lost, f"{len(lost)} of {len(acked.bodies)} acknowledged objects lost:\n" + "\n".join(lost[:20])
    files, rows = _collected(srv)
    # The race was real: collection reclaimed garbage of both kinds while the writers ran.
    assert files > 0 and rows > 0, f"collection removed {files} files and {rows} rows"
    assert "Traceback" not in srv.stderr_text()

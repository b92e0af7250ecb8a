"""Durability (DESIGN invariant 3) and streaming: a crash mid-upload leaves the old object,
a 1 GiB upload is never buffered in the server's memory, and `chronicle gc` reclaims
exactly the blobs nothing references any more."""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import unique_bucket_name
from tests.helpers.s3 import md5_etag, s3_error
from tests.helpers.server import REPO_ROOT, chronicle_command
from tests.integration.test_bad_input import (
    UNSIGNED_PAYLOAD,
    object_path,
    open_socket,
    read_response,
    request_head,
    sign,
)

MiB = 1024 * 1024


def start_server(server_factory, request, backend: str, **kwargs):
    if backend == "postgres":
        kwargs["database_url"] = request.getfixturevalue("pg_url")
    return server_factory(backend, **kwargs)


def blob_files(srv) -> set[Path]:
    """Installed blob files (not temp files of uploads in progress)."""
    root = srv.data_dir / "blobs"
    return {p for p in root.rglob("*") if p.is_file() and p.parent != root / "tmp"}


def temp_files(srv) -> list[Path]:
    tmp = srv.data_dir / "blobs" / "tmp"
    return [p for p in tmp.iterdir() if p.is_file()] if tmp.exists() else []


def run_gc(srv, grace: float) -> str:
    res = subprocess.run(
        # No history retention: what these tests reclaim is superseded data too.
        chronicle_command("gc", "--data-dir", str(srv.data_dir), "--grace", str(grace), "--retention", "0"),
        cwd=str(REPO_ROOT),
        env=srv.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=120,
    )
    out = res.stdout.decode(errors="replace") + res.stderr.decode(errors="replace")
    assert res.returncode == 0, f"chronicle gc --grace {grace} failed ({res.returncode}):\n{out}"
    assert "Traceback" not in out, out
    return out


def assert_clean_log(srv) -> None:
    text = srv.stderr_text()
    assert "Traceback" not in text, f"server log has a traceback:\n{text[-4000:]}"


# ---- SIGKILL during an upload --------------------------------------------------------------


@pytest.mark.parametrize("old_size", [1000, 8 * MiB], ids=["old-1KB", "old-8MiB"])
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_sigkill_during_overwrite_keeps_old_object(server_factory, request, backend, old_size):
    srv = start_server(server_factory, request, backend)
    s3 = srv.client()
    bucket = unique_bucket_name("crash")
    s3.create_bucket(Bucket=bucket)
    old = os.urandom(old_size)
    etag = s3.put_object(Bucket=bucket, Key="k", Body=old)["ETag"]
    assert etag == md5_etag(old)

    # Overwrite with 20 MiB of other bytes; the server dies halfway through the body.
    total = 20 * MiB
    path = object_path(bucket, "k")
    hdrs = sign(srv, "PUT", path, payload_hash=UNSIGNED_PAYLOAD)
    hdrs["Content-Length"] = str(total)
    sock = open_socket(srv)
    sock.sendall(request_head("PUT", path, hdrs))
    chunk = os.urandom(MiB)
    for _ in range(10):
        sock.sendall(chunk)
    # Wait until the server has really been writing the new body (its temp file grows).
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        sizes = [p.stat().st_size for p in temp_files(srv) if p.exists()]
        if sizes and max(sizes) >= 4 * MiB:
            break
        time.sleep(0.02)
    else:
        pytest.fail(f"the server never staged 4 MiB of the body: {temp_files(srv)}")
    srv.kill()
    sock.close()

    srv.start()
    s3 = srv.client()
    got = s3.get_object(Bucket=bucket, Key="k")
    data = got["Body"].read()
    assert len(data) == old_size and data == old, "the old object is not intact after the crash"
    assert got["ETag"] == etag
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ContentLength"] == old_size and head["ETag"] == etag
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"], o["ETag"]) for o in listed] == [("k", old_size, etag)]
    assert s3.list_object_versions(Bucket=bucket)["Versions"][0]["ETag"] == etag
    assert len(s3.list_object_versions(Bucket=bucket)["Versions"]) == 1

    # The half-written temp file is nobody's: gc reclaims it; the old object survives gc.
    run_gc(srv, 0)
    assert temp_files(srv) == []
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == old
    # And the key takes writes again.
    new = os.urandom(300_000)
    s3.put_object(Bucket=bucket, Key="k", Body=new)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == new
    assert_clean_log(srv)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_sigkill_during_first_upload_leaves_no_object(server_factory, request, backend):
    srv = start_server(server_factory, request, backend)
    s3 = srv.client()
    bucket = unique_bucket_name("crash")
    s3.create_bucket(Bucket=bucket)
    path = object_path(bucket, "fresh")
    hdrs = sign(srv, "PUT", path, payload_hash=UNSIGNED_PAYLOAD)
    hdrs["Content-Length"] = str(20 * MiB)
    sock = open_socket(srv)
    sock.sendall(request_head("PUT", path, hdrs))
    for _ in range(8):
        sock.sendall(os.urandom(MiB))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not any(p.stat().st_size >= 2 * MiB for p in temp_files(srv) if p.exists()):
        time.sleep(0.02)
    srv.kill()
    sock.close()
    srv.start()
    s3 = srv.client()
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="fresh")
    assert s3.list_objects_v2(Bucket=bucket).get("Contents", []) == []
    assert s3.list_object_versions(Bucket=bucket).get("Versions", []) == []


# ---- streaming without buffering -------------------------------------------------------------


def _rss_bytes(pid: int) -> int:
    """VmRSS of PID and all its descendants."""
    total = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    stack += [int(c) for c in f.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


class RssSampler:
    """Samples the server's RSS every 100 ms in a thread."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(_rss_bytes(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(_rss_bytes(self.pid))

    @property
    def peak(self) -> int:
        return max(self.samples)


def generated_stream(total: int, chunk_size: int, digest):
    """TOTAL pseudo-random bytes in CHUNK_SIZE pieces, each piece distinct; DIGEST sees them."""
    block = bytearray(os.urandom(chunk_size))
    sent = 0
    n = 0
    while sent < total:
        size = min(chunk_size, total - sent)
        block[:8] = n.to_bytes(8, "big")
        piece = bytes(block[:size])
        digest.update(piece)
        yield piece
        sent += size
        n += 1


def test_1gib_upload_and_download_stream_without_buffering(server_factory):
    srv = server_factory("sqlite")
    try:
        s3 = srv.client()
        bucket = unique_bucket_name("stream")
        s3.create_bucket(Bucket=bucket)
        # Warm up the code paths (file-backed PUT and GET) before taking the baseline.
        warm = os.urandom(4 * MiB)
        s3.put_object(Bucket=bucket, Key="warm", Body=warm)
        assert s3.get_object(Bucket=bucket, Key="warm")["Body"].read() == warm
        time.sleep(0.3)
        baseline = max(_rss_bytes(srv.proc.pid) for _ in range(3))

        total = 1024 * MiB
        path = object_path(bucket, "big")
        hdrs = sign(srv, "PUT", path, payload_hash=UNSIGNED_PAYLOAD)
        hdrs["Content-Length"] = str(total)
        up_md5 = hashlib.md5()
        started = time.monotonic()
        with RssSampler(srv.proc.pid) as up_rss:
            sock = open_socket(srv, timeout=120)
            try:
                sock.sendall(request_head("PUT", path, hdrs))
                for piece in generated_stream(total, MiB, up_md5):
                    sock.sendall(piece)
                resp = read_response(sock, "PUT")
            finally:
                sock.close()
        upload_s = time.monotonic() - started
        assert resp.status == 200, resp
        assert resp.headers["etag"] == f'"{up_md5.hexdigest()}"'

        # GET it back, streaming, hashing as it arrives.
        hdrs = sign(srv, "GET", path)
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=120)
        down_md5 = hashlib.md5()
        received = 0
        started = time.monotonic()
        with RssSampler(srv.proc.pid) as down_rss:
            conn.request("GET", path, headers=hdrs)
            r = conn.getresponse()
            assert r.status == 200
            assert int(r.getheader("content-length")) == total
            while True:
                piece = r.read(MiB)
                if not piece:
                    break
                received += len(piece)
                down_md5.update(piece)
            conn.close()
        download_s = time.monotonic() - started
        assert received == total
        assert down_md5.hexdigest() == up_md5.hexdigest()

        growth_up = (up_rss.peak - baseline) / MiB
        growth_down = (down_rss.peak - baseline) / MiB
        print(
            f"\n1 GiB: upload {upload_s:.1f}s, download {download_s:.1f}s; RSS baseline "
            f"{baseline / MiB:.0f} MiB, peak growth upload {growth_up:.1f} MiB "
            f"({len(up_rss.samples)} samples), download {growth_down:.1f} MiB"
        )
        assert len(up_rss.samples) >= 5
        assert growth_up < 64, f"server RSS grew by {growth_up:.0f} MiB during a 1 GiB upload"
        assert growth_down < 64, f"server RSS grew by {growth_down:.0f} MiB during a 1 GiB GET"
        assert_clean_log(srv)
    finally:
        srv.stop()
        shutil.rmtree(srv.data_dir, ignore_errors=True)  # 1 GiB is not worth keeping


# ---- garbage collection ---------------------------------------------------------------------

KiB = 1024


class BlobTracker:
    """Which blob files each operation created (a diff of the blob directory)."""

    def __init__(self, srv) -> None:
        self.srv = srv
        self.seen = blob_files(srv)

    def new(self) -> set[Path]:
        now = blob_files(self.srv)
        created = now - self.seen
        self.seen = now
        return created


def _put(s3, bucket, key, size):
    body = os.urandom(size)
    resp = s3.put_object(Bucket=bucket, Key=key, Body=body)
    return body, resp


@pytest.mark.parametrize(
    "backend,mode",
    [("sqlite", "running"), ("sqlite", "stopped"), ("postgres", "running")],
)
def test_gc_reclaims_exactly_the_unreferenced_blobs(server_factory, request, backend, mode):
    srv = start_server(server_factory, request, backend)
    s3 = srv.client()
    plain = unique_bucket_name("gc")
    versioned = unique_bucket_name("gcv")
    s3.create_bucket(Bucket=plain)
    s3.create_bucket(Bucket=versioned)
    s3.put_bucket_versioning(Bucket=versioned, VersioningConfiguration={"Status": "Enabled"})
    track = BlobTracker(srv)
    garbage: dict[str, set[Path]] = {}
    live: dict[str, set[Path]] = {}
    expect: dict[tuple[str, str], bytes] = {}  # (bucket, key) -> current bytes

    # Overwritten file-backed object: the first blob becomes garbage.
    _put(s3, plain, "big", 200 * KiB)
    garbage["big v1"] = track.new()
    expect[plain, "big"], _ = _put(s3, plain, "big", 300 * KiB)
    live["big v2"] = track.new()
    # Deleted file-backed object.
    _put(s3, plain, "gone", 200 * KiB)
    garbage["gone"] = track.new()
    s3.delete_object(Bucket=plain, Key="gone")
    # Small (inline) objects: overwritten and deleted.
    _put(s3, plain, "small", 1 * KiB)
    expect[plain, "small"], _ = _put(s3, plain, "small", 2 * KiB)
    _put(s3, plain, "small-gone", 3 * KiB)
    s3.delete_object(Bucket=plain, Key="small-gone")
    expect[plain, "tiny"], _ = _put(s3, plain, "tiny", 10)
    assert track.new() == set(), "small objects should not be files"
    # A copy shares the source's blob: deleting the source must not free it.
    keep, _ = _put(s3, plain, "keep", 500 * KiB)
    live["keep"] = track.new()
    s3.copy_object(Bucket=plain, Key="keep-copy", CopySource={"Bucket": plain, "Key": "keep"})
    track.new()  # a copy may or may not write a new file; either way it is live
    s3.delete_object(Bucket=plain, Key="keep")
    expect[plain, "keep-copy"] = keep
    # Versioned bucket: noncurrent versions and versions under a delete marker are live.
    v1, r1 = _put(s3, versioned, "doc", 200 * KiB)
    v2, r2 = _put(s3, versioned, "doc", 250 * KiB)
    live["doc versions"] = track.new()
    s3.delete_object(Bucket=versioned, Key="doc")
    # Aborted multipart upload: its parts are garbage.
    up = s3.create_multipart_upload(Bucket=plain, Key="aborted")
    for n in (1, 2):
        s3.upload_part(
            Bucket=plain, Key="aborted", UploadId=up["UploadId"], PartNumber=n,
            Body=os.urandom(200 * KiB),
        )  # fmt: skip
    garbage["aborted parts"] = track.new()
    s3.abort_multipart_upload(Bucket=plain, Key="aborted", UploadId=up["UploadId"])
    # Upload in flight: part 1 uploaded twice (the first copy is garbage), part 2 once.
    inflight = s3.create_multipart_upload(Bucket=plain, Key="inflight")["UploadId"]
    s3.upload_part(
        Bucket=plain, Key="inflight", UploadId=inflight, PartNumber=1,
        Body=os.urandom(6 * 1024 * KiB),
    )  # fmt: skip
    garbage["replaced part"] = track.new()
    in_p1 = os.urandom(6 * 1024 * KiB)
    in_p2 = os.urandom(200 * KiB)
    e1, e2 = (
        s3.upload_part(Bucket=plain, Key="inflight", UploadId=inflight, PartNumber=n, Body=b)["ETag"]
        for n, b in ((1, in_p1), (2, in_p2))
    )
    live["in-flight parts"] = track.new()
    # Completed multipart upload: its parts are the object.
    done = s3.create_multipart_upload(Bucket=plain, Key="done")["UploadId"]
    d1, d2 = os.urandom(5 * 1024 * KiB), os.urandom(150 * KiB)
    parts = []
    for n, body in ((1, d1), (2, d2)):
        etag = s3.upload_part(Bucket=plain, Key="done", UploadId=done, PartNumber=n, Body=body)
        parts.append({"PartNumber": n, "ETag": etag["ETag"]})
    s3.complete_multipart_upload(Bucket=plain, Key="done", UploadId=done, MultipartUpload={"Parts": parts})
    live["completed parts"] = track.new()
    expect[plain, "done"] = d1 + d2

    for label, files in {**garbage, **live}.items():
        if label not in ("keep",):
            assert files, f"{label}: expected blob files, found none"
    all_garbage = set().union(*garbage.values())
    all_live = set().union(*live.values())
    before = blob_files(srv)
    assert all_garbage | all_live <= before
    time.sleep(0.1)  # every blob is now older than a zero grace period

    # A generous grace period removes nothing.
    out = run_gc(srv, 3600)
    assert blob_files(srv) == before, out
    assert "removed 0 blob files" in out, out

    if mode == "stopped":
        srv.stop()
    out = run_gc(srv, 0)
    if mode == "stopped":
        srv.start()
        s3 = srv.client()
    after = blob_files(srv)
    for label, files in garbage.items():
        assert not (files & after), f"gc left the {label} blob(s) behind\n{out}"
    for label, files in live.items():
        assert files <= after, f"gc removed the live {label} blob(s)\n{out}"
    assert after == before - all_garbage, out

    # Every live object reads back byte for byte.
    for (b, key), body in expect.items():
        got = s3.get_object(Bucket=b, Key=key)
        assert got["Body"].read() == body, f"{b}/{key} changed after gc"
    for key in ("gone", "small-gone", "keep", "aborted"):
        with s3_error("NoSuchKey", 404):
            s3.get_object(Bucket=plain, Key=key)
    for resp, body in ((r1, v1), (r2, v2)):
        got = s3.get_object(Bucket=versioned, Key="doc", VersionId=resp["VersionId"])
        assert got["Body"].read() == body
    # The in-flight upload survives gc and completes into the right bytes.
    s3.complete_multipart_upload(
        Bucket=plain, Key="inflight", UploadId=inflight,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]},
    )  # fmt: skip
    assert s3.get_object(Bucket=plain, Key="inflight")["Body"].read() == in_p1 + in_p2
    # A second pass finds nothing more to remove.
    out = run_gc(srv, 0)
    assert "removed 0 blob files" in out, out
    for (b, key), body in expect.items():
        assert s3.get_object(Bucket=b, Key=key)["Body"].read() == body
    assert_clean_log(srv)


def test_periodic_gc_in_serve(server_factory):
    """CHRONICLE_GC_INTERVAL / CHRONICLE_GC_GRACE: the server reclaims garbage by itself."""
    srv = server_factory(
        "sqlite", env={"CHRONICLE_GC_INTERVAL": "0.5", "CHRONICLE_GC_GRACE": "1", "CHRONICLE_HISTORY_RETENTION": "0"}
    )
    s3 = srv.client()
    bucket = unique_bucket_name("pgc")
    s3.create_bucket(Bucket=bucket)
    track = BlobTracker(srv)
    _put(s3, bucket, "k", 300 * KiB)
    first = track.new()
    body, _ = _put(s3, bucket, "k", 300 * KiB)
    second = track.new()
    assert first and second
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and first & blob_files(srv):
        time.sleep(0.2)
    assert not (first & blob_files(srv)), "the periodic gc did not reclaim the superseded blob"
    assert second <= blob_files(srv)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == body
    assert_clean_log(srv)

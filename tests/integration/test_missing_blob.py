"""A GET whose bytes are gone is never passed off as an object: missing data found before
the status line is an error answer (and a log line); data that vanishes mid-body aborts the
connection (and is logged), so the client sees a body short of its Content-Length."""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from pathlib import Path

import psycopg
import pytest

from tests.conftest import unique_bucket_name
from tests.helpers.s3 import s3_error
from tests.integration.test_bad_input import object_path, open_socket, request_head, sign

KiB = 1024
MiB = 1024 * KiB


def blob_files(srv) -> set[Path]:
    root = srv.data_dir / "blobs"
    return {p for p in root.rglob("*") if p.is_file() and p.parent != root / "tmp"}


def put_tracked(s3, srv, bucket: str, key: str, body: bytes) -> set[Path]:
    """PUT and return the blob files it created."""
    before = blob_files(srv)
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return blob_files(srv) - before


def delete_inline_rows(srv, pg_url: str | None) -> int:
    if pg_url:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            return conn.execute("DELETE FROM blob_data").rowcount
    db = sqlite3.connect(srv.data_dir / "chronicle.sqlite3")
    try:
        with db:
            return db.execute("DELETE FROM blob_data").rowcount
    finally:
        db.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_missing_data_is_refused_before_the_status_line(server_factory, request, backend):
    pg_url = request.getfixturevalue("pg_url") if backend == "postgres" else None
    srv = server_factory(backend, **({"database_url": pg_url} if pg_url else {}))
    s3 = srv.client()
    bucket = unique_bucket_name("gone")
    s3.create_bucket(Bucket=bucket)
    # One object per read path: sendfile (>= 256 KiB), pread (a file < 256 KiB), a row.
    files = {
        "sendfile": put_tracked(s3, srv, bucket, "sendfile", os.urandom(300 * KiB)),
        "pread": put_tracked(s3, srv, bucket, "pread", os.urandom(200 * KiB)),
    }
    assert put_tracked(s3, srv, bucket, "inline", os.urandom(1 * KiB)) == set()
    # A multipart object whose second part's file is removed: a GET of the whole object
    # must not send the first part and then stop.
    up = s3.create_multipart_upload(Bucket=bucket, Key="multipart")["UploadId"]
    before = blob_files(srv)
    e1 = s3.upload_part(Bucket=bucket, Key="multipart", UploadId=up, PartNumber=1, Body=os.urandom(5 * MiB))
    first_part = blob_files(srv) - before
    e2 = s3.upload_part(Bucket=bucket, Key="multipart", UploadId=up, PartNumber=2, Body=os.urandom(300 * KiB))
    second_part = blob_files(srv) - before - first_part
    s3.complete_multipart_upload(
        Bucket=bucket, Key="multipart", UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1["ETag"]}, {"PartNumber": 2, "ETag": e2["ETag"]}]},
    )  # fmt: skip
    assert all(len(f) == 1 for f in files.values()) and len(first_part) == len(second_part) == 1

    for path in (*files["sendfile"], *files["pread"], *second_part):
        path.unlink()
    assert delete_inline_rows(srv, pg_url) >= 1

    for key in ("sendfile", "pread", "inline", "multipart"):
        with s3_error("InternalError", 500):
            s3.get_object(Bucket=bucket, Key=key)
    # A range that lies wholly in the part that is still there is served.
    got = s3.get_object(Bucket=bucket, Key="multipart", Range="bytes=0-99")
    assert len(got["Body"].read()) == 100
    log = srv.stderr_text()
    for key in ("sendfile", "pread", "inline", "multipart"):
        assert f"/{bucket}/{key}: the object's data is missing" in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]


@pytest.mark.parametrize("tls", [False, True], ids=["sendfile", "tls-stream"])
def test_data_vanishing_mid_body_aborts_the_connection(server_factory, tls):
    srv = server_factory("sqlite", tls=tls)
    s3 = srv.client()
    bucket = unique_bucket_name("vanish")
    s3.create_bucket(Bucket=bucket)
    up = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    before = blob_files(srv)
    e1 = s3.upload_part(Bucket=bucket, Key="big", UploadId=up, PartNumber=1, Body=os.urandom(24 * MiB))
    first = blob_files(srv) - before
    e2 = s3.upload_part(Bucket=bucket, Key="big", UploadId=up, PartNumber=2, Body=os.urandom(1 * MiB))
    second = blob_files(srv) - before - first
    s3.complete_multipart_upload(
        Bucket=bucket, Key="big", UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1["ETag"]}, {"PartNumber": 2, "ETag": e2["ETag"]}]},
    )  # fmt: skip
    total = 25 * MiB

    path = object_path(bucket, "big")
    sock = open_socket(srv)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * KiB)
    sock.sendall(request_head("GET", path, sign(srv, "GET", path)))
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(64 * KiB)
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert f"content-length: {total}".encode() in head.lower()
    # The server is stuck in the first part (the client reads nothing); the second part's
    # bytes disappear before it gets there.
    time.sleep(0.5)
    for p in second:
        p.unlink()
    got = len(body)
    sock.settimeout(30)
    try:
        while True:
            chunk = sock.recv(1 * MiB)
            if not chunk:
                break
            got += len(chunk)
    except (ConnectionResetError, OSError):
        pass
    finally:
        sock.close()
    assert got < total, "the body was sent complete although part of it is gone"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "went missing mid-body" not in srv.stderr_text():
        time.sleep(0.1)
    log = srv.stderr_text()
    assert f"/{bucket}/big: the object's data went missing mid-body" in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    # The server goes on serving.
    assert s3.head_object(Bucket=bucket, Key="big")["ContentLength"] == total

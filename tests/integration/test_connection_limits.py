"""Slow and idle connections cannot lock clients out: a request head has a deadline
(CHRONICLE_HEADER_TIMEOUT), an idle kept-alive connection is closed
(CHRONICLE_IDLE_TIMEOUT), and past CHRONICLE_MAX_CONNECTIONS a new client is told
`503 SlowDown` instead of being refused."""

from __future__ import annotations

import contextlib
import http.client
import resource
import select
import socket
import time
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from tests.helpers.server import ChronicleServer, s3_client

CLOSE_WAIT = 60.0  # generous: the server is given deadlines of a few seconds


def _ensure_own_fd_limit(needed: int) -> None:
    """This test process holds hundreds of sockets itself."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        if target < needed:
            pytest.skip(f"the hard file descriptor limit ({hard}) is below the {needed} this test needs")
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


@contextlib.contextmanager
def _soft_fd_limit_inherited(limit: int) -> Iterator[None]:
    """Start servers with a low soft descriptor limit (under the usual high hard one), as a
    login shell or service manager may: the server must raise it for the connections it
    admits."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _start(
    server_factory,
    backend: str,
    pg_url: str | None,
    env: dict[str, str],
    extra_args: list[str] | None = None,
) -> ChronicleServer:
    if backend == "sqlite":
        return server_factory("sqlite", env=env, extra_args=extra_args)
    return server_factory("postgres", database_url=pg_url, env=env, extra_args=extra_args)


def _connect(srv: ChronicleServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", srv.port), timeout=30)


def _still_open(sock: socket.socket) -> bool:
    """The server has neither closed nor reset this connection (nothing to read yet)."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return True
    try:
        return bool(sock.recv(1, socket.MSG_PEEK))
    except OSError:
        return False


def _read_until_closed(sock: socket.socket, timeout: float) -> tuple[bool, bytes]:
    """(closed by the server within TIMEOUT, what it sent before closing)."""
    deadline = time.monotonic() + timeout
    received = b""
    while time.monotonic() < deadline:
        readable, _, _ = select.select([sock], [], [], 0.2)
        if not readable:
            continue
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return True, received
        if not chunk:
            return True, received
        received += chunk
    return False, received


@pytest.fixture
def backend_url(request):
    """pg_url for the postgres parameter only (no database made for SQLite)."""
    return request.getfixturevalue("pg_url") if request.param == "postgres" else None


@pytest.mark.parametrize(
    ("backend", "backend_url"),
    [("sqlite", "sqlite"), ("postgres", "postgres")],
    indirect=["backend_url"],
)
def test_500_slow_connections_leave_room_for_a_new_client(server_factory, backend, backend_url):
    _ensure_own_fd_limit(2048)
    # 512: under it the server could not hold 500 connections beside its own files.
    with _soft_fd_limit_inherited(512):
        # A long head deadline: this test is about holding them, not about closing them.
        srv = _start(server_factory, backend, backend_url, {"CHRONICLE_HEADER_TIMEOUT": "600"})
    held: list[socket.socket] = []
    try:
        for i in range(500):
            sock = _connect(srv)
            if i % 2:  # half trickle an unfinished request head, half never say a word
                sock.sendall(b"GET /minio/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
            held.append(sock)
        for sock in held[1::2]:
            sock.sendall(b"b")

        s3 = s3_client(srv)
        bucket = f"room-{srv.port}"
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="k", Body=b"served")
        assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"served"
        assert srv.health() == 200
        assert all(_still_open(sock) for sock in held)  # the slow ones are held, not dropped
    finally:
        for sock in held:
            sock.close()
    assert "Traceback" not in srv.stderr_text()


@pytest.mark.parametrize(
    ("backend", "backend_url", "extra_args"),
    [("sqlite", "sqlite", []), ("postgres", "postgres", ["--workers", "2"])],
    indirect=["backend_url"],
    ids=["sqlite", "postgres-workers"],
)
def test_slow_request_heads_and_idle_connections_are_closed(server_factory, backend, backend_url, extra_args):
    env = {"CHRONICLE_HEADER_TIMEOUT": "2", "CHRONICLE_IDLE_TIMEOUT": "2"}
    srv = _start(server_factory, backend, backend_url, env, extra_args)

    silent = _connect(srv)  # never sends a byte
    partial = _connect(srv)  # half a request head, then nothing
    partial.sendall(b"GET /minio/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    trickling = _connect(srv)  # a header byte every half second: never idle, never done
    trickling.sendall(b"GET /minio/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    kept_alive = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    kept_alive.request("GET", "/minio/health/live")
    assert kept_alive.getresponse().read() == b""
    idle = kept_alive.sock  # served once, then left idle

    deadline = time.monotonic() + CLOSE_WAIT
    trickle_closed = False
    while time.monotonic() < deadline and not trickle_closed:
        readable, _, _ = select.select([trickling], [], [], 0.5)
        if readable:
            trickle_closed, _ = _read_until_closed(trickling, 5.0)
            break
        try:
            trickling.sendall(b"x")
        except OSError:  # reset: it was closed
            trickle_closed = True
    assert trickle_closed, "a connection trickling its request head was never closed"

    closed, sent = _read_until_closed(partial, CLOSE_WAIT)
    assert closed, "an unfinished request head was never timed out"
    head, _, body = sent.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), sent
    assert b"<Code>RequestTimeout</Code>" in body and b"<RequestId>" in body

    closed, sent = _read_until_closed(silent, CLOSE_WAIT)
    assert closed and sent == b"", "a connection that never spoke was never closed"

    # Closed after the configured 2 s, well before uvicorn's 30 s that applied before.
    closed, sent = _read_until_closed(idle, 20.0)
    assert closed and sent == b"", "an idle kept-alive connection was not closed after CHRONICLE_IDLE_TIMEOUT"

    # Clients that send their requests promptly are served as ever.
    s3 = s3_client(srv)
    s3.create_bucket(Bucket=f"prompt-{srv.port}")
    assert any(b["Name"] == f"prompt-{srv.port}" for b in s3.list_buckets()["Buckets"])
    for sock in (silent, partial, trickling, idle):
        sock.close()
    assert "Traceback" not in srv.stderr_text()


@pytest.mark.parametrize(
    ("backend", "backend_url"),
    [("sqlite", "sqlite"), ("postgres", "postgres")],
    indirect=["backend_url"],
)
def test_a_client_past_the_connection_cap_is_told_to_slow_down(server_factory, backend, backend_url):
    cap = 20
    srv = _start(
        server_factory,
        backend,
        backend_url,
        {"CHRONICLE_MAX_CONNECTIONS": str(cap), "CHRONICLE_HEADER_TIMEOUT": "600"},
    )
    held = [_connect(srv) for _ in range(cap)]
    try:
        s3 = s3_client(srv)
        with pytest.raises(ClientError) as caught:
            s3.list_buckets()
        assert caught.value.response["Error"]["Code"] == "SlowDown"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503

        raw = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        raw.request("GET", "/some-bucket/some-key")
        resp = raw.getresponse()
        body = resp.read()
        assert resp.status == 503 and resp.getheader("content-type") == "application/xml"
        assert b"<Code>SlowDown</Code>" in body and b"<Resource>/some-bucket/some-key</Resource>" in body
        assert b"<RequestId>" in body and resp.getheader("x-amz-request-id")
        assert resp.getheader("connection") == "close"
        raw.close()
    finally:
        for sock in held[: cap // 2]:
            sock.close()

    # Below the cap again: served (once the server has seen those connections close).
    deadline = time.monotonic() + CLOSE_WAIT
    while True:
        try:
            s3.list_buckets()
            break
        except ClientError as e:
            assert e.response["Error"]["Code"] == "SlowDown"
            assert time.monotonic() < deadline, "still refused after connections were closed"
            time.sleep(0.2)
    for sock in held[cap // 2 :]:
        sock.close()
    assert "Traceback" not in srv.stderr_text()

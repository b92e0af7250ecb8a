"""`chronicle serve --workers 2`: keep-alive connections opened together spread evenly over
the workers (a client's pool is not left to whichever worker woke first), and every worker
serves them correctly (what one worker wrote, the other reads)."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import time
from pathlib import Path

from tests.helpers.server import s3_client


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def _server_side_inode(server_port: int, client_port: int) -> int | None:
    """The inode of the server's end of the connection from client_port (IPv4 loopback)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], int(fields[9])
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
            return inode
    return None


def _pool(port: int, size: int) -> list[http.client.HTTPConnection]:
    """`size` keep-alive connections opened together, each having made one request."""
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(size)]
    for conn in conns:
        conn.connect()
    for conn in conns:
        conn.request("GET", "/minio/health/live")
        assert conn.getresponse().read() == b""
    return conns


def _close(conns: list[http.client.HTTPConnection]) -> None:
    for conn in conns:
        conn.close()


def _holders(port: int, workers: list[int], conns: list[http.client.HTTPConnection]) -> dict[int, int]:
    """How many of the connections each worker holds."""
    held = {pid: _socket_inodes(pid) for pid in workers}
    per_worker = dict.fromkeys(workers, 0)
    for conn in conns:
        inode = _server_side_inode(port, conn.sock.getsockname()[1])
        owners = [pid for pid, inodes in held.items() if inode in inodes]
        assert len(owners) == 1
        per_worker[owners[0]] += 1
    return per_worker


def test_connections_spread_over_workers_and_both_serve(server_factory, pg_url):
    server = server_factory("postgres", database_url=pg_url, extra_args=["--workers", "2"])
    parent = server.proc.pid
    workers = [parent, *_children(parent)]
    assert len(workers) == 2

    # Until both workers are up (the first may answer while the other still starts).
    deadline = time.monotonic() + 30
    while min(_holders(server.port, workers, conns := _pool(server.port, 4)).values()) == 0:
        assert time.monotonic() < deadline, "a worker never accepted"
        _close(conns)
        time.sleep(0.2)
    _close(conns)
    time.sleep(0.2)  # until the workers have seen those close

    conns = _pool(server.port, 16)
    per_worker = _holders(server.port, workers, conns)
    assert min(per_worker.values()) >= 6, per_worker  # 8 + 8 on a quiet machine

    # Both workers serve S3 requests, and each sees what the other wrote.
    s3 = s3_client(server)
    s3.create_bucket(Bucket="spread")
    for i in range(20):
        s3.put_object(Bucket="spread", Key=f"k{i}", Body=f"v{i}".encode())
        assert s3.get_object(Bucket="spread", Key=f"k{i}")["Body"].read() == f"v{i}".encode()
    _close(conns)
    assert "Traceback" not in server.stderr_text()


def _running(pid: int) -> bool:
    """PID is a live process (not gone, not a zombie waiting to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_workers_exit_when_their_parent_is_killed(server_factory, pg_url):
    """SIGKILL runs no handler in the parent; its workers must still go (and free the port),
    or a restart fails with "address already in use"."""
    server = server_factory("postgres", database_url=pg_url, extra_args=["--workers", "3"])
    parent = server.proc.pid
    workers = _children(parent)
    assert len(workers) == 2
    try:
        os.kill(parent, signal.SIGKILL)
        server.proc.wait(timeout=30)
        deadline = time.monotonic() + 30
        while any(_running(pid) for pid in workers):
            assert time.monotonic() < deadline, f"workers {workers} outlived their parent"
            time.sleep(0.1)

        server.start()  # the same port, at once
        s3 = s3_client(server)
        s3.create_bucket(Bucket="after-restart")
        s3.put_object(Bucket="after-restart", Key="k", Body=b"v")
        assert s3.get_object(Bucket="after-restart", Key="k")["Body"].read() == b"v"
    finally:
        for pid in workers:  # whatever survived (before the fix: all of them)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

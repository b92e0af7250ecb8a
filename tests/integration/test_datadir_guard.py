"""One server per embedded (SQLite) data dir, one deliverer of its notifications: a second
`serve`, a `worker` beside a delivering server, or `replay` beside a server is refused,
naming who holds the data dir; `gc` may run beside a server. With PostgreSQL nodes share
a data dir by design."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.helpers.server import REPO_ROOT, ChronicleServer, chronicle_command, free_port

EXIT_WAIT = 60.0  # a refused command exits within seconds; a command that runs does not


def _run_until_exit(args: list[str], env: dict[str, str], log: Path) -> tuple[int | None, str]:
    """(exit code, or None if it was still running after EXIT_WAIT; its stderr)."""
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            chronicle_command(*args),
            cwd=str(REPO_ROOT),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
        try:
            code: int | None = proc.wait(timeout=EXIT_WAIT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = None
    return code, log.read_text(errors="replace")


def _refusal(code: int | None, stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert code == 2 and len(lines) == 1, f"exit {code}, stderr:\n{stderr[-3000:]}"
    assert "Traceback" not in stderr
    return lines[0]


def _named(srv: ChronicleServer) -> str:
    return f"chronicle serve (pid {srv.proc.pid}, {srv.address})"


def test_a_second_server_on_one_sqlite_data_dir_is_refused(server_factory, tmp_path):
    first = server_factory("sqlite")
    address = f"127.0.0.1:{free_port()}"
    code, stderr = _run_until_exit(
        ["serve", "--address", address, "--data-dir", str(first.data_dir)],
        first.env,
        tmp_path / "second.log",
    )
    line = _refusal(code, stderr)
    assert f"is in use by {_named(first)}" in line and "use PostgreSQL" in line
    assert first.health() == 200  # the first is untouched

    # A crashed server leaves no lock behind: the kernel drops it with the process.
    first.kill()
    second = server_factory("sqlite", data_dir=first.data_dir, access_key=first.access_key, secret_key=first.secret_key)
    assert second.health() == 200


def test_worker_beside_a_delivering_server_is_refused(server_factory, tmp_path):
    srv = server_factory("sqlite")
    code, stderr = _run_until_exit(["worker", "--data-dir", str(srv.data_dir)], srv.env, tmp_path / "worker.log")
    line = _refusal(code, stderr)
    assert f"{_named(srv)} already delivers" in line and "--no-delivery" in line


def test_one_worker_beside_a_server_without_delivery(server_factory, tmp_path):
    srv = server_factory("sqlite", extra_args=["--no-delivery"])
    worker = subprocess.Popen(
        chronicle_command("worker", "--data-dir", str(srv.data_dir)),
        cwd=str(REPO_ROOT),
        env=srv.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "worker1.log", "wb"),  # noqa: SIM115 - the child writes it
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + EXIT_WAIT
        while "worker: following the log" not in (tmp_path / "worker1.log").read_text(errors="replace"):
            assert worker.poll() is None, (tmp_path / "worker1.log").read_text()
            assert time.monotonic() < deadline, "the worker did not start"
            time.sleep(0.2)
        code, stderr = _run_until_exit(["worker", "--data-dir", str(srv.data_dir)], srv.env, tmp_path / "worker2.log")
        line = _refusal(code, stderr)
        assert f"chronicle worker (pid {worker.pid}) already delivers" in line
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    assert srv.health() == 200


def test_replay_beside_a_server_is_refused(server_factory, tmp_path):
    srv = server_factory("sqlite")
    code, stderr = _run_until_exit(["replay", "--data-dir", str(srv.data_dir)], srv.env, tmp_path / "replay.log")
    # The replay guard (projections.eventstore.node_lock) names every process using the data dir.
    assert code == 2, stderr
    assert "Traceback" not in stderr, stderr
    assert "replay: refused, nothing was changed" in stderr, stderr
    assert f"pid {srv.proc.pid} (chronicle serve --address {srv.address}" in stderr, stderr


def test_gc_runs_beside_a_server(server_factory, tmp_path):
    srv = server_factory("sqlite")
    s3 = srv.client()
    s3.create_bucket(Bucket="kept")
    s3.put_object(Bucket="kept", Key="k", Body=b"x" * 300_000)  # a blob file
    code, stderr = _run_until_exit(["gc", "--data-dir", str(srv.data_dir)], srv.env, tmp_path / "gc.log")
    assert code == 0, stderr
    assert s3.get_object(Bucket="kept", Key="k")["Body"].read() == b"x" * 300_000


def test_postgresql_nodes_share_a_data_dir(server_factory, pg_url):
    first = server_factory("postgres", database_url=pg_url)
    second = server_factory(
        "postgres",
        database_url=pg_url,
        data_dir=first.data_dir,
        migrate=False,
        master_key_hex=first.env["CHRONICLE_MASTER_KEY"],
        access_key=first.access_key,
        secret_key=first.secret_key,
    )
    first.client().create_bucket(Bucket="shared")
    first.client().put_object(Bucket="shared", Key="k", Body=b"y" * 300_000)
    assert second.client().get_object(Bucket="shared", Key="k")["Body"].read() == b"y" * 300_000

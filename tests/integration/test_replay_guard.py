"""`chronicle replay` never runs under a live system: while a `chronicle serve` or `chronicle
worker` uses the store it refuses before touching anything and names who is running; a node
that starts (or comes back) while a replay holds the store refuses to run."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from projections.eventstore.inline import INLINE_TABLES
from projections.eventstore.node_lock import NODE_LOCK, hold_for_replay
from projections.notifications.schema import NOTIFY_VIEW_TABLES
from tests.helpers.notify import wait_until
from tests.helpers.server import REPO_ROOT, ServerStartError, chronicle_command
from tests.helpers.services import PG_DSN, pg_connect

pytestmark = pytest.mark.timeout(240)

PROJECTION_TABLES = INLINE_TABLES + NOTIFY_VIEW_TABLES
TARGET_ENV = {
    "CHRONICLE_NOTIFY_WEBHOOK_ENABLE_1": "on",
    "CHRONICLE_NOTIFY_WEBHOOK_ENDPOINT_1": "http://127.0.0.1:9/",
}


def run_replay(srv) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        chronicle_command("replay", "--data-dir", str(srv.data_dir)),
        cwd=str(REPO_ROOT),
        env=srv.env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def table_oids(pg_url: str) -> dict[str, int]:
    """A dropped and re-created table gets a new oid."""
    with pg_connect(pg_url) as conn:
        return {t: conn.execute("SELECT %s::regclass::oid", (t,)).fetchone()[0] for t in PROJECTION_TABLES}


def sqlite_tables_sql(data_dir: Path) -> dict[str, str]:
    """Each projection table's CREATE statement and root page: a rebuilt table moves."""
    import sqlite3

    with sqlite3.connect(data_dir / "chronicle.sqlite3") as conn:
        rows = conn.execute("SELECT name, rootpage FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name: page for name, page in rows if name in PROJECTION_TABLES}


class Writer(threading.Thread):
    """PUTs one object after another until stopped; remembers every failure."""

    def __init__(self, client, bucket: str) -> None:
        super().__init__(daemon=True)
        self.client, self.bucket = client, bucket
        self.done = 0
        self.errors: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.client.put_object(Bucket=self.bucket, Key=f"w/{self.done:05d}", Body=b"x")
                self.done += 1
            except Exception as e:  # noqa: BLE001
                self.errors.append(repr(e))

    def stop(self) -> None:
        self.stopping.set()
        self.join(30)


def chronicle_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        chronicle_command("worker"),
        cwd=str(REPO_ROOT),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "ab"),  # noqa: SIM115 - the child owns it
        start_new_session=True,
    )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def worker_started(log: Path) -> bool:
    return "worker: following the log" in log.read_text(errors="replace")


# -- PostgreSQL ---------------------------------------------------------------------------------


def test_replay_refuses_under_running_nodes_and_changes_nothing(server_factory, pg_url, tmp_path):
    srv = server_factory("postgres", database_url=pg_url, env=TARGET_ENV)
    s3 = srv.client(max_pool_connections=4)
    s3.create_bucket(Bucket="guarded")
    s3.put_object(Bucket="guarded", Key="before", Body=b"x")
    worker = chronicle_worker(srv.env, tmp_path / "worker.log")
    try:
        wait_until(lambda: worker_started(tmp_path / "worker.log"), 60, "the worker")
        oids = table_oids(pg_url)
        writer = Writer(s3, "guarded")
        writer.start()
        wait_until(lambda: writer.done >= 20, 60, "writes in flight")
        try:
            res = run_replay(srv)
        finally:
            writer.stop()
        assert res.returncode == 2, res.stdout + res.stderr
        assert "nothing was changed" in res.stderr
        assert "rebuilt" not in res.stdout
        # It names who runs: the API node by its address and pid, the worker by its pid.
        assert f"chronicle-api 127.0.0.1:{srv.port} pid={srv.proc.pid}" in res.stderr, res.stderr
        assert f"pid={worker.pid}" in res.stderr and "chronicle-worker" in res.stderr, res.stderr
        assert table_oids(pg_url) == oids  # not one table dropped and rebuilt
        assert writer.errors == [] and writer.done >= 20
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="guarded", MaxKeys=1000)["Contents"]]
        assert len(keys) == writer.done + 1
    finally:
        stop(worker)
    # With everything stopped it runs.
    srv.stop()
    res = run_replay(srv)
    assert res.returncode == 0, res.stderr
    assert table_oids(pg_url) != oids


def test_a_worker_alone_keeps_replay_out(server_factory, pg_url, tmp_path):
    srv = server_factory("postgres", database_url=pg_url, env=TARGET_ENV)
    srv.client().create_bucket(Bucket="quiet")
    srv.stop()
    worker = chronicle_worker(srv.env, tmp_path / "worker.log")
    try:
        wait_until(lambda: worker_started(tmp_path / "worker.log"), 60, "the worker")
        oids = table_oids(pg_url)
        res = run_replay(srv)
        assert res.returncode == 2, res.stdout + res.stderr
        assert "chronicle-worker" in res.stderr and f"pid={worker.pid}" in res.stderr, res.stderr
        assert table_oids(pg_url) == oids
    finally:
        stop(worker)


def test_nodes_refuse_to_start_while_a_replay_holds_the_database(server_factory, pg_url, tmp_path):
    srv = server_factory("postgres", database_url=pg_url, start=False)
    replaying = hold_for_replay(pg_url, srv.data_dir, "chronicle-replay test-host pid=4242")
    try:
        with pytest.raises(ServerStartError) as refused:
            srv.start()
        assert srv.proc.returncode == 2
        assert "chronicle-replay test-host pid=4242" in str(refused.value)
        worker = subprocess.run(
            chronicle_command("worker"),
            cwd=str(REPO_ROOT),
            env=srv.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert worker.returncode == 2
        assert "chronicle-replay test-host pid=4242" in worker.stderr
    finally:
        replaying.release()
    srv.start()  # the replay is over
    srv.client().create_bucket(Bucket="after-replay")


def test_a_node_that_loses_the_database_to_a_replay_stops(server_factory, pg_url, pg_database):
    """The node's lock session ends (a database restart, a network cut) and a replay takes
    the lock before the node is back: the node stops rather than run under the replay."""
    srv = server_factory("postgres", database_url=pg_url)
    srv.client().create_bucket(Bucket="lost")
    replay_conn = pg_connect(pg_url)  # the replay's session, opened while it still may
    try:
        with pg_connect(PG_DSN) as admin:
            admin.execute(f'ALTER DATABASE "{pg_database}" ALLOW_CONNECTIONS false')
            try:
                admin.execute(
                    "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE datname = %s AND pid <> %s",
                    (pg_database, replay_conn.info.backend_pid),
                )
                wait_until(
                    lambda: replay_conn.execute("SELECT pg_try_advisory_lock(%s)", (NODE_LOCK,)).fetchone()[0],
                    30,
                    "the node's lock to be free",
                )
            finally:
                admin.execute(f'ALTER DATABASE "{pg_database}" ALLOW_CONNECTIONS true')
        wait_until(lambda: srv.proc.poll() is not None, 60, "the node to stop")
        assert "a `chronicle replay` holds the database" in srv.stderr_text()
        assert "stopping" in srv.stderr_text()
    finally:
        replay_conn.close()


# -- SQLite (embedded) ------------------------------------------------------------------------


def test_replay_refuses_while_the_embedded_server_runs(server_factory):
    srv = server_factory("sqlite", env=TARGET_ENV)
    s3 = srv.client()
    s3.create_bucket(Bucket="embedded")
    s3.put_object(Bucket="embedded", Key="k", Body=b"x")
    tables = sqlite_tables_sql(srv.data_dir)
    res = run_replay(srv)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "nothing was changed" in res.stderr and "rebuilt" not in res.stdout
    assert f"pid {srv.proc.pid} (chronicle serve --address 127.0.0.1:{srv.port}" in res.stderr, res.stderr
    assert sqlite_tables_sql(srv.data_dir) == tables
    assert s3.get_object(Bucket="embedded", Key="k")["Body"].read() == b"x"
    srv.stop()
    res = run_replay(srv)
    assert res.returncode == 0, res.stderr


def test_embedded_server_refuses_to_start_while_a_replay_holds_the_data_dir(server_factory):
    srv = server_factory("sqlite", start=False)
    replaying = hold_for_replay(None, srv.data_dir, "unused")
    try:
        with pytest.raises(ServerStartError) as refused:
            srv.start()
        assert srv.proc.returncode == 2
        assert f"pid {os.getpid()}" in str(refused.value) and "chronicle replay" in str(refused.value)
    finally:
        replaying.release()
    srv.start()
    srv.client().create_bucket(Bucket="after-replay")

"""An operator tells Chronicle's PostgreSQL sessions apart in pg_stat_activity: every session
of an API process, a worker and a replay carries an application_name naming the role, the
node's address (or host) and the process id."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from tests.helpers.notify import wait_until
from tests.helpers.server import REPO_ROOT, chronicle_command
from tests.helpers.services import pg_connect

pytestmark = pytest.mark.timeout(240)

TARGET_ENV = {
    "CHRONICLE_NOTIFY_WEBHOOK_ENABLE_1": "on",
    "CHRONICLE_NOTIFY_WEBHOOK_ENDPOINT_1": "http://127.0.0.1:9/",
}


def sessions(pg_url: str) -> list[str]:
    """application_name of every other client session on the database."""
    with pg_connect(pg_url) as conn:
        rows = conn.execute(
            "SELECT application_name FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchall()
    return [r[0] for r in rows]


def use_every_path(srv) -> None:
    """Appends from the event loop and the committer, reads from the event loop, the pool
    and the read connections, notification rules (the follower and delivery start)."""
    s3 = srv.client()
    s3.create_bucket(Bucket="named")
    s3.put_bucket_notification_configuration(
        Bucket="named",
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": "arn:minio:sqs::1:webhook", "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    for i in range(5):
        s3.put_object(Bucket="named", Key=f"k{i}", Body=b"x")
    s3.get_object(Bucket="named", Key="k0")["Body"].read()
    s3.list_objects_v2(Bucket="named")
    s3.list_buckets()
    srv.client("iam").create_user(UserName="named-user")


def test_sessions_are_named_by_role_address_and_pid(server_factory, pg_url, tmp_path):
    srv = server_factory("postgres", database_url=pg_url, env=TARGET_ENV)
    use_every_path(srv)
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        chronicle_command("worker"),
        cwd=str(REPO_ROOT),
        env=srv.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "ab"),  # noqa: SIM115 - the child owns it
    )
    try:
        wait_until(lambda: "following the log" in Path(log).read_text(errors="replace"), 60, "the worker")
        api = f"chronicle-api 127.0.0.1:{srv.port} pid={srv.proc.pid}"
        host = socket.gethostname()
        worker_name = f"chronicle-worker {host} pid={worker.pid}"[:63] if len(host) < 30 else None

        def named() -> list[str] | None:
            names = sessions(pg_url)
            # The node's pool, read connections, event-loop connections, follower, listener,
            # delivery and lock sessions; the worker's lock, follower and listener.
            ok = names.count(api) >= 5 and sum(n.startswith("chronicle-worker ") for n in names) >= 2
            return names if ok else None

        names = wait_until(named, 60, "the node's and the worker's sessions")
        strangers = [n for n in names if n != api and not n.startswith("chronicle-worker ")]
        assert strangers == [], names
        worker_names = {n for n in names if n.startswith("chronicle-worker ")}
        assert all(n.endswith(f" pid={worker.pid}") for n in worker_names), worker_names
        if worker_name:
            assert worker_names == {worker_name}
    finally:
        worker.terminate()
        worker.wait(20)


def test_replay_sessions_are_named(server_factory, pg_url):
    srv = server_factory("postgres", database_url=pg_url)
    srv.client().create_bucket(Bucket="replayed")
    srv.stop()
    # Hold the replay up (a table lock it must wait for) to see its sessions.
    with pg_connect(pg_url) as blocker, blocker.transaction():
        blocker.execute("LOCK TABLE chronicle_events IN ACCESS EXCLUSIVE MODE")
        replay = subprocess.Popen(
            chronicle_command("replay", "--data-dir", str(srv.data_dir)),
            cwd=str(REPO_ROOT),
            env=srv.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        want = f"chronicle-replay {socket.gethostname()}"[:40]

        def replay_sessions() -> list[str]:
            return [n for n in sessions(pg_url) if n.endswith(f" pid={replay.pid}")]

        names = wait_until(lambda: len(replay_sessions()) >= 2 and replay_sessions(), 60, "the replay's sessions")
        assert all(n.startswith(want) for n in names), names
    out, err = replay.communicate(timeout=120)
    assert replay.returncode == 0, err

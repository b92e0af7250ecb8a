"""`chronicle events tail`: every change in log order as change records, from the beginning, a
position, a time or now; durable named consumers resume exactly after what they committed —
across a disconnect, writes, an IAM change and a server restart. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from minio import MinioAdmin
from minio.credentials import StaticProvider

from tests.conftest import unique_bucket_name
from tests.helpers.change_schema import assert_valid
from tests.helpers.server import REPO_ROOT, chronicle_command


def tail(srv, *args: str, timeout: float = 120) -> list[dict]:
    res = subprocess.run(
        chronicle_command("events", "tail", "--data-dir", str(srv.data_dir), "--json", *args),
        cwd=str(REPO_ROOT),
        env=srv.env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    return [json.loads(line) for line in res.stdout.splitlines()]


def audit_positions(srv) -> list[int]:
    res = subprocess.run(
        chronicle_command("audit", "--data-dir", str(srv.data_dir), "--format", "json", "--limit", "100000"),
        cwd=str(REPO_ROOT),
        env=srv.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    return [json.loads(line)["position"] for line in res.stdout.splitlines()]


def wait_indexed(srv, count: int) -> list[int]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        got = audit_positions(srv)
        if len(got) >= count:
            return got
        time.sleep(0.3)
    raise AssertionError(f"the index did not reach {count} events: {len(got)}")


def start(backend: str, server_factory, request):
    kwargs = {"database_url": request.getfixturevalue("pg_url")} if backend == "postgres" else {}
    return server_factory(backend, **kwargs)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_consumer_resumes_exactly_after_what_it_committed(server_factory, request, backend):
    srv = start(backend, server_factory, request)
    s3 = srv.client()
    bucket = unique_bucket_name("stream")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="before", Body=b"0")
    seen = wait_indexed(srv, 2)
    first = tail(srv, "--from", "beginning", "--consumer", "reader-1")
    assert [r["position"] for r in first] == seen
    assert [r["event"] for r in first][-2:] == ["Bucket.Created", "ObjectVersion.Created"]
    assert all(r["schema"] == "chronicle.change/1" for r in first)

    # The consumer is gone; a thousand writes and an IAM change happen, and the server restarts.
    keys = [f"k/{i:04d}" for i in range(1000)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=b"x"), keys))
    admin = MinioAdmin(endpoint=srv.address, credentials=StaticProvider(srv.access_key, srv.secret_key), secure=False)
    admin.user_add("streamed-user", "streamed-secret-1")
    srv.restart()
    everything = wait_indexed(srv, len(seen) + 1001)

    missed = tail(srv, "--consumer", "reader-1")
    positions = [r["position"] for r in missed]
    assert positions == [p for p in everything if p > first[-1]["position"]], "exactly the missed events, in order"
    assert sorted(r["key"] for r in missed if r["event"] == "ObjectVersion.Created") == keys
    assert [r["subject"] for r in missed if r["event"] == "User.Created"] == ["streamed-user"]
    assert all("secret" not in json.dumps(r.get("data", {})).lower() for r in missed if r["kind"] == "iam")
    assert_valid(first + missed)
    assert tail(srv, "--consumer", "reader-1") == [], "nothing new: nothing sent twice"

    # --reset moves a consumer back; --from a position starts at that position.
    again = tail(srv, "--consumer", "reader-1", "--reset", "--from", str(positions[10]))
    assert [r["position"] for r in again] == positions[10:]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_filters_and_following(server_factory, request, backend):
    srv = start(backend, server_factory, request)
    s3 = srv.client()
    photos, logs = unique_bucket_name("photos"), unique_bucket_name("logs")
    for b in (photos, logs):
        s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=photos, Key="2026/cat.jpg", Body=b"1")
    s3.put_object(Bucket=photos, Key="2026/notes.txt", Body=b"2")
    s3.put_object(Bucket=photos, Key="2025/dog.jpg", Body=b"3")
    s3.put_object(Bucket=logs, Key="2026/a.jpg", Body=b"4")
    s3.delete_object(Bucket=photos, Key="2026/notes.txt")
    admin = MinioAdmin(endpoint=srv.address, credentials=StaticProvider(srv.access_key, srv.secret_key), secure=False)
    admin.user_add("filtered-user", "filtered-secret-1")
    wait_indexed(srv, 8)

    jpgs = tail(srv, "--bucket", photos, "--prefix", "2026/", "--suffix", ".jpg")
    assert [(r["bucket"], r["key"]) for r in jpgs] == [(photos, "2026/cat.jpg")]
    deletes = tail(srv, "--event", "*.Created", "--event", "DeleteMarker.*", "--bucket", photos, "--kind", "object")
    assert [r["key"] for r in deletes] == ["2026/cat.jpg", "2026/notes.txt", "2025/dog.jpg", "2026/notes.txt"]
    assert deletes[-1]["event"].startswith("DeleteMarker.")
    assert_valid(tail(srv))
    iam = tail(srv, "--kind", "iam")
    assert [r["subject"] for r in iam] == ["filtered-user"]
    assert tail(srv, "--principal", srv.access_key, "--bucket", logs)[-1]["key"] == "2026/a.jpg"
    assert tail(srv, "--from", "now") == []

    # --follow waits for changes that happen after it started (from the next position: what
    # "now" is would depend on how long the process takes to start).
    head = audit_positions(srv)[-1]
    follower = subprocess.Popen(
        chronicle_command(
            "events", "tail", "--data-dir", str(srv.data_dir), "--json", "--follow", "--bucket", logs,
            "--from", str(head + 1), "--limit", "3",
        ),
        cwd=str(REPO_ROOT),
        env=srv.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        for i in range(3):
            s3.put_object(Bucket=logs, Key=f"live-{i}", Body=b"x")
        out, err = follower.communicate(timeout=60)
    finally:
        follower.kill()
    assert follower.returncode == 0, err
    assert [json.loads(line)["key"] for line in out.splitlines()] == ["live-0", "live-1", "live-2"]


def test_bad_arguments_are_one_line_with_what_to_do(server):
    srv = server
    for args, says in (
        (["--kind", "objects"], "use one of"),
        (["--consumer", "bad name!"], "consumer name"),
        (["--from", "yesterday"], "ISO 8601"),
        (["--reset"], "--consumer"),
    ):
        res = subprocess.run(
            chronicle_command("events", "tail", "--data-dir", str(srv.data_dir), *args),
            cwd=str(REPO_ROOT),
            env=srv.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert res.returncode == 2, (args, res.stderr)
        assert says in res.stderr and "Traceback" not in res.stderr, (args, res.stderr)

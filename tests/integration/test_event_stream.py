"""The event stream over HTTP (`/minio/chronicle/v1/events`): every change as a change record in
log order, NDJSON or Server-Sent Events; an SSE client resumes through Last-Event-ID; a durable
consumer resumes exactly after what it committed, across writes, an IAM change and a restart;
a subscriber sees only the buckets it may listen to and IAM events only with admin:ExportIAM.
SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from minio import MinioAdmin
from minio.credentials import StaticProvider

from tests.conftest import unique_bucket_name
from tests.helpers.prometheus import scrape

EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def signed(srv, method: str, path: str, key: str | None = None, secret: str | None = None, headers=None):
    url = f"{srv.endpoint}{path}"
    req = AWSRequest(method=method, url=url, headers={"X-Amz-Content-SHA256": EMPTY, **(headers or {})})
    S3SigV4Auth(Credentials(key or srv.access_key, secret or srv.secret_key), "s3", "us-east-1").add_auth(req)
    return url, dict(req.headers)


class Stream:
    """A subscriber reading a stream on a thread, so a test can wait for records with a deadline."""

    def __init__(self, srv, query: str, key=None, secret=None, headers=None) -> None:
        url, hdrs = signed(srv, "GET", f"/minio/chronicle/v1/events?{query}", key, secret, headers)
        self.response = requests.get(url, headers=hdrs, stream=True, timeout=60)
        self.lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for line in self.response.iter_lines(chunk_size=1):
                self.lines.put(line)
        except Exception:  # noqa: BLE001 - closed by the test
            pass

    def records(self, count: int, timeout: float = 60) -> list[dict]:
        """The next `count` records (NDJSON lines or SSE data lines, with SSE ids checked)."""
        out: list[dict] = []
        last_id = None
        deadline = time.monotonic() + timeout
        while len(out) < count:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"got {len(out)} of {count} records: {out[-3:]}") from None
            if line.startswith(b"id: "):
                last_id = int(line[4:])
            elif line.startswith(b"data: "):
                record = json.loads(line[6:])
                assert record["position"] == last_id
                out.append(record)
            elif line.startswith(b"{"):
                out.append(json.loads(line))
        return out

    def quiet(self, seconds: float) -> list[bytes]:
        got = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                got.append(self.lines.get(timeout=left))
            except queue.Empty:
                break
        return [g for g in got if g.startswith((b"{", b"data: "))]

    def close(self) -> None:
        # Shut the socket first: closing the response alone waits for the reader thread's
        # blocked read, which returns only at the server's next keep-alive line (15 s).
        conn = getattr(self.response.raw, "_connection", None)
        if conn is not None and conn.sock is not None:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
        self.response.close()


def start(backend, server_factory, request):
    kwargs = {"database_url": request.getfixturevalue("pg_url")} if backend == "postgres" else {}
    return server_factory(backend, **kwargs)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_sse_resumes_through_last_event_id(server_factory, request, backend):
    srv = start(backend, server_factory, request)
    s3 = srv.client()
    bucket = unique_bucket_name("sse")
    s3.create_bucket(Bucket=bucket)
    for i in range(5):
        s3.put_object(Bucket=bucket, Key=f"k{i}", Body=b"x")
    stream = Stream(srv, f"from=beginning&format=sse&bucket={bucket}")
    assert stream.response.status_code == 200
    assert stream.response.headers["content-type"] == "text/event-stream"
    first = stream.records(6)
    assert [r["event"] for r in first] == ["Bucket.Created"] + ["ObjectVersion.Created"] * 5
    stream.close()

    # The browser reconnects with the last id it saw; nothing before it comes again.
    s3.put_object(Bucket=bucket, Key="after-disconnect", Body=b"y")
    resumed = Stream(srv, f"format=sse&bucket={bucket}", headers={"Last-Event-ID": str(first[2]["position"])})
    again = resumed.records(4)
    assert [r["position"] for r in again[:3]] == [r["position"] for r in first[3:]]
    assert again[3]["key"] == "after-disconnect"
    # Live: a write after the subscriber connected arrives without a reconnect.
    s3.put_object(Bucket=bucket, Key="live", Body=b"z")
    assert resumed.records(1)[0]["key"] == "live"
    resumed.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_durable_consumer_resumes_exactly_where_it_committed(server_factory, request, backend):
    srv = start(backend, server_factory, request)
    s3 = srv.client()
    bucket = unique_bucket_name("durable")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="first", Body=b"1")
    stream = Stream(srv, "consumer=app-1&from=beginning")
    got = stream.records(2)
    stream.close()
    url, hdrs = signed(srv, "PUT", f"/minio/chronicle/v1/events/consumers/app-1?position={got[-1]['position']}")
    assert requests.put(url, headers=hdrs, timeout=30).json()["position"] == got[-1]["position"]

    keys = [f"missed/{i:04d}" for i in range(1000)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=b"x"), keys))
    admin = MinioAdmin(endpoint=srv.address, credentials=StaticProvider(srv.access_key, srv.secret_key), secure=False)
    admin.user_add("late-user", "late-user-secret-1")
    srv.restart()

    resumed = Stream(srv, "consumer=app-1")
    missed = resumed.records(1001, timeout=120)
    resumed.close()
    positions = [r["position"] for r in missed]
    assert positions[0] == got[-1]["position"] + 1 and positions == sorted(positions)
    assert sorted(r["key"] for r in missed if r["event"] == "ObjectVersion.Created") == keys
    assert [r["subject"] for r in missed if r["event"] == "User.Created"] == ["late-user"]
    url, hdrs = signed(srv, "GET", "/minio/chronicle/v1/events/consumers/app-1")
    assert requests.get(url, headers=hdrs, timeout=30).json()["position"] == got[-1]["position"], "no auto-commit"


def test_a_subscriber_sees_only_what_it_may(server_factory, tmp_path):
    srv = server_factory("sqlite")
    s3 = srv.client()
    mine, theirs = unique_bucket_name("mine"), unique_bucket_name("theirs")
    for b in (mine, theirs):
        s3.create_bucket(Bucket=b)
    admin = MinioAdmin(endpoint=srv.address, credentials=StaticProvider(srv.access_key, srv.secret_key), secure=False)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:ListenBucketNotification"], "Resource": [f"arn:aws:s3:::{mine}"]}
        ],
    }
    admin.policy_add("listen-mine", policy=policy)
    admin.user_add("listener", "listener-secret-1")
    admin.policy_set("listen-mine", user="listener")
    s3.put_object(Bucket=mine, Key="visible", Body=b"1")
    s3.put_object(Bucket=theirs, Key="hidden", Body=b"2")
    admin.user_add("another-user", "another-secret-1")
    s3.put_object(Bucket=mine, Key="visible-2", Body=b"3")

    stream = Stream(srv, "from=beginning", key="listener", secret="listener-secret-1")
    seen = stream.records(3)
    assert [(r["bucket"], r.get("key")) for r in seen] == [(mine, None), (mine, "visible"), (mine, "visible-2")]
    assert stream.quiet(1.5) == [], "nothing of the other bucket, no IAM event"
    stream.close()
    # Root sees IAM events too.
    everything = Stream(srv, "from=beginning&kind=iam")
    assert "another-user" in [r.get("subject") for r in everything.records(4)]
    everything.close()
    # Another user cannot take over a consumer, or commit for it.
    Stream(srv, "consumer=owned&from=now", key="listener", secret="listener-secret-1").close()
    url, hdrs = signed(
        srv, "PUT", "/minio/chronicle/v1/events/consumers/owned?position=1", "another-user", "another-secret-1"
    )
    assert requests.put(url, headers=hdrs, timeout=30).status_code == 403


def test_bad_requests_get_s3_errors(server):
    srv = server
    for query, status, code in (
        ("kind=objects", 400, "InvalidArgument"),
        ("from=yesterday", 400, "InvalidArgument"),
        ("consumer=" + quote("bad name!"), 400, "InvalidArgument"),
        ("ping=0", 400, "InvalidArgument"),
    ):
        url, hdrs = signed(srv, "GET", f"/minio/chronicle/v1/events?{query}")
        res = requests.get(url, headers=hdrs, timeout=30)
        assert (res.status_code, f"<Code>{code}</Code>" in res.text) == (status, True), (query, res.text)
    unsigned = requests.get(f"{srv.endpoint}/minio/chronicle/v1/events", timeout=30)
    assert unsigned.status_code == 403 and "<Code>AccessDenied</Code>" in unsigned.text
    url, hdrs = signed(srv, "GET", "/minio/chronicle/v1/events", secret="not-the-secret")
    assert requests.get(url, headers=hdrs, timeout=30).status_code == 403


def test_a_subscriber_that_leaves_is_let_go_and_stopping_the_server_ends_the_streams(server_factory):
    srv = server_factory("sqlite", env={"CHRONICLE_PROMETHEUS_AUTH_TYPE": "public"})

    def waiting() -> float:
        return scrape(srv.endpoint).value("chronicle_event_stream_waiting_subscribers")

    def wait_for(predicate, what: str, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, what
            time.sleep(0.05)

    srv.client().create_bucket(Bucket=unique_bucket_name("leave"))
    # ping=600: no keep-alive write is what notices that the subscriber left. (A stream's
    # headers come with its first line: the bucket's record.)
    leaving = Stream(srv, "from=beginning&ping=600")
    leaving.records(1)
    wait_for(lambda: waiting() == 1, "the subscriber waiting")
    leaving.close()
    wait_for(lambda: waiting() == 0, "the subscriber that left let go")

    staying = Stream(srv, "from=beginning&ping=600")
    staying.records(1)
    wait_for(lambda: waiting() == 1, "the second subscriber waiting")
    os.killpg(srv.proc.pid, signal.SIGTERM)
    # It used to wait for the stream to end, which it never did.
    assert srv.proc.wait(timeout=10) in (0, -signal.SIGTERM), srv.stderr_text()[-3000:]
    staying.close()

"""The listen API (minio-py's listen_bucket_notification, and raw requests for our
``after=`` resume extension) and s3:ObjectAccessed events, which are recorded only while
someone subscribes to them."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import signal
import threading
import time
import urllib.parse

import pytest
import urllib3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from minio import Minio

from tests.conftest import unique_bucket_name

pytestmark = pytest.mark.timeout(60)


def minio_client(server) -> Minio:
    host = server.endpoint.split("://", 1)[1]
    return Minio(host, access_key=server.access_key, secret_key=server.secret_key, secure=False)


def listen_in_background(client: Minio, bucket: str, **kwargs) -> queue.Queue:
    """Records arriving on a minio-py listen stream, put on a queue by a daemon thread."""
    got: queue.Queue = queue.Queue()
    ready = threading.Event()

    def run() -> None:
        with client.listen_bucket_notification(bucket, **kwargs) as events:
            ready.set()
            try:
                for event in events:
                    for record in event.get("Records") or []:
                        got.put(record)
            except urllib3.exceptions.ProtocolError:
                pass  # the test is over and its server stopped mid-stream

    threading.Thread(target=run, daemon=True).start()
    assert ready.wait(10)
    time.sleep(0.3)  # the server registers the listener before it answers; be generous
    return got


def take(q: queue.Queue, n: int, timeout: float = 10.0) -> list[dict]:
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        out.append(q.get(timeout=max(0.01, deadline - time.monotonic())))
    return out


def signed_get(server, path_and_query: str) -> urllib3.BaseHTTPResponse:
    url = server.endpoint + path_and_query
    headers = {"X-Amz-Content-SHA256": hashlib.sha256(b"").hexdigest()}
    request = AWSRequest(method="GET", url=url, headers=headers)
    S3SigV4Auth(Credentials(server.access_key, server.secret_key), "s3", "us-east-1").add_auth(request)
    return urllib3.request("GET", url, headers=dict(request.headers), preload_content=False, timeout=10)


def lines_of(resp: urllib3.BaseHTTPResponse, n: int) -> list[dict]:
    """The first n record lines of a listen stream (keep-alives skipped)."""
    out: list[dict] = []
    buf = b""
    for chunk in resp.stream(4096):
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            doc = json.loads(line) if line.strip() else None
            if doc and doc.get("Records"):
                out.extend(doc["Records"])
        if len(out) >= n:
            resp.release_conn()
            return out[:n]
    return out


def test_listen_streams_created_removed_and_accessed_events_with_raw_keys(server, s3):
    bucket = unique_bucket_name("listen")
    s3.create_bucket(Bucket=bucket)
    got = listen_in_background(
        minio_client(server),
        bucket,
        prefix="photos/",
        events=("s3:ObjectCreated:*", "s3:ObjectRemoved:*", "s3:ObjectAccessed:*"),
    )
    s3.put_object(Bucket=bucket, Key="other/skip.txt", Body=b"x")  # outside the prefix
    s3.put_object(Bucket=bucket, Key="photos/a b+c.jpg", Body=b"hello", ContentType="image/jpeg")
    s3.get_object(Bucket=bucket, Key="photos/a b+c.jpg")["Body"].read()
    s3.head_object(Bucket=bucket, Key="photos/a b+c.jpg")
    s3.delete_object(Bucket=bucket, Key="photos/a b+c.jpg")
    records = take(got, 4)
    assert [r["eventName"] for r in records] == [
        "s3:ObjectCreated:Put",
        "s3:ObjectAccessed:Get",
        "s3:ObjectAccessed:Head",
        "s3:ObjectRemoved:Delete",
    ]
    assert {r["s3"]["object"]["key"] for r in records} == {"photos/a b+c.jpg"}  # raw, not escaped
    put, read = records[0], records[1]
    assert put["eventSource"] == "minio:s3" and put["s3"]["bucket"]["name"] == bucket
    assert put["s3"]["object"]["size"] == 5 and put["s3"]["object"]["contentType"] == "image/jpeg"
    assert read["s3"]["object"]["eTag"] == hashlib.md5(b"hello").hexdigest()
    sequencers = [int(r["s3"]["object"]["sequencer"], 16) for r in records]
    assert sequencers == sorted(sequencers)
    assert got.empty()


def test_reads_are_recorded_only_while_someone_subscribes(server_factory):
    """No rule and no listener: a GET appends nothing to the log. While a listener for
    another bucket is connected, reads here still append nothing; once one listens here,
    they do; after it leaves, they stop again."""
    from projections.eventstore.recorder import open_store

    srv = server_factory("sqlite")
    s3 = srv.client()
    bucket, other = unique_bucket_name("quiet"), unique_bucket_name("loud")
    for name in (bucket, other):
        s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    app = open_store(None, srv.data_dir, create_table=False)

    def reads_append() -> bool:
        head = app.store.max_notification_id()
        s3.get_object(Bucket=bucket, Key="k")["Body"].read()
        s3.head_object(Bucket=bucket, Key="k")
        return app.store.max_notification_id() != head

    try:
        assert not reads_append()
        elsewhere = signed_get(srv, f"/{other}?events=s3%3AObjectAccessed%3A%2A")
        assert not reads_append()
        here = signed_get(srv, f"/{bucket}?events=s3%3AObjectAccessed%3AGet")
        assert reads_append()
        for resp in (elsewhere, here):
            resp.release_conn()
            resp.connection and resp.connection.close()
        deadline = time.monotonic() + 10
        while reads_append():
            assert time.monotonic() < deadline, "reads are still recorded after the listener left"
            time.sleep(0.2)
    finally:
        app.close()


def test_resume_after_a_position_replays_what_was_missed(server, s3):
    bucket = unique_bucket_name("resume")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="first", Body=b"1")
    query = "events=" + urllib.parse.quote("s3:ObjectCreated:*", safe="")
    live = signed_get(server, f"/{bucket}?{query}")
    assert live.status == 200 and int(live.headers["x-chronicle-position"]) > 0
    s3.put_object(Bucket=bucket, Key="second", Body=b"2")
    first_seen = lines_of(live, 1)[0]
    assert first_seen["s3"]["object"]["key"] == "second"
    # The subscriber was away while these happened; it resumes after what it last saw.
    s3.put_object(Bucket=bucket, Key="third", Body=b"3")
    s3.put_object(Bucket=bucket, Key="fourth", Body=b"4")
    resumed = signed_get(server, f"/{bucket}?{query}&after={first_seen['s3']['object']['sequencer']}")
    assert [r["s3"]["object"]["key"] for r in lines_of(resumed, 2)] == ["third", "fourth"]
    # From the start of the log, history comes first, including what preceded any listener.
    replay = signed_get(server, f"/{bucket}?{query}&after=0")
    assert [r["s3"]["object"]["key"] for r in lines_of(replay, 4)] == ["first", "second", "third", "fourth"]


def test_listen_rejects_bad_events_and_unknown_buckets(server, s3):
    bucket = unique_bucket_name("badlisten")
    s3.create_bucket(Bucket=bucket)
    bad = signed_get(server, f"/{bucket}?events=s3%3ANoSuchEvent")
    assert bad.status == 400 and b"<Code>InvalidArgument</Code>" in bad.read()
    missing = signed_get(server, f"/{bucket}-nope?events=s3%3AObjectCreated%3A%2A")
    assert missing.status == 404 and b"<Code>NoSuchBucket</Code>" in missing.read()
    after = signed_get(server, f"/{bucket}?events=s3%3AObjectCreated%3A%2A&after=soon")
    assert after.status == 400


def test_stopping_the_server_ends_the_listen_streams(server_factory):
    """SIGTERM with a listener connected: the server ends the stream and exits (it used to
    wait for the stream to end, which it never did while the listener stayed)."""
    srv = server_factory("sqlite")
    bucket = unique_bucket_name("stop")
    srv.client().create_bucket(Bucket=bucket)
    listening = signed_get(srv, f"/{bucket}?events=s3%3AObjectCreated%3A%2A&ping=600")
    assert listening.status == 200
    os.killpg(srv.proc.pid, signal.SIGTERM)
    assert srv.proc.wait(timeout=10) in (0, -signal.SIGTERM), srv.stderr_text()[-3000:]
    listening.release_conn()

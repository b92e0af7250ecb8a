"""The Prometheus endpoint as an operator's dashboard reads it: MinIO's v2 request metrics
(names, labels, types as MinIO exports them), Chronicle's request-duration and event-store
figures, the process metrics, and a bearer token generated without any warning."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import http.client
import json
import os
import subprocess
import time
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from tests.conftest import unique_bucket_name
from tests.helpers.prometheus import Exposition, parse, scrape
from tests.helpers.server import REPO_ROOT, chronicle_command, s3_client

pytestmark = pytest.mark.timeout(180)

PUBLIC = {"CHRONICLE_PROMETHEUS_AUTH_TYPE": "public"}
TTFB_LE = ["0.050", "0.100", "0.250", "0.500", "1.000", "2.500", "5.000", "10.000", "+Inf"]
# MinIO's v2 cluster metrics: name -> type (cmd/metrics-v2.go).
MINIO_TYPES = {
    "minio_s3_requests_total": "counter",
    "minio_s3_requests_errors_total": "counter",
    "minio_s3_requests_4xx_errors_total": "counter",
    "minio_s3_requests_inflight_total": "gauge",
    "minio_s3_requests_ttfb_seconds_distribution": "gauge",
    "minio_s3_traffic_received_bytes": "counter",
    "minio_s3_traffic_sent_bytes": "counter",
    "minio_notify_events_sent_total": "counter",
    "minio_notify_events_errors_total": "counter",
}


def start(server_factory, backend: str, request, **kwargs):
    if backend == "postgres":
        return server_factory(backend, database_url=request.getfixturevalue("pg_url"), **kwargs)
    return server_factory(backend, **kwargs)


def wait_for(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_s3_requests_are_counted_by_minio_api_name_with_minio_names_labels_and_types(server_factory, backend, request):
    srv = start(server_factory, backend, request, env=PUBLIC)
    s3 = srv.client()
    bucket = unique_bucket_name("metrics")
    s3.create_bucket(Bucket=bucket)
    bodies = [os.urandom(100_000 + i) for i in range(3)]
    for i, body in enumerate(bodies):
        s3.put_object(Bucket=bucket, Key=f"k{i}", Body=body)
    got = [s3.get_object(Bucket=bucket, Key=f"k{i}")["Body"].read() for i in range(2)]
    assert got == bodies[:2]
    with pytest.raises(ClientError):
        s3.get_object(Bucket=bucket, Key="missing")  # 404
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="missing")  # 404
    intruder = s3_client(dataclasses.replace(srv, secret_key="not-the-secret"))
    with pytest.raises(ClientError) as denied:
        intruder.put_object(Bucket=bucket, Key="k9", Body=b"0123456789")  # 403
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    s3.list_objects_v2(Bucket=bucket)

    m = scrape(srv.endpoint)
    server = f"127.0.0.1:{srv.port}"
    for name, kind in MINIO_TYPES.items():
        assert m.types.get(name) == kind, name
    for name in m.types:
        assert not name.endswith("_total_total"), name
    requests = {labels["api"]: v for labels, v in m.find("minio_s3_requests_total")}
    assert requests == {
        "putbucket": 1,
        "putobject": 4,
        "getobject": 3,
        "headobject": 1,
        "listobjectsv2": 1,
    }
    for family in (
        "minio_s3_requests_total",
        "minio_s3_requests_inflight_total",
        "minio_s3_requests_4xx_errors_total",
    ):
        for labels, _ in m.find(family):
            assert set(labels) == {"api", "server"} and labels["server"] == server
    assert m.value("minio_s3_requests_errors_total", api="getobject") == 1
    assert m.value("minio_s3_requests_4xx_errors_total", api="getobject") == 1
    assert m.value("minio_s3_requests_4xx_errors_total", api="headobject") == 1
    assert m.value("minio_s3_requests_4xx_errors_total", api="putobject") == 1
    assert m.value("minio_s3_requests_errors_total", api="putbucket") == 0
    assert m.find("minio_s3_requests_5xx_errors_total") == []
    assert {labels["api"]: v for labels, v in m.find("minio_s3_requests_inflight_total")} == dict.fromkeys(requests, 0)

    # MinIO's TTFB distribution: a gauge per `le` (cumulative), no _sum or _count.
    ttfb = m.find("minio_s3_requests_ttfb_seconds_distribution", api="putobject")
    assert [labels["le"] for labels, _ in ttfb] == TTFB_LE
    assert all(set(labels) == {"api", "le", "server"} for labels, _ in ttfb)
    counts = [v for _, v in ttfb]
    assert counts == sorted(counts) and counts[-1] == 4
    assert m.value("minio_s3_requests_ttfb_seconds_distribution", api="getobject", le="+Inf") == 3

    assert m.types["chronicle_s3_request_duration_seconds"] == "histogram"
    assert m.value("chronicle_s3_request_duration_seconds_count", api="putobject") == 4
    assert m.value("chronicle_s3_request_duration_seconds_count", api="listobjectsv2") == 1
    assert m.value("chronicle_s3_request_duration_seconds_sum", api="putobject") > 0
    buckets = [v for _, v in m.find("chronicle_s3_request_duration_seconds_bucket", api="getobject")]
    assert buckets == sorted(buckets) and buckets[-1] == 3

    # Body bytes, as MinIO counts them: what was read from requests, written in responses.
    put_bytes = sum(map(len, bodies))
    received = m.value("minio_s3_traffic_received_bytes", server=server)
    assert put_bytes <= received <= put_bytes + 10  # the refused PUT's 10 bytes, drained
    sent = m.value("minio_s3_traffic_sent_bytes", server=server)
    assert sum(map(len, got)) < sent < sum(map(len, got)) + 16_384  # plus XML bodies

    # The scrape is not an S3 call, and it answered while no S3 request was in flight.
    again = scrape(srv.endpoint)
    assert {labels["api"]: v for labels, v in again.find("minio_s3_requests_total")} == requests

    for name, kind in {
        "process_cpu_seconds_total": "counter",
        "process_resident_memory_bytes": "gauge",
        "process_open_fds": "gauge",
        "python_gc_collections_total": "counter",
        "python_info": "gauge",
    }.items():
        assert m.types.get(name) == kind, name
    assert m.value("process_resident_memory_bytes") > 0


def test_a_request_is_in_flight_until_its_response_is_sent(server_factory):
    srv = server_factory("sqlite", env=PUBLIC)
    s3 = srv.client()
    bucket = unique_bucket_name("inflight")
    s3.create_bucket(Bucket=bucket)
    url = urlsplit(s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "slow"}))
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    try:
        conn.putrequest("PUT", f"{url.path}?{url.query}", skip_accept_encoding=True)
        conn.putheader("Content-Length", "1000")
        conn.endheaders(b"x" * 10)  # the rest of the body comes later

        def in_flight() -> float:
            return scrape(srv.endpoint).value("minio_s3_requests_inflight_total", api="putobject")

        wait_for(lambda: in_flight() == 1, what="the PUT to be in flight")
        conn.send(b"x" * 990)
        assert conn.getresponse().status == 200
    finally:
        conn.close()
    m = scrape(srv.endpoint)
    assert m.value("minio_s3_requests_inflight_total", api="putobject") == 0
    assert m.value("minio_s3_requests_total", api="putobject") == 1
    assert m.value("minio_s3_traffic_received_bytes") == 1000


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_event_store_metrics_move_with_writes_and_show_a_follower_that_is_behind(server_factory, backend, request):
    # No follower runs here: everything appended is lag.
    srv = start(server_factory, backend, request, env=PUBLIC, extra_args=["--no-delivery"])
    s3 = srv.client()
    bucket = unique_bucket_name("store")
    s3.create_bucket(Bucket=bucket)
    before = scrape(srv.endpoint)
    for i in range(5):
        s3.put_object(Bucket=bucket, Key=f"k{i}", Body=b"x" * i)
    after = scrape(srv.endpoint)

    def delta(name: str) -> float:
        return after.value(name) - before.value(name)

    assert after.types["chronicle_eventstore_append_seconds"] == "histogram"
    assert after.types["chronicle_eventstore_append_batch_size"] == "histogram"
    assert after.types["chronicle_eventstore_head_position"] == "gauge"
    assert delta("chronicle_eventstore_append_seconds_count") == 5
    assert delta("chronicle_eventstore_append_seconds_sum") > 0
    assert delta("chronicle_eventstore_append_batch_size_sum") == 5  # changes appended
    assert 1 <= delta("chronicle_eventstore_append_batch_size_count") <= 5
    assert delta("chronicle_eventstore_head_position") >= 5
    head = after.value("chronicle_eventstore_head_position")
    assert after.value("chronicle_notify_follower_position") == 0
    assert after.value("chronicle_notify_follower_lag_events") == head
    lag = after.value("chronicle_notify_follower_lag_seconds")
    assert lag > 0
    wait_for(
        lambda: scrape(srv.endpoint).value("chronicle_notify_follower_lag_seconds") > lag,
        what="lag to grow",
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_follower_lag_returns_to_zero_once_the_follower_caught_up(server_factory, backend, request):
    srv = start(server_factory, backend, request, env=PUBLIC)
    s3 = srv.client()
    bucket = unique_bucket_name("follow")
    s3.create_bucket(Bucket=bucket)
    for i in range(3):
        s3.put_object(Bucket=bucket, Key=f"k{i}", Body=b"x")

    def caught_up() -> Exposition | None:
        m = scrape(srv.endpoint)
        return m if m.value("chronicle_notify_follower_lag_events") == 0 else None

    m = wait_for(caught_up, what="the follower to catch up")
    assert m.value("chronicle_notify_follower_position") == m.value("chronicle_eventstore_head_position") > 0
    assert m.value("chronicle_notify_follower_lag_seconds") == 0


def test_generated_token_prints_no_warning_and_tokens_signed_as_mc_does_still_verify(
    server_factory,
):
    srv = server_factory("sqlite", secret_key="short-secret")  # 12 bytes: PyJWT would warn
    env = dict(srv.env)
    env.update(
        CHRONICLE_ADMIN_ENDPOINT=srv.endpoint,
        CHRONICLE_ADMIN_ACCESS_KEY=srv.access_key,
        CHRONICLE_ADMIN_SECRET_KEY=srv.secret_key,
        PYTHONWARNINGS="always",
    )
    generated = subprocess.run(
        chronicle_command("admin", "prometheus", "generate"),
        cwd=str(REPO_ROOT),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert generated.returncode == 0, generated.stderr
    assert generated.stderr == ""
    token = generated.stdout.split("bearer_token:", 1)[1].split()[0]
    assert scrape(srv.endpoint, token).types["minio_notify_events_sent_total"] == "counter"

    # `mc admin prometheus generate` (madmin-go): HS512 over the bare secret key.
    mc_token = _hs512_jwt({"exp": int(time.time()) + 3600, "sub": srv.access_key, "iss": "prometheus"}, srv.secret_key)
    assert scrape(srv.endpoint, mc_token).types["process_cpu_seconds_total"] == "counter"
    forged = _hs512_jwt({"exp": int(time.time()) + 3600, "sub": srv.access_key, "iss": "prometheus"}, "wrong")
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    conn.request("GET", "/minio/v2/metrics/cluster", headers={"Authorization": f"Bearer {forged}"})
    assert conn.getresponse().status == 403
    conn.close()
    assert "InsecureKeyLengthWarning" not in srv.stderr_text()  # nor when verifying


def _hs512_jwt(claims: dict, secret: str) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = b64(b'{"alg":"HS512","typ":"JWT"}') + "." + b64(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha512).digest()
    return signing_input + "." + b64(signature)


def test_workers_of_one_server_report_the_same_totals(server_factory, pg_url):
    """`serve --workers 2`: whichever worker answers a scrape reports the server's totals."""
    srv = server_factory("postgres", database_url=pg_url, env=PUBLIC, extra_args=["--workers", "2"])
    s3 = srv.client()
    bucket = unique_bucket_name("workers")
    s3.create_bucket(Bucket=bucket)
    for i in range(6):
        s3.put_object(Bucket=bucket, Key=f"k{i}", Body=b"x" * 1000)

    # Connections held open spread over the workers (see cli/acceptor.py): scrape on fresh
    # ones, keeping them open, until both workers have answered.
    held: list[http.client.HTTPConnection] = []
    answered: dict[str, Exposition] = {}
    try:
        deadline = time.monotonic() + 60
        while len(answered) < 2:
            assert time.monotonic() < deadline, f"only workers {sorted(answered)} answered"
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
            held.append(conn)
            conn.request("GET", "/minio/v2/metrics/cluster")
            resp = conn.getresponse()
            assert resp.status == 200
            m = parse(resp.read().decode())
            (worker,) = {labels["worker"] for labels, _ in m.find("python_gc_collections_total")}
            answered[worker] = m
    finally:
        for conn in held:
            conn.close()
    for m in answered.values():
        assert m.value("minio_s3_requests_total", api="putobject") == 6
        assert m.value("minio_s3_traffic_received_bytes") == 6000
        assert m.value("chronicle_eventstore_append_seconds_count") >= 7
        assert {labels["worker"] for labels, _ in m.find("process_cpu_seconds_total")} == {"0", "1"}

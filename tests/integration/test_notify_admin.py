"""Operating notification delivery: `chronicle admin targets` (state, checkpoint, lag,
errors), the Prometheus metrics, and `chronicle admin targets replay` backfills."""

from __future__ import annotations

import json
import subprocess
import time
import uuid

import pytest
import urllib3

from tests.conftest import unique_bucket_name
from tests.helpers.prometheus import scrape
from tests.helpers.server import REPO_ROOT, chronicle_command
from tests.helpers.services import REDIS_URL, service_missing

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def redis_keys():
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except Exception as e:  # noqa: BLE001
        service_missing(f"Redis at {REDIS_URL}", e)
    keys = {"ns": f"chronicle-test-ns-{uuid.uuid4().hex[:8]}", "acc": f"chronicle-test-acc-{uuid.uuid4().hex[:8]}"}
    yield client, keys
    client.delete(*keys.values())


def target_env(keys: dict[str, str]) -> dict[str, str]:
    host = REDIS_URL.split("://", 1)[1].split("/", 1)[0]
    return {
        "CHRONICLE_NOTIFY_REDIS_ENABLE_1": "on",
        "CHRONICLE_NOTIFY_REDIS_ADDRESS_1": host,
        "CHRONICLE_NOTIFY_REDIS_KEY_1": keys["ns"],
        "CHRONICLE_NOTIFY_REDIS_FORMAT_1": "namespace",
        "CHRONICLE_NOTIFY_REDIS_ENABLE_2": "on",
        "CHRONICLE_NOTIFY_REDIS_ADDRESS_2": host,
        "CHRONICLE_NOTIFY_REDIS_KEY_2": keys["acc"],
        "CHRONICLE_NOTIFY_REDIS_FORMAT_2": "access",
        "CHRONICLE_NOTIFY_REDIS_KEY_ENCODING_2": "aws",  # keys keep their "/"
        # A webhook nobody listens on: its records pile up.
        "CHRONICLE_NOTIFY_WEBHOOK_ENABLE_9": "on",
        "CHRONICLE_NOTIFY_WEBHOOK_ENDPOINT_9": "http://127.0.0.1:9/events",
    }


def rules(s3, bucket: str, arns: list[str]) -> None:
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]} for arn in arns]
        },
    )


def cli(srv, *args: str) -> subprocess.CompletedProcess:
    env = dict(srv.env)
    env.update(
        CHRONICLE_ADMIN_ENDPOINT=srv.endpoint,
        CHRONICLE_ADMIN_ACCESS_KEY=srv.access_key,
        CHRONICLE_ADMIN_SECRET_KEY=srv.secret_key,
    )
    return subprocess.run(
        chronicle_command(*args), cwd=str(REPO_ROOT), env=env, capture_output=True, text=True, timeout=60
    )


def states(srv) -> dict[str, dict]:
    res = cli(srv, "admin", "targets", "--json")
    assert res.returncode == 0, res.stderr
    return {s["target"]: s for s in json.loads(res.stdout)}


def wait_for(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_targets_show_checkpoints_lag_and_errors_and_metrics_export_them(server_factory, redis_keys):
    client, keys = redis_keys
    srv = server_factory("sqlite", env=target_env(keys))
    s3 = srv.client()
    bucket = unique_bucket_name("ops")
    s3.create_bucket(Bucket=bucket)
    rules(s3, bucket, ["arn:minio:sqs::1:redis", "arn:minio:sqs::9:webhook"])
    for i in range(3):
        s3.put_object(Bucket=bucket, Key=f"k{i}", Body=b"x")
    wait_for(lambda: client.hlen(keys["ns"]) == 3)

    def settled():
        st = states(srv)
        ok = st["notify_redis:1"]["delivered"] == 3 and st["notify_webhook:9"]["failed"] > 0
        return st if ok else None

    st = wait_for(settled)
    redis_state, hook = st["notify_redis:1"], st["notify_webhook:9"]
    assert redis_state["state"] == "ok" and redis_state["lag_events"] == 0
    assert redis_state["checkpoint"] == redis_state["head"] > 0
    assert redis_state["arn"] == "arn:minio:sqs::1:redis"
    assert hook["state"] == "failing" and hook["lag_events"] == 3 and hook["checkpoint"] == 0
    assert hook["last_error"] and hook["lag_seconds"] >= 0
    table = cli(srv, "admin", "targets")
    assert table.returncode == 0 and "notify_webhook:9" in table.stdout and "failing" in table.stdout

    url = srv.endpoint + "/minio/v2/metrics/cluster"
    assert urllib3.request("GET", url).status == 403  # no credentials
    generated = cli(srv, "admin", "prometheus", "generate")
    assert generated.returncode == 0, generated.stderr
    token = generated.stdout.split("bearer_token:", 1)[1].split()[0]
    m = scrape(srv.endpoint, token)
    # MinIO's names and types exactly (no "_total" appended to its counters).
    assert m.types["minio_notify_target_total_events"] == "counter"
    assert m.types["minio_notify_target_failed_events"] == "counter"
    assert m.types["minio_notify_target_queue_length"] == "gauge"
    assert not [name for name in m.family_of if name.endswith("_total_total")]
    server = f"127.0.0.1:{srv.port}"
    redis, webhook = {"target_id": "1", "target_name": "redis"}, {"target_id": "9", "target_name": "webhook"}
    assert m.find("minio_notify_target_total_events", **redis) == [({**redis, "server": server}, 3.0)]
    assert m.value("minio_notify_target_queue_length", **webhook) == 3
    assert m.value("minio_notify_target_failed_events", **webhook) > 0
    assert m.value("chronicle_notify_target_up", **webhook) == 0
    forged = urllib3.request("GET", url, headers={"Authorization": f"Bearer {token[:-4]}AAAA"})
    assert forged.status == 403


def test_replay_backfills_history_with_recorded_or_current_rules(server_factory, redis_keys):
    client, keys = redis_keys
    srv = server_factory("sqlite", env=target_env(keys))
    s3 = srv.client()
    bucket, other = unique_bucket_name("bf"), unique_bucket_name("bf-other")
    for name in (bucket, other):
        s3.create_bucket(Bucket=name)
    rules(s3, bucket, ["arn:minio:sqs::1:redis"])  # target 2 is not subscribed yet
    for i in range(4):
        s3.put_object(Bucket=bucket, Key=f"old/{i}", Body=b"x")
    s3.put_object(Bucket=other, Key="elsewhere", Body=b"x")
    wait_for(lambda: client.hlen(keys["ns"]) == 4)
    assert client.llen(keys["acc"]) == 0

    # A new downstream system: subscribe it now and feed it what happened before.
    rules(s3, bucket, ["arn:minio:sqs::1:redis", "arn:minio:sqs::2:redis"])
    res = cli(
        srv,
        "admin",
        "targets",
        "replay",
        "notify_redis:2",
        "--from",
        "1",
        "--rules",
        "current",
        "--bucket",
        bucket,
        "--data-dir",
        str(srv.data_dir),
    )
    assert res.returncode == 0, res.stderr
    assert "replayed 4 events" in res.stdout and "100.0%" in res.stderr
    entries = [json.loads(e) for e in client.lrange(keys["acc"], 0, -1)]
    assert [e[0]["Event"][0]["s3"]["object"]["key"] for e in entries] == [f"old/{i}" for i in range(4)]
    # ... and, live, target 1 (MinIO's default escaping) wrote them with %2F.
    record = json.loads(client.hget(keys["ns"], f"{bucket}/old/0"))
    assert record["Records"][0]["s3"]["object"]["key"] == "old%2F0"

    # Recorded rules: what target 1 was sent, again, filtered by prefix and events.
    s3.put_object(Bucket=bucket, Key="new/x", Body=b"y")
    wait_for(lambda: client.hlen(keys["ns"]) == 5)
    client.delete(keys["ns"])
    res = cli(
        srv,
        "admin",
        "targets",
        "replay",
        "notify_redis:1",
        "--from",
        "1",
        "--prefix",
        "old/",
        "--events",
        "s3:ObjectCreated:Put",
        "--data-dir",
        str(srv.data_dir),
        "--json",
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["sent"] == 4
    assert sorted(client.hkeys(keys["ns"])) == [f"{bucket}/old/{i}".encode() for i in range(4)]

    bad = cli(srv, "admin", "targets", "replay", "notify_redis:7", "--data-dir", str(srv.data_dir))
    assert bad.returncode == 1 and "no target notify_redis:7" in bad.stderr
    worse = cli(
        srv, "admin", "targets", "replay", "notify_redis:1", "--from", "yesterday-ish", "--data-dir", str(srv.data_dir)
    )
    assert worse.returncode == 2 and "--from" in worse.stderr

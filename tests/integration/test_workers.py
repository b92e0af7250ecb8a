"""`chronicle serve --workers N` (PostgreSQL): processes sharing one port see each other's
writes at once, and all of them stop with the server."""

from __future__ import annotations

import json
import os
import signal
import time


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().split(")")[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return out


def test_workers_share_the_port_and_see_each_others_writes(server_factory, pg_url):
    srv = server_factory("postgres", database_url=pg_url, extra_args=["--workers", "2"])
    workers = _children(srv.proc.pid)
    assert workers, "expected a forked worker process"
    # A fresh connection per request spreads requests over the workers.
    s3 = srv.client()
    s3.create_bucket(Bucket="shared")
    for i in range(20):
        fresh = srv.client()
        fresh.put_object(Bucket="shared", Key=f"k{i}", Body=str(i).encode())
        assert srv.client().get_object(Bucket="shared", Key=f"k{i}")["Body"].read() == str(i).encode()
    assert s3.list_objects_v2(Bucket="shared")["KeyCount"] == 20
    os.kill(srv.proc.pid, signal.SIGTERM)
    srv.proc.wait(timeout=15)
    deadline = time.time() + 10
    while time.time() < deadline and any(_running(w) for w in workers):
        time.sleep(0.1)
    assert not any(_running(w) for w in workers)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[1].split()[0] != "Z"
    except OSError:
        return False


def test_writes_on_every_worker_are_notified_once(server_factory, pg_url):
    """One delivery supervisor per node: PUTs taken by any worker reach the target, once."""
    from tests.helpers.notify import redis_address, redis_client, uid, wait_until

    key = f"workers-{uid()}"
    env = {
        "CHRONICLE_NOTIFY_REDIS_ENABLE_1": "on",
        "CHRONICLE_NOTIFY_REDIS_ADDRESS_1": redis_address(),
        "CHRONICLE_NOTIFY_REDIS_KEY_1": key,
        "CHRONICLE_NOTIFY_REDIS_FORMAT_1": "access",
    }
    srv = server_factory("postgres", database_url=pg_url, env=env, extra_args=["--workers", "2"])
    s3 = srv.client()
    s3.create_bucket(Bucket="told")
    s3.put_bucket_notification_configuration(
        Bucket="told",
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": "arn:minio:sqs::1:redis", "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    redis = redis_client()
    try:
        for i in range(20):  # a fresh connection per request spreads them over the workers
            srv.client().put_object(Bucket="told", Key=f"k{i}", Body=b"x")

        def delivered() -> list[str] | None:
            keys = []
            for raw in redis.lrange(key, 0, -1):
                for entry in json.loads(raw):
                    keys.extend(r["s3"]["object"]["key"] for r in entry["Event"])
            return keys if len(keys) >= 20 else None

        keys = wait_until(delivered, what="20 records")
        time.sleep(0.5)  # nothing more arrives: each write was delivered once
        assert sorted(delivered() or []) == sorted(f"k{i}" for i in range(20))
    finally:
        redis.delete(key)
    assert sorted(keys) == sorted(f"k{i}" for i in range(20))

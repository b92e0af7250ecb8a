"""Delivery survives its faults: for each, ~2,000 writes happen while the target (or the
worker, or the server) is down; once it is back every event arrives, in log order, none
lost, re-sent only from where delivery resumed.

- webhook: the receiver process is SIGKILLed and started again on the same port;
- AMQP: a TCP proxy in front of the shared RabbitMQ is killed and restarted (starting a
  private RabbitMQ node takes ~18 s on this machine, twice per test: too slow);
- Redis: the target's ACL user loses its password (and its connections) and gets it back;
- `chronicle worker` (PostgreSQL, server --no-delivery) is SIGKILLed mid-batch and rerun;
- the embedded server (SQLite) is SIGKILLed between the writes and their delivery;
- two `chronicle worker` processes: one delivers, the other takes over when it is killed;
  likewise for the follower that turns the log into the views.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import unique_bucket_name
from tests.helpers.notify import (
    TCPProxy,
    WebhookProcess,
    amqp_channel,
    amqp_drain,
    redis_address,
    redis_client,
    uid,
    wait_until,
)
from tests.helpers.server import REPO_ROOT, chronicle_command
from tests.helpers.services import AMQP_URL, pg_connect

# A guard against hangs only. Each test starts a database, a server, workers and a receiver
# and writes ~2,000 objects: on a loaded 2-core machine the writes alone took up to 60 s and
# the follower fail-over test up to 118 s in all, so a 120 s limit failed it while every
# fail-over had completed in 1-2 s. The checks are the condition waits (wait_all: every
# event delivered within 60 s of the last write).
pytestmark = pytest.mark.timeout(600)

WRITES = 2000
FAST_RETRY = {"CHRONICLE_NOTIFY_BACKOFF_MAX": "1"}  # a target that is back is retried within 1 s


def rules(arn: str) -> dict:
    return {"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}]}


def bucket_with_rule(client, arn: str) -> str:
    b = unique_bucket_name("fault")
    client.create_bucket(Bucket=b)
    client.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration=rules(arn))
    return b


def put_many(client, bucket: str, keys: list[str], threads: int = 16) -> None:
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda k: client.put_object(Bucket=bucket, Key=k, Body=b"x"), keys))


def keys(prefix: str, n: int) -> list[str]:
    return [f"{prefix}/{i:05d}" for i in range(n)]


def record_of(log: dict) -> tuple[int, str]:
    rec = log["Records"][0]
    return int(rec["s3"]["object"]["sequencer"], 16), log["Key"].split("/", 1)[1]


def from_logs(bodies: list[bytes], bucket: str) -> list[tuple[int, str]]:
    """(log position, key) of each delivered event.Log of BUCKET, in arrival order."""
    out = []
    for body in bodies:
        doc = json.loads(body)
        if doc["Key"].split("/", 1)[0] == bucket:
            out.append(record_of(doc))
    return out


def assert_lossless(arrivals: list[tuple[int, str]], written: list[str]) -> int:
    """Every written key arrived; in log order, except that delivery may rewind to where
    it resumes and re-send from there (never skip ahead). Returns the duplicate count."""
    seq_of: dict[str, int] = {}
    for seq, key in arrivals:
        assert seq_of.setdefault(key, seq) == seq, f"{key} arrived with two positions"
    missing = set(written) - set(seq_of)
    assert not missing, f"{len(missing)} events lost, e.g. {sorted(missing)[:5]}"
    assert set(seq_of) == set(written), "events of keys never written arrived"
    rank = {seq: i for i, seq in enumerate(sorted(seq_of.values()))}
    ranks = [rank[seq] for seq, _k in arrivals]
    assert ranks[0] == 0, "delivery did not start with the first event"
    rewinds = 0
    for prev, cur in zip(ranks, ranks[1:], strict=False):
        assert cur <= prev + 1, f"skipped from event #{prev} to #{cur}"
        if cur <= prev:
            rewinds += 1
    duplicates = len(arrivals) - len(seq_of)
    assert rewinds <= 3, f"{rewinds} rewinds: duplicates away from the resume boundaries"
    return duplicates


def wait_all(fetch, written: list[str], timeout: float = 60.0, what: str = "all events") -> list[tuple[int, str]]:
    want = set(written)

    def done():
        got = fetch()
        return want <= {k for _s, k in got} and got

    return wait_until(done, timeout, what)


# -- webhook --------------------------------------------------------------------------------


def test_webhook_receiver_killed_and_restarted(server_factory, tmp_path):
    hook = WebhookProcess(tmp_path).start()
    env = {
        "CHRONICLE_NOTIFY_WEBHOOK_ENABLE_1": "on",
        "CHRONICLE_NOTIFY_WEBHOOK_ENDPOINT_1": hook.url,
        **FAST_RETRY,
    }
    srv = server_factory("sqlite", env=env)
    c = srv.client(max_pool_connections=16)
    b = bucket_with_rule(c, "arn:minio:sqs::1:webhook")
    try:
        warm = keys("warm", 50)
        put_many(c, b, warm)
        wait_all(lambda: from_logs(hook.bodies(), b), warm)
        hook.kill()
        outage = keys("outage", WRITES)
        # Every write returns while the receiver is dead: a write that waited on delivery
        # would hang here (until the test's timeout). How fast they go is bench.notify's.
        put_many(c, b, outage)
        time.sleep(1)
        hook.start()
        got = wait_all(lambda: from_logs(hook.bodies(), b), warm + outage)
        assert_lossless(got, warm + outage)
    finally:
        hook.kill()


# -- AMQP (through a proxy we can kill) --------------------------------------------------------


def test_amqp_unreachable_then_back(server_factory, tmp_path):
    conn, ch = amqp_channel()
    exchange, queue = f"chronicle-fault-x-{uid()}", f"chronicle-fault-q-{uid()}"
    ch.exchange_declare(exchange, "direct", durable=True)
    ch.queue_declare(queue, durable=True)
    ch.queue_bind(queue, exchange, routing_key="minio")
    host = AMQP_URL.split("@", 1)[1].split("/", 1)[0]
    proxy = TCPProxy(host if ":" in host else host + ":5672").start()
    url = AMQP_URL.replace(host, f"127.0.0.1:{proxy.port}")
    env = {
        "CHRONICLE_NOTIFY_AMQP_ENABLE_1": "on",
        "CHRONICLE_NOTIFY_AMQP_URL_1": url,
        "CHRONICLE_NOTIFY_AMQP_EXCHANGE_1": exchange,
        "CHRONICLE_NOTIFY_AMQP_EXCHANGE_TYPE_1": "direct",
        "CHRONICLE_NOTIFY_AMQP_ROUTING_KEY_1": "minio",
        "CHRONICLE_NOTIFY_AMQP_DURABLE_1": "on",
        "CHRONICLE_NOTIFY_AMQP_DELIVERY_MODE_1": "2",
        **FAST_RETRY,
    }
    srv = server_factory("sqlite", env=env)
    c = srv.client(max_pool_connections=16)
    b = bucket_with_rule(c, "arn:minio:sqs::1:amqp")
    got: list[tuple[int, str]] = []

    def fetch():
        for props, body in amqp_drain(ch, queue):
            assert props.delivery_mode == 2
            got.extend(from_logs([body], b))
        return got

    try:
        warm = keys("warm", 50)
        put_many(c, b, warm)
        wait_all(fetch, warm)
        proxy.kill()
        outage = keys("outage", WRITES)
        put_many(c, b, outage)
        time.sleep(1)
        proxy.start()
        wait_all(fetch, warm + outage)
        assert_lossless(got, warm + outage)
    finally:
        proxy.kill()
        ch.queue_delete(queue)
        ch.exchange_delete(exchange)
        conn.close()


# -- Redis (password revoked) -------------------------------------------------------------------


def test_redis_password_revoked_then_restored(server_factory):
    admin = redis_client()
    user, password, key = f"chronicle-fault-{uid()}", uuid.uuid4().hex, f"chronicle-fault-{uid()}"
    admin.execute_command("ACL", "SETUSER", user, "on", f">{password}", "~*", "+@all")
    env = {
        "CHRONICLE_NOTIFY_REDIS_ENABLE_1": "on",
        "CHRONICLE_NOTIFY_REDIS_ADDRESS_1": redis_address(),
        "CHRONICLE_NOTIFY_REDIS_KEY_1": key,
        "CHRONICLE_NOTIFY_REDIS_FORMAT_1": "access",
        "CHRONICLE_NOTIFY_REDIS_USER_1": user,
        "CHRONICLE_NOTIFY_REDIS_PASSWORD_1": password,
        **FAST_RETRY,
    }
    srv = server_factory("sqlite", env=env)
    c = srv.client(max_pool_connections=16)
    b = bucket_with_rule(c, "arn:minio:sqs::1:redis")

    def fetch():
        out = []
        for raw in admin.lrange(key, 0, -1):
            rec = json.loads(raw)[0]["Event"][0]
            out.append(
                (
                    int(rec["s3"]["object"]["sequencer"], 16),
                    rec["s3"]["object"]["key"].replace("%2F", "/"),
                )
            )
        return out

    try:
        warm = keys("warm", 50)
        put_many(c, b, warm)
        wait_all(fetch, warm)
        admin.execute_command("ACL", "SETUSER", user, "resetpass", "off")
        admin.execute_command("CLIENT", "KILL", "USER", user)
        outage = keys("outage", WRITES)
        put_many(c, b, outage)
        time.sleep(1)
        assert admin.llen(key) == len(warm)
        admin.execute_command("ACL", "SETUSER", user, "on", f">{password}")
        got = wait_all(fetch, warm + outage)
        assert_lossless(got, warm + outage)
    finally:
        admin.execute_command("ACL", "DELUSER", user)
        admin.delete(key)
        admin.close()


# -- chronicle worker processes (PostgreSQL) ------------------------------------------------------


class Worker:
    """One `chronicle worker` process; APPNAME tags its PostgreSQL sessions."""

    def __init__(self, env: dict[str, str], log: Path, appname: str) -> None:
        self.proc = subprocess.Popen(
            chronicle_command("worker"),
            cwd=str(REPO_ROOT),
            env={**env, "PGAPPNAME": appname},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(log, "ab"),  # noqa: SIM115 - the child owns it
            start_new_session=True,
        )

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def pg_server_without_delivery(server_factory, pg_url, hook: WebhookProcess):
    env = {
        "CHRONICLE_NOTIFY_WEBHOOK_ENABLE_1": "on",
        "CHRONICLE_NOTIFY_WEBHOOK_ENDPOINT_1": hook.url,
        **FAST_RETRY,
    }
    return server_factory("postgres", database_url=pg_url, env=env, extra_args=["--no-delivery"])


def checkpoint(pg_url: str) -> int:
    with pg_connect(pg_url) as conn:
        row = conn.execute("SELECT position FROM notify_checkpoints WHERE target = 'notify_webhook:1'").fetchone()
        return int(row[0]) if row else 0


def test_worker_sigkilled_mid_batch(server_factory, pg_url, tmp_path):
    hook = WebhookProcess(tmp_path).start()
    srv = pg_server_without_delivery(server_factory, pg_url, hook)
    c = srv.client(max_pool_connections=16)
    b = bucket_with_rule(c, "arn:minio:sqs::1:webhook")
    written = keys("k", WRITES)
    put_many(c, b, written)
    worker = Worker(srv.env, tmp_path / "worker.log", "worker-1")
    try:
        # Batches are 1,000 records; stop it somewhere inside the first one.
        wait_until(lambda: len(hook.bodies()) >= 300, 60, "the first deliveries")
        worker.kill()
        delivered_before = len(hook.bodies())
        assert delivered_before < WRITES
        assert checkpoint(pg_url) < WRITES  # the killed batch was never acknowledged
        worker = Worker(srv.env, tmp_path / "worker.log", "worker-2")
        got = wait_all(lambda: from_logs(hook.bodies(), b), written)
        duplicates = assert_lossless(got, written)
        assert duplicates < 1000  # at most the batch that was in flight
    finally:
        worker.stop()
        hook.kill()


def lock_holder(pg_url: str) -> str | None:
    """application_name of the session holding the webhook target's delivery lock."""
    with pg_connect(pg_url) as conn:
        row = conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND a.datname = current_database()",
            (0x43484E54,),
        ).fetchone()
        return row[0] if row else None


def test_two_workers_one_delivers_and_the_other_takes_over(server_factory, pg_url, tmp_path):
    hook = WebhookProcess(tmp_path).start()
    srv = pg_server_without_delivery(server_factory, pg_url, hook)
    c = srv.client(max_pool_connections=16)
    b = bucket_with_rule(c, "arn:minio:sqs::1:webhook")
    workers = {name: Worker(srv.env, tmp_path / f"{name}.log", name) for name in ("worker-a", "worker-b")}
    try:
        first = keys("first", 500)
        put_many(c, b, first)
        got = wait_all(lambda: from_logs(hook.bodies(), b), first)
        time.sleep(1)  # a second deliverer would have duplicated by now
        assert len(from_logs(hook.bodies(), b)) == len(first), "two workers delivered the same target"
        assert assert_lossless(got, first) == 0
        active = wait_until(lambda: lock_holder(pg_url), 10, "the delivery lock")
        standby = next(n for n in workers if n != active)
        workers[active].kill()
        second = keys("second", WRITES)
        put_many(c, b, second)
        got = wait_all(lambda: from_logs(hook.bodies(), b), first + second)
        assert_lossless(got, first + second)
        assert lock_holder(pg_url) == standby
    finally:
        for w in workers.values():
            w.stop()
        hook.kill()


def follower_holder(pg_url: str) -> str | None:
    """application_name of the session holding the notification follower's lock (one
    bigint key: PostgreSQL shows its halves as classid and objid)."""
    from projections.notifications.follower import _FOLLOWER_LOCK

    with pg_connect(pg_url) as conn:
        row = conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.classid = %s "
            "AND l.objid = %s AND a.datname = current_database()",
            (_FOLLOWER_LOCK >> 32, _FOLLOWER_LOCK & 0xFFFFFFFF),
        ).fetchone()
        return row[0] if row else None


def test_the_follower_moves_to_the_other_worker_when_its_own_dies(server_factory, pg_url, tmp_path):
    hook = WebhookProcess(tmp_path).start()
    srv = pg_server_without_delivery(server_factory, pg_url, hook)
    c = srv.client(max_pool_connections=16)
    b = bucket_with_rule(c, "arn:minio:sqs::1:webhook")
    workers = {name: Worker(srv.env, tmp_path / f"{name}.log", name) for name in ("worker-a", "worker-b")}
    try:
        first = keys("first", 200)
        put_many(c, b, first)
        wait_all(lambda: from_logs(hook.bodies(), b), first)
        active = wait_until(lambda: follower_holder(pg_url), 10, "the follower lock")
        standby = next(n for n in workers if n != active)
        workers[active].kill()
        second = keys("second", WRITES)
        put_many(c, b, second)
        got = wait_all(lambda: from_logs(hook.bodies(), b), first + second)
        assert_lossless(got, first + second)
        assert follower_holder(pg_url) == standby
    finally:
        for w in workers.values():
            w.stop()
        hook.kill()


# -- the embedded server restarted between writes and delivery ----------------------------------------


def test_server_killed_between_writes_and_delivery(server_factory, tmp_path):
    hook = WebhookProcess(tmp_path)  # not started: the target is down while we write
    env = {
        "CHRONICLE_NOTIFY_WEBHOOK_ENABLE_1": "on",
        "CHRONICLE_NOTIFY_WEBHOOK_ENDPOINT_1": hook.url,
        **FAST_RETRY,
    }
    srv = server_factory("sqlite", env=env)
    c = srv.client(max_pool_connections=16)
    b = bucket_with_rule(c, "arn:minio:sqs::1:webhook")
    written = keys("k", WRITES)
    put_many(c, b, written)
    srv.kill()  # SIGKILL: nothing was delivered, nothing is held in memory
    hook.start()
    try:
        srv.start()
        got = wait_all(lambda: from_logs(hook.bodies(), b), written)
        assert assert_lossless(got, written) == 0
    finally:
        hook.kill()

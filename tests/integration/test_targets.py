"""Notification targets against the real services: what each one receives, byte for byte
(or row for row), for a batch of small literal records; deletes in namespace format; and
the failures that must surface as TargetError.

Every test uses its own keys, tables, exchanges and queues and removes them afterwards.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse

import pytest

from tests.helpers.notify import (
    amqp_channel,
    amqp_drain,
    mysql_admin,
    mysql_rows,
    pg_admin,
    pg_connection_string,
    redis_address,
    redis_client,
    uid,
)
from tests.helpers.services import AMQP_URL
from workers.targets import Delivery, TargetError, make_target

pytestmark = pytest.mark.timeout(120)


def run(coro):
    return asyncio.run(coro)


# -- records --------------------------------------------------------------------------


def record(name: str, bucket: str, key: str, time: str, n: int) -> bytes:
    """A small record as MinIO would serialise it (compact, Go escaping of <>&)."""
    escaped = urllib.parse.quote_plus(key, safe="")
    body = json.dumps(
        {
            "eventVersion": "2.0",
            "eventSource": "minio:s3",
            "awsRegion": "",
            "eventTime": time,
            "eventName": name,
            "s3": {
                "bucket": {"name": bucket},
                "object": {"key": escaped, "sequencer": f"{n:016X}"},
            },
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return body.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


def delivery(pos: int, name: str, key: str, bucket: str = "photos") -> Delivery:
    t = f"2026-01-01T12:00:{pos:02d}.{pos * 7 % 1000:03d}Z"
    return Delivery(pos, name, bucket, key, t, record(name, bucket, key, t, pos))


PUT = "s3:ObjectCreated:Put"
DEL = "s3:ObjectRemoved:Delete"
MARKER = "s3:ObjectRemoved:DeleteMarkerCreated"
ODD_KEY = "dir/a b+<&>é.jpg"


def namespace_batch() -> list[Delivery]:
    return [
        delivery(1, PUT, "a.jpg"),
        delivery(2, PUT, ODD_KEY),
        delivery(3, PUT, "gone.jpg"),
        delivery(4, PUT, "a.jpg"),  # overwrite: the newest record wins
        delivery(5, DEL, "gone.jpg"),  # removes the entry
        delivery(6, MARKER, "marker.jpg"),  # any other event stores the record
        delivery(7, DEL, "never-existed.jpg"),
    ]


def expected_namespace(batch: list[Delivery]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for d in batch:
        k = f"{d.bucket}/{d.key}"
        if d.event_name == DEL:
            out.pop(k, None)
        else:
            out[k] = b'{"Records":[' + d.record + b"]}"
    return out


def access_batch() -> list[Delivery]:
    return [delivery(1, PUT, "a.jpg"), delivery(2, DEL, "a.jpg"), delivery(3, PUT, ODD_KEY)]


def go_str(s: str) -> bytes:
    out = json.dumps(s, ensure_ascii=False)
    return out.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


def log_body(d: Delivery) -> bytes:
    return (
        b'{"EventName":'
        + go_str(d.event_name)
        + b',"Key":'
        + go_str(f"{d.bucket}/{d.key}")
        + b',"Records":['
        + d.record
        + b"]}"
    )


def test_log_body_escapes_like_go():
    d = delivery(2, PUT, ODD_KEY)
    assert log_body(d) == (
        b'{"EventName":"s3:ObjectCreated:Put","Key":"photos/dir/a b+\\u003c\\u0026\\u003e'
        + "é".encode()
        + b'.jpg","Records":['
        + d.record
        + b"]}"
    )
    from workers.targets import event_log_body

    assert event_log_body(d) == log_body(d)


# -- Redis ----------------------------------------------------------------------------


@pytest.fixture
def redis_admin():
    client = redis_client()
    keys: list[str] = []
    users: list[str] = []
    yield client, keys, users
    if keys:
        client.delete(*keys)
    for u in users:
        client.acl_deluser(u)
    client.close()


def redis_target(key: str, fmt: str, **extra):
    cfg = {"address": redis_address(), "key": key, "format": fmt, **extra}
    return make_target("notify_redis", "1", cfg)


def test_redis_namespace(redis_admin):
    admin, keys, _ = redis_admin
    key = f"chronicle-test-ns-{uid()}"
    keys.append(key)
    batch = namespace_batch()

    async def go():
        t = redis_target(key, "namespace")
        await t.open()
        names = [c.get("name") for c in admin.client_list()]
        await t.deliver(batch)
        await t.close()
        return names

    names = run(go())
    assert "MinIO" in names  # CLIENT SETNAME MinIO
    got = {k.decode(): v for k, v in admin.hgetall(key).items()}
    assert got == expected_namespace(batch)
    assert set(got) == {"photos/a.jpg", f"photos/{ODD_KEY}", "photos/marker.jpg"}


def test_redis_access(redis_admin):
    admin, keys, _ = redis_admin
    key = f"chronicle-test-acc-{uid()}"
    keys.append(key)
    batch = access_batch()

    async def go():
        t = redis_target(key, "access")
        await t.open()
        await t.deliver(batch[:2])
        await t.deliver(batch[2:])
        await t.close()

    run(go())
    assert admin.lrange(key, 0, -1) == [
        b'[{"Event":[' + d.record + b'],"EventTime":"' + d.event_time.encode() + b'"}]' for d in batch
    ]


def test_redis_key_of_the_wrong_type(redis_admin):
    admin, keys, _ = redis_admin
    key = f"chronicle-test-type-{uid()}"
    keys.append(key)
    admin.set(key, "a string")

    async def go(fmt):
        t = redis_target(key, fmt)
        try:
            await t.open()
        finally:
            await t.close()

    for fmt in ("namespace", "access"):
        with pytest.raises(TargetError, match="is a string"):
            run(go(fmt))
    admin.delete(key)
    admin.rpush(key, "x")
    with pytest.raises(TargetError, match="needs a hash"):
        run(go("namespace"))
    run(go("access"))  # a list is fine for access


def test_redis_user_and_password(redis_admin):
    admin, keys, users = redis_admin
    user, password = f"chronicle-test-{uid()}", uid()
    users.append(user)
    key = f"chronicle-test-auth-{uid()}"
    keys.append(key)
    admin.acl_setuser(user, enabled=True, passwords=["+" + password], keys=["*"], commands=["+@all"])

    async def go(pw):
        t = redis_target(key, "namespace", user=user, password=pw)
        try:
            await t.open()
            await t.deliver([delivery(1, PUT, "a.jpg")])
        finally:
            await t.close()

    with pytest.raises(TargetError):
        run(go("wrong-password"))
    assert not admin.exists(key)
    run(go(password))
    assert admin.hkeys(key) == [b"photos/a.jpg"]


def test_redis_wrong_password_for_default_user(redis_admin):
    admin, keys, _ = redis_admin
    key = f"chronicle-test-auth-{uid()}"

    async def go():
        t = redis_target(key, "namespace", password="definitely-wrong-" + uid())
        try:
            await t.deliver([delivery(1, PUT, "a.jpg")])
        finally:
            await t.close()

    with pytest.raises(TargetError):
        run(go())


def test_redis_unreachable():
    async def go():
        t = make_target("notify_redis", "1", {"address": "127.0.0.1:1", "key": "k"})
        try:
            await t.deliver([delivery(1, PUT, "a.jpg")])
        finally:
            await t.close()

    with pytest.raises(TargetError, match="127.0.0.1:1"):
        run(go())


# -- PostgreSQL -----------------------------------------------------------------------


@pytest.fixture
def pg_tables():
    conn = pg_admin()
    tables: list[str] = []
    yield conn, tables
    for t in tables:
        conn.execute(f"DROP TABLE IF EXISTS {t}")
    conn.close()


def pg_target(table: str, fmt: str):
    cfg = {"connection_string": pg_connection_string(), "table": table, "format": fmt}
    return make_target("notify_postgres", "1", cfg)


def test_postgres_namespace(pg_tables):
    conn, tables = pg_tables
    table = f"chronicle_test_ns_{uid()}"
    tables.append(table)
    batch = namespace_batch()

    async def go():
        t = pg_target(table, "namespace")
        assert t.type == "postgresql"
        await t.open()
        await t.deliver(batch[:3])
        await t.deliver(batch[3:])
        await t.close()

    run(go())
    cols = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    assert cols == [("key", "character varying"), ("value", "jsonb")]
    rows = dict(conn.execute(f"SELECT key, value FROM {table}").fetchall())
    assert rows == {k: json.loads(v) for k, v in expected_namespace(batch).items()}


def test_postgres_access_and_existing_table(pg_tables):
    conn, tables = pg_tables
    table = f'"Chronicle Test {uid()}"'
    tables.append(table)
    batch = access_batch()

    async def go():
        t = pg_target(table, "access")
        await t.open()
        await t.deliver(batch[:1])
        await t.close()
        t = pg_target(table, "access")  # the table exists now: used as it is
        await t.deliver(batch[1:])
        await t.close()

    run(go())
    rows = conn.execute(
        f"SELECT to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), event_data FROM {table}"
    ).fetchall()
    assert rows == [(d.event_time, json.loads(b'{"Records":[' + d.record + b"]}")) for d in batch]


def test_postgres_bad_credentials():
    cs = pg_connection_string() + " user=no_such_role_" + uid()

    async def go():
        t = make_target("notify_postgres", "1", {"connection_string": cs, "table": "t", "format": "access"})
        try:
            await t.deliver(access_batch())
        finally:
            await t.close()

    with pytest.raises(TargetError, match="no_such_role"):
        run(go())


# -- MySQL / MariaDB ------------------------------------------------------------------


@pytest.fixture
def mysql_db():
    conn, p = mysql_admin()
    db = f"chronicle_test_{uid()}"
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {db}")
        cur.execute(f"USE {db}")
    dsn = f"{p['user']}:{p['password']}@tcp({p['host']}:{p['port']})/{db}"
    yield conn, dsn
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {db}")
    conn.close()


def test_mysql_namespace(mysql_db):
    conn, dsn = mysql_db
    batch = namespace_batch()

    async def go():
        t = make_target("notify_mysql", "1", {"dsn_string": dsn, "table": "events_ns", "format": "namespace"})
        await t.open()
        await t.deliver(batch[:3])
        await t.deliver(batch[3:])
        await t.close()

    run(go())
    cols = [r[0] for r in mysql_rows(conn, "SHOW COLUMNS FROM events_ns")]
    assert cols == ["key_name", "key_hash", "value"]
    rows = mysql_rows(conn, "SELECT key_name, key_hash, SHA2(key_name, 256), value FROM events_ns")
    assert all(r[1] == r[2] for r in rows)
    got = {r[0]: r[3] for r in rows}
    want = expected_namespace(batch)
    assert {k: json.loads(v) for k, v in got.items()} == {k: json.loads(v) for k, v in want.items()}
    if "mariadb" in mysql_rows(conn, "SELECT VERSION()")[0][0].lower():
        assert {k: v.encode() for k, v in got.items()} == want  # stored verbatim


def test_mysql_access(mysql_db):
    conn, dsn = mysql_db
    batch = access_batch()

    async def go():
        t = make_target("notify_mysql", "1", {"dsn_string": dsn, "table": "events_acc", "format": "access"})
        await t.deliver(batch)
        await t.close()

    run(go())
    rows = mysql_rows(conn, "SELECT DATE_FORMAT(event_time, '%Y-%m-%dT%H:%i:%s'), event_data FROM events_acc")
    assert [(r[0], json.loads(r[1])) for r in rows] == [
        (d.event_time[:19], json.loads(b'{"Records":[' + d.record + b"]}")) for d in batch
    ]


def test_mysql_bad_password(mysql_db):
    _conn, dsn = mysql_db
    user, rest = dsn.split(":", 1)
    bad = f"{user}:wrong-{uid()}@{rest.split('@', 1)[1]}"

    async def go():
        t = make_target("notify_mysql", "1", {"dsn_string": bad, "table": "t", "format": "access"})
        try:
            await t.deliver(access_batch())
        finally:
            await t.close()

    with pytest.raises(TargetError, match="Access denied"):
        run(go())


# -- AMQP -----------------------------------------------------------------------------


@pytest.fixture
def amqp_admin():
    conn, ch = amqp_channel()
    made: dict[str, list[str]] = {"exchanges": [], "queues": []}
    yield ch, made
    for q in made["queues"]:
        ch.queue_delete(q)
    for x in made["exchanges"]:
        ch.exchange_delete(x)
    conn.close()


def amqp_cfg(exchange: str, routing_key: str, **extra) -> dict:
    return {
        "url": AMQP_URL,
        "exchange": exchange,
        "exchange_type": "direct" if exchange else "",
        "routing_key": routing_key,
        "durable": "on",
        "delivery_mode": "2",
        **extra,
    }


def test_amqp_publishes_minio_messages(amqp_admin):
    ch, made = amqp_admin
    exchange, queue = f"chronicle-test-x-{uid()}", f"chronicle-test-q-{uid()}"
    made["exchanges"].append(exchange)
    made["queues"].append(queue)
    ch.exchange_declare(exchange, "direct", durable=True)
    ch.queue_declare(queue, durable=True)
    ch.queue_bind(queue, exchange, routing_key="minio")
    batch = namespace_batch()

    async def go():
        t = make_target("notify_amqp", "1", amqp_cfg(exchange, "minio"))
        await t.open()
        await t.deliver(batch[:2])
        await t.deliver(batch[2:])
        await t.close()

    run(go())
    got = amqp_drain(ch, queue)
    assert [body for _p, body in got] == [log_body(d) for d in batch]
    for (props, _b), d in zip(got, batch, strict=True):
        assert props.content_type == "application/json"
        assert props.delivery_mode == 2
        assert props.headers == {"minio-bucket": d.bucket, "minio-event": d.event_name}


def test_amqp_declares_the_exchange(amqp_admin):
    ch, made = amqp_admin
    exchange = f"chronicle-test-x-{uid()}"
    made["exchanges"].append(exchange)

    async def go():
        t = make_target("notify_amqp", "1", amqp_cfg(exchange, "k", exchange_type="fanout"))
        try:
            # Declared durable fanout; nothing bound yet, so mandatory makes it a failure.
            await t.deliver([delivery(1, PUT, "a.jpg")])
        finally:
            await t.close()

    with pytest.raises(TargetError, match="unroutable") as info:
        run(go())
    assert info.value.delivered == 0
    ch.exchange_declare(exchange, "fanout", durable=True, passive=True)  # it exists


def test_amqp_unroutable_message_fails_the_batch(amqp_admin):
    ch, made = amqp_admin
    exchange, queue = f"chronicle-test-x-{uid()}", f"chronicle-test-q-{uid()}"
    made["exchanges"].append(exchange)
    made["queues"].append(queue)
    ch.exchange_declare(exchange, "direct", durable=True)
    ch.queue_declare(queue, durable=True)
    ch.queue_bind(queue, exchange, routing_key="minio")
    batch = access_batch()

    async def go():
        t = make_target("notify_amqp", "1", amqp_cfg(exchange, "nobody-listens"))
        try:
            await t.deliver(batch)
        finally:
            await t.close()

    with pytest.raises(TargetError, match="unroutable"):
        run(go())
    assert amqp_drain(ch, queue) == []


def test_amqp_default_exchange_routes_to_the_queue(amqp_admin):
    ch, made = amqp_admin
    queue = f"chronicle-test-q-{uid()}"
    made["queues"].append(queue)
    ch.queue_declare(queue, durable=True)
    batch = access_batch()

    async def go():
        t = make_target("notify_amqp", "1", amqp_cfg("", queue))
        await t.deliver(batch)
        await t.close()

    run(go())
    assert [body for _p, body in amqp_drain(ch, queue)] == [log_body(d) for d in batch]


def test_amqp_mismatched_exchange_is_an_error_and_the_target_recovers(amqp_admin):
    ch, made = amqp_admin
    exchange, queue = f"chronicle-test-x-{uid()}", f"chronicle-test-q-{uid()}"
    made["exchanges"].append(exchange)
    made["queues"].append(queue)
    ch.exchange_declare(exchange, "topic", durable=True)
    ch.queue_declare(queue, durable=True)
    ch.queue_bind(queue, exchange, routing_key="#")

    async def go():
        wrong = make_target("notify_amqp", "1", amqp_cfg(exchange, "k"))  # direct ≠ topic
        try:
            with pytest.raises(TargetError, match="PRECONDITION_FAILED|inequivalent"):
                await wrong.deliver([delivery(1, PUT, "a.jpg")])
        finally:
            await wrong.close()
        right = make_target("notify_amqp", "1", amqp_cfg(exchange, "k", exchange_type="topic"))
        await right.deliver([delivery(2, PUT, "b.jpg")])
        await right.deliver([delivery(3, PUT, "c.jpg")])
        await right.close()

    run(go())
    assert [b for _p, b in amqp_drain(ch, queue)] == [
        log_body(delivery(2, PUT, "b.jpg")),
        log_body(delivery(3, PUT, "c.jpg")),
    ]


def test_amqp_unreachable():
    async def go():
        t = make_target("notify_amqp", "1", {"url": "amqp://guest:guest@127.0.0.1:1/"})
        try:
            await t.deliver([delivery(1, PUT, "a.jpg")])
        finally:
            await t.close()

    with pytest.raises(TargetError):
        run(go())


# -- webhook --------------------------------------------------------------------------


class Receiver:
    """An aiohttp server on 127.0.0.1 that records what it is sent."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict, bytes]] = []
        self.status = 200
        self.fail_from: int | None = None  # answer 500 from this request on

    async def __aenter__(self):
        from aiohttp import web

        async def handle(request):
            body = await request.read()
            self.requests.append((request.method, request.path_qs, dict(request.headers), body))
            failing = self.fail_from is not None and len(self.requests) > self.fail_from
            return web.Response(status=500 if failing else self.status, text="ok")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/minio/events?x=1"
        return self

    async def __aexit__(self, *exc):
        await self.runner.cleanup()


def test_webhook_posts_event_logs_in_order():
    batch = namespace_batch()

    async def go():
        async with Receiver() as rx:
            t = make_target("notify_webhook", "1", {"endpoint": rx.url, "auth_token": "s3cr3t"})
            await t.open()
            await t.deliver(batch)
            await t.close()
            return rx.requests

    reqs = run(go())
    assert [r[3] for r in reqs] == [log_body(d) for d in batch]
    for method, path, headers, _ in reqs:
        assert method == "POST"
        assert path == "/minio/events?x=1"
        assert headers["Content-Type"] == "application/json"
        assert headers["Authorization"] == "Bearer s3cr3t"


def test_webhook_two_word_token_is_sent_verbatim_and_no_token_sends_none():
    async def go(token):
        async with Receiver() as rx:
            t = make_target("notify_webhook", "1", {"endpoint": rx.url, "auth_token": token})
            await t.deliver([delivery(1, PUT, "a.jpg")])
            await t.close()
            return rx.requests[0][2]

    assert run(go("Basic dXNlcjpwYXNz"))["Authorization"] == "Basic dXNlcjpwYXNz"
    assert "Authorization" not in run(go(""))


@pytest.mark.parametrize(
    "status,message",
    [(403, "check if your auth token is correctly set"), (500, "500 Internal Server Error")],
)
def test_webhook_error_statuses(status, message):
    batch = access_batch()

    async def go():
        async with Receiver() as rx:
            t = make_target("notify_webhook", "1", {"endpoint": rx.url})
            await t.deliver(batch[:1])
            rx.status = status
            try:
                await t.deliver(batch)
            finally:
                await t.close()

    with pytest.raises(TargetError, match=message) as info:
        run(go())
    assert info.value.delivered == 0


def test_webhook_failure_mid_batch_reports_what_was_delivered():
    batch = [delivery(i, PUT, f"k{i}") for i in range(5)]

    async def go():
        async with Receiver() as rx:
            rx.fail_from = 3
            t = make_target("notify_webhook", "1", {"endpoint": rx.url})
            try:
                with pytest.raises(TargetError) as info:
                    await t.deliver(batch)
                return info.value.delivered, [r[3] for r in rx.requests]
            finally:
                await t.close()

    delivered, bodies = run(go())
    # Only the records answered 2xx count; pipelined requests after the failed one may
    # have reached the receiver too (they are sent again: at-least-once), in order.
    assert delivered == 3
    assert bodies == [log_body(d) for d in batch[: len(bodies)]] and len(bodies) >= 4


def test_webhook_pipelines_in_order_over_one_connection_and_resends_after_a_close():
    """Many records, one connection, arrival in log order; a receiver that closes the
    connection now and then (Connection: close) loses nothing."""
    from aiohttp import web

    batch = [delivery(i, PUT, f"k{i}") for i in range(1, 400)]

    async def go():
        seen: list[bytes] = []
        peers: set = set()

        async def handle(request):
            seen.append(await request.read())
            peers.add(request.transport.get_extra_info("peername"))
            close = len(seen) % 97 == 0
            return web.Response(text="ok", headers={"Connection": "close"} if close else {})

        app = web.Application()
        app.router.add_post("/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        t = make_target("notify_webhook", "1", {"endpoint": f"http://127.0.0.1:{port}/e"})
        try:
            await t.deliver(batch)
        finally:
            await t.close()
            await runner.cleanup()
        return seen, peers

    seen, peers = run(go())
    keys = [json.loads(b)["Key"] for b in seen]
    expected = [f"photos/k{i}" for i in range(1, 400)]
    # In order; where a connection closed, the unanswered tail was sent again.
    deduped = [k for i, k in enumerate(keys) if k not in keys[:i]]
    assert deduped == expected
    assert 1 < len(peers) < 20  # a few connections, not one per record


def test_webhook_client_certificate_that_cannot_be_loaded(tmp_path):
    async def go():
        t = make_target(
            "notify_webhook",
            "1",
            {
                "endpoint": "https://127.0.0.1:1/",
                "client_cert": str(tmp_path / "missing.pem"),
                "client_key": str(tmp_path / "missing.key"),
            },
        )
        try:
            await t.open()
        finally:
            await t.close()

    with pytest.raises(TargetError, match="cannot load client_cert/client_key"):
        run(go())


def test_webhook_windowed_delivers_everything():
    from workers.targets import WebhookConfig
    from workers.targets.webhook import WebhookTarget

    batch = [delivery(i, PUT, f"k{i}") for i in range(50)]

    async def go():
        async with Receiver() as rx:
            t = WebhookTarget("1", WebhookConfig(endpoint=rx.url, window=8))
            await t.deliver(batch)
            await t.close()
            return rx.requests

    assert sorted(r[3] for r in run(go())) == sorted(log_body(d) for d in batch)


def test_webhook_unreachable():
    async def go():
        t = make_target("notify_webhook", "1", {"endpoint": "http://127.0.0.1:1/"})
        try:
            await t.deliver([delivery(1, PUT, "a.jpg")])
        finally:
            await t.close()

    with pytest.raises(TargetError, match="127.0.0.1:1"):
        run(go())


def _tls_files(tmp_path):
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def cert(subject, key, issuer, issuer_key, *, ca=False, san=None, usage=None):
        b = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name(issuer))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
        if usage:
            b = b.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    def write(path, obj):
        if isinstance(obj, x509.Certificate):
            data = obj.public_bytes(serialization.Encoding.PEM)
        else:
            data = obj.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        path.write_bytes(data)
        return str(path)

    ca_key, srv_key, cli_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = cert("test ca", ca_key, "test ca", ca_key, ca=True)
    srv = cert(
        "127.0.0.1",
        srv_key,
        "test ca",
        ca_key,
        san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
    )
    cli = cert("chronicle", cli_key, "test ca", ca_key, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    return {
        "ca": write(tmp_path / "ca.pem", ca),
        "server_cert": write(tmp_path / "server.pem", srv),
        "server_key": write(tmp_path / "server.key", srv_key),
        "client_cert": write(tmp_path / "client.pem", cli),
        "client_key": write(tmp_path / "client.key", cli_key),
    }


def test_webhook_mutual_tls(tmp_path, monkeypatch):
    import ssl

    from aiohttp import web

    files = _tls_files(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", files["ca"])  # trust the test CA
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=files["ca"])
    server_ctx.load_cert_chain(files["server_cert"], files["server_key"])
    server_ctx.verify_mode = ssl.CERT_REQUIRED  # no client certificate, no handshake
    seen: list[str] = []

    async def handle(request):
        peer = request.transport.get_extra_info("peercert")
        seen.append(dict(x[0] for x in peer["subject"])["commonName"])
        await request.read()
        return web.Response(status=204)

    async def go():
        app = web.Application()
        app.router.add_post("/hook", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
        await site.start()
        url = f"https://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/hook"
        try:
            without = make_target("notify_webhook", "1", {"endpoint": url})
            try:
                with pytest.raises(TargetError):
                    await without.deliver([delivery(1, PUT, "a.jpg")])
            finally:
                await without.close()
            with_cert = make_target(
                "notify_webhook",
                "1",
                {
                    "endpoint": url,
                    "client_cert": files["client_cert"],
                    "client_key": files["client_key"],
                },
            )
            await with_cert.deliver([delivery(2, PUT, "b.jpg")])
            await with_cert.close()
        finally:
            await runner.cleanup()

    run(go())
    assert seen == ["chronicle"]

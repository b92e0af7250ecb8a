"""Bucket notifications end to end: a real `chronicle serve` with targets on the real Redis,
PostgreSQL, MariaDB, RabbitMQ and a webhook receiver process, driven through boto3.

What arrives is compared with MinIO golden records (tests/helpers/notify.py builds them
from MinIO's struct order); only what varies per run or deployment is normalized
(eventTime, sequencer value, userAgent, node/deployment/endpoint ids), and each of those
is checked on the way (layout, monotonic sequencer, boto3's agent).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from typing import Any

import pytest

from tests.conftest import empty_and_delete_bucket, unique_bucket_name
from tests.helpers.notify import (
    Normalized,
    WebhookProcess,
    amqp_channel,
    amqp_drain,
    assert_records,
    event_log,
    go_json,
    minio_record,
    mysql_admin,
    mysql_rows,
    pg_admin,
    pg_connection_string,
    redis_address,
    redis_client,
    uid,
    wait_until,
)
from tests.helpers.server import REPO_ROOT, ServerFactory, chronicle_command
from tests.helpers.services import AMQP_URL

pytestmark = pytest.mark.timeout(180)

ALL_ARNS = [
    "arn:minio:sqs::1:redis",
    "arn:minio:sqs::2:redis",
    "arn:minio:sqs::1:postgresql",
    "arn:minio:sqs::2:postgresql",
    "arn:minio:sqs::1:mysql",
    "arn:minio:sqs::2:mysql",
    "arn:minio:sqs::1:amqp",
    "arn:minio:sqs::1:webhook",
]
TOKEN = "e2e-token"


class Targets:
    """Every target's resources (unique names) and how to read what arrived."""

    def __init__(self, tmp) -> None:
        n = uid()
        self.redis_ns, self.redis_acc = f"chronicle-e2e-ns-{n}", f"chronicle-e2e-acc-{n}"
        self.pg_ns, self.pg_acc = f"chronicle_e2e_ns_{n}", f"chronicle_e2e_acc_{n}"
        self.mysql_db = f"chronicle_e2e_{n}"
        self.exchange, self.queue = f"chronicle-e2e-x-{n}", f"chronicle-e2e-q-{n}"
        self.redis = redis_client()
        self.pg = pg_admin()
        self.mysql, p = mysql_admin()
        with self.mysql.cursor() as cur:
            cur.execute(f"CREATE DATABASE {self.mysql_db}")
        self.mysql_dsn = f"{p['user']}:{p['password']}@tcp({p['host']}:{p['port']})/{self.mysql_db}"
        self.amqp_conn, self.amqp = amqp_channel()
        self.amqp.exchange_declare(self.exchange, "direct", durable=True)
        self.amqp.queue_declare(self.queue, durable=True)
        self.amqp.queue_bind(self.queue, self.exchange, routing_key="minio")
        self.webhook = WebhookProcess(tmp).start()

    def env(self) -> dict[str, str]:
        e: dict[str, str] = {}

        def put(sub: str, tid: str, **kv: str) -> None:
            e[f"CHRONICLE_NOTIFY_{sub}_ENABLE_{tid}"] = "on"
            for k, v in kv.items():
                e[f"CHRONICLE_NOTIFY_{sub}_{k.upper()}_{tid}"] = v

        put("REDIS", "1", address=redis_address(), key=self.redis_ns, format="namespace")
        put("REDIS", "2", address=redis_address(), key=self.redis_acc, format="access")
        cs = pg_connection_string()
        put("POSTGRES", "1", connection_string=cs, table=self.pg_ns, format="namespace")
        put("POSTGRES", "2", connection_string=cs, table=self.pg_acc, format="access")
        put("MYSQL", "1", dsn_string=self.mysql_dsn, table="events_ns", format="namespace")
        put("MYSQL", "2", dsn_string=self.mysql_dsn, table="events_acc", format="access")
        put(
            "AMQP",
            "1",
            url=AMQP_URL,
            exchange=self.exchange,
            exchange_type="direct",
            routing_key="minio",
            durable="on",
            delivery_mode="2",
        )
        put("WEBHOOK", "1", endpoint=self.webhook.url, auth_token=TOKEN)
        return e

    def close(self) -> None:
        self.webhook.kill()
        self.redis.delete(self.redis_ns, self.redis_acc)
        self.redis.close()
        for t in (self.pg_ns, self.pg_acc):
            self.pg.execute(f"DROP TABLE IF EXISTS {t}")
        self.pg.close()
        with self.mysql.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {self.mysql_db}")
        self.mysql.close()
        self.amqp.queue_delete(self.queue)
        self.amqp.exchange_delete(self.exchange)
        self.amqp_conn.close()

    # -- what arrived ---------------------------------------------------------------------

    def webhook_logs(self) -> list[bytes]:
        return self.webhook.bodies()

    def amqp_messages(self) -> list[tuple[Any, bytes]]:
        return amqp_drain(self.amqp, self.queue)

    def redis_access(self) -> list[bytes]:
        return self.redis.lrange(self.redis_acc, 0, -1)

    def redis_namespace(self) -> dict[str, bytes]:
        return {k.decode(): v for k, v in self.redis.hgetall(self.redis_ns).items()}

    def pg_rows(self, table: str, sql: str) -> list[tuple]:
        try:
            return self.pg.execute(sql.format(t=table)).fetchall()
        except Exception:  # noqa: BLE001 - the table is created on the first delivery
            return []

    def mysql_select(self, sql: str) -> list[tuple]:
        try:
            return mysql_rows(self.mysql, sql.replace("{db}", self.mysql_db))
        except Exception:  # noqa: BLE001 - the table is created on the first delivery
            return []


@pytest.fixture(scope="module")
def targets(tmp_path_factory):
    t = Targets(tmp_path_factory.mktemp("notify-e2e"))
    yield t
    t.close()


@pytest.fixture(scope="module")
def nserver(tmp_path_factory, targets):
    factory = ServerFactory(tmp_path_factory.mktemp("notify-e2e-servers"))
    yield factory("sqlite", env=targets.env())
    factory.close()


@pytest.fixture(scope="module")
def s3(nserver):
    return nserver.client()


def rules(*arns: str, events=("s3:ObjectCreated:*", "s3:ObjectRemoved:*"), prefix="", suffix="") -> dict:
    out = []
    for arn in arns:
        q: dict[str, Any] = {"QueueArn": arn, "Events": list(events)}
        fr = [{"Name": n, "Value": v} for n, v in (("prefix", prefix), ("suffix", suffix)) if v]
        if fr:
            q["Filter"] = {"Key": {"FilterRules": fr}}
        out.append(q)
    return {"QueueConfigurations": out}


def rid(resp: dict) -> str:
    return resp["ResponseMetadata"]["RequestId"]


# -- the golden scenario -----------------------------------------------------------------


def drive(s3, principal: str) -> tuple[list[tuple[str, str, dict]], list[str]]:
    """PUT / copy / multipart / tagging / delete in an unversioned bucket, then PUT /
    tagging / delete marker / version delete in a versioned one, every rule on every
    target. Returns [(bucket, key, golden record)] in log order, and the buckets."""
    plain, versioned = unique_bucket_name("e2e"), unique_bucket_name("e2ev")
    for b in (plain, versioned):
        s3.create_bucket(Bucket=b)
    s3.put_bucket_versioning(Bucket=versioned, VersioningConfiguration={"Status": "Enabled"})
    for b in (plain, versioned):
        s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration=rules(*ALL_ARNS))
    out: list[tuple[str, str, dict]] = []

    def rec(name: str, bucket: str, key: str, resp: dict, **kw: Any) -> None:
        out.append(
            (
                bucket,
                key,
                minio_record(name, bucket, key, principal=principal, request_id=rid(resp), **kw),
            )
        )

    def length(resp: dict) -> str:
        return resp["ResponseMetadata"]["HTTPHeaders"]["content-length"]

    odd = "photos/a b+<&>é.jpg"
    body = b"hello"
    etag = hashlib.md5(body).hexdigest()
    meta = {"X-Amz-Meta-Foo": "bar", "content-type": "image/jpeg"}
    facts = dict(size=5, etag=etag, content_type="image/jpeg", user_metadata=meta)
    r = s3.put_object(Bucket=plain, Key=odd, Body=body, ContentType="image/jpeg", Metadata={"foo": "bar"})
    rec("s3:ObjectCreated:Put", plain, odd, r, **facts)
    r = s3.copy_object(Bucket=plain, Key="copy.txt", CopySource={"Bucket": plain, "Key": odd})
    # MinIO copies the length of its CopyObjectResult XML into content-length.
    rec("s3:ObjectCreated:Copy", plain, "copy.txt", r, content_length=length(r), **facts)
    part1, part2 = b"a" * (5 * 1024 * 1024), b"tail"
    up = s3.create_multipart_upload(Bucket=plain, Key="mp/big.bin", ContentType="application/x-test")
    parts = []
    for n, data in ((1, part1), (2, part2)):
        p = s3.upload_part(Bucket=plain, Key="mp/big.bin", UploadId=up["UploadId"], PartNumber=n, Body=data)
        parts.append({"PartNumber": n, "ETag": p["ETag"]})
    r = s3.complete_multipart_upload(
        Bucket=plain, Key="mp/big.bin", UploadId=up["UploadId"], MultipartUpload={"Parts": parts}
    )
    mp_etag = hashlib.md5(hashlib.md5(part1).digest() + hashlib.md5(part2).digest()).hexdigest() + "-2"
    rec(
        "s3:ObjectCreated:CompleteMultipartUpload",
        plain,
        "mp/big.bin",
        r,
        size=len(part1) + len(part2),
        etag=mp_etag,
        content_type="application/x-test",
        user_metadata={"content-type": "application/x-test"},
        content_length=length(r),
    )
    r = s3.put_object_tagging(Bucket=plain, Key=odd, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    rec("s3:ObjectCreated:PutTagging", plain, odd, r, content_length="0", **facts)
    r = s3.delete_object_tagging(Bucket=plain, Key=odd)
    rec("s3:ObjectCreated:DeleteTagging", plain, odd, r, content_length="0", **facts)
    r = s3.delete_object(Bucket=plain, Key=odd)
    rec("s3:ObjectRemoved:Delete", plain, odd, r, content_length="0")

    doc = b"version one"
    dfacts = dict(
        size=len(doc),
        etag=hashlib.md5(doc).hexdigest(),
        content_type="text/plain",
        user_metadata={"content-type": "text/plain"},
    )
    r = s3.put_object(Bucket=versioned, Key="doc.txt", Body=doc, ContentType="text/plain")
    v1 = r["VersionId"]
    rec("s3:ObjectCreated:Put", versioned, "doc.txt", r, version_id=v1, **dfacts)
    r = s3.put_object_tagging(Bucket=versioned, Key="doc.txt", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    rec(
        "s3:ObjectCreated:PutTagging",
        versioned,
        "doc.txt",
        r,
        version_id=v1,
        content_length="0",
        **dfacts,
    )
    r = s3.delete_object(Bucket=versioned, Key="doc.txt")
    assert r["DeleteMarker"]
    rec(
        "s3:ObjectRemoved:DeleteMarkerCreated",
        versioned,
        "doc.txt",
        r,
        version_id=r["VersionId"],
        content_length="0",
    )
    r = s3.delete_object(Bucket=versioned, Key="doc.txt", VersionId=v1)
    rec("s3:ObjectRemoved:Delete", versioned, "doc.txt", r, version_id=v1, content_length="0")
    return out, [plain, versioned]


@pytest.fixture(scope="module")
def scenario(s3, nserver, targets):
    expected, buckets = drive(s3, nserver.access_key)
    yield expected, buckets
    for b in buckets:
        empty_and_delete_bucket(s3, b)


def mine(buckets: list[str]):
    return lambda bucket: bucket in buckets


def check_sequencers(norm: Normalized) -> None:
    assert norm.sequencers == sorted(norm.sequencers) and len(set(norm.sequencers)) == len(norm.sequencers), (
        "sequencer must grow in log order"
    )


def test_webhook_gets_minio_event_logs(scenario, targets, nserver):
    expected, buckets = scenario
    bodies = wait_until(
        lambda: (
            (b := [x for x in targets.webhook_logs() if json.loads(x)["Key"].split("/")[0] in buckets])
            and len(b) >= len(expected)
            and b
        ),
        what="webhook deliveries",
    )
    norm = Normalized()
    got = [go_json(norm.log(b)) for b in bodies]
    assert_records(got, [go_json(event_log(r, b, k)) for b, k, r in expected])
    check_sequencers(norm)
    # One deployment, the one the admin API reports; the node is the server the client used.
    from minio import MinioAdmin
    from minio.credentials import StaticProvider

    admin = MinioAdmin(
        endpoint=nserver.address,
        credentials=StaticProvider(nserver.access_key, nserver.secret_key),
        secure=False,
    )
    assert norm.deployments == {json.loads(admin.info())["deploymentID"]}
    first = json.loads(bodies[0])["Records"][0]["responseElements"]
    assert first["x-minio-origin-endpoint"] == f"http://{nserver.address}"
    reqs = [r for r in targets.webhook.requests() if json.loads(r["body"])["Key"].split("/")[0] in buckets]
    assert {(r["auth"], r["type"]) for r in reqs} == {(f"Bearer {TOKEN}", "application/json")}


def test_amqp_gets_persistent_messages_with_minio_headers(scenario, targets):
    expected, buckets = scenario
    got: list[tuple[Any, bytes]] = []

    def arrived():
        got.extend(m for m in targets.amqp_messages() if m[0].headers["minio-bucket"] in buckets)
        return len(got) >= len(expected)

    wait_until(arrived, what="AMQP messages")
    norm = Normalized()
    assert [go_json(norm.log(body)) for _p, body in got] == [go_json(event_log(r, b, k)) for b, k, r in expected]
    check_sequencers(norm)
    for (props, _body), (b, _k, r) in zip(got, expected, strict=True):
        assert props.headers == {"minio-bucket": b, "minio-event": r["eventName"]}
        assert props.delivery_mode == 2
        assert props.content_type == "application/json"


def test_redis_access_format(scenario, targets):
    expected, buckets = scenario
    entries = wait_until(lambda: len(e := targets.redis_access()) >= len(expected) and e, what="RPUSH entries")
    norm = Normalized()
    got = []
    for raw in entries:
        doc = json.loads(raw)
        assert raw == go_json(doc)
        assert list(doc[0]) == ["Event", "EventTime"] and len(doc) == 1
        assert doc[0]["EventTime"] == doc[0]["Event"][0]["eventTime"]
        if doc[0]["Event"][0]["s3"]["bucket"]["name"] in buckets:
            got.append(go_json([{"Event": [norm.record(doc[0]["Event"][0])], "EventTime": "<time>"}]))
    assert got == [go_json([{"Event": [r], "EventTime": "<time>"}]) for _b, _k, r in expected]
    check_sequencers(norm)


def final_namespace(expected) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for b, k, r in expected:
        if r["eventName"] == "s3:ObjectRemoved:Delete":
            out.pop(f"{b}/{k}", None)
        else:
            out[f"{b}/{k}"] = {"Records": [r]}
    return out


def test_redis_namespace_format(scenario, targets, s3):
    expected, buckets = scenario
    want = {k: go_json(v) for k, v in final_namespace(expected).items()}

    # Everything was delivered once the access list (same follower step) is complete;
    # wait on the hash having exactly the final keys of our buckets.
    def state():
        h = {k: v for k, v in targets.redis_namespace().items() if k.split("/")[0] in buckets}
        return set(h) == set(want) and h

    got = wait_until(state, what="the namespace hash")
    norm = Normalized()
    assert {k: go_json(norm.records_value(v)) for k, v in got.items()} == want
    for v in got.values():
        assert v == go_json(json.loads(v))


def test_postgres_access_and_namespace(scenario, targets):
    expected, _ = scenario
    rows = wait_until(
        lambda: (
            len(r := targets.pg_rows(targets.pg_acc, "SELECT event_time, event_data FROM {t} ORDER BY event_time"))
            >= len(expected)
            and r
        ),
        what="PostgreSQL access rows",
    )
    cols = targets.pg.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
        (targets.pg_acc,),
    ).fetchall()
    assert cols == [("event_time", "timestamp with time zone"), ("event_data", "jsonb")]
    norm = Normalized()
    got = [norm.records_value(data) for _t, data in rows]
    # JSONB keeps no key order: compare values.
    assert got == [{"Records": [r]} for _b, _k, r in expected]
    for (t, _d), text in zip(rows, norm.times, strict=True):
        assert t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z" == text

    want = final_namespace(expected)
    ns = wait_until(
        lambda: {k: v for k, v in targets.pg_rows(targets.pg_ns, "SELECT key, value FROM {t}")} or None,
        what="PostgreSQL namespace rows",
    )
    wait_until(
        lambda: set(dict(targets.pg_rows(targets.pg_ns, "SELECT key, value FROM {t}"))) == set(want),
        what="the final namespace rows",
    )
    ns = dict(targets.pg_rows(targets.pg_ns, "SELECT key, value FROM {t}"))
    assert {k: Normalized().records_value(v) for k, v in ns.items()} == want
    cols = targets.pg.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
        (targets.pg_ns,),
    ).fetchall()
    assert cols == [("key", "character varying"), ("value", "jsonb")]


def test_mysql_access_and_namespace(scenario, targets):
    expected, _ = scenario
    rows = wait_until(
        lambda: (
            len(
                r := targets.mysql_select(
                    "SELECT DATE_FORMAT(event_time, '%Y-%m-%dT%H:%i:%s'), event_data FROM {db}.events_acc"
                )
            )
            >= len(expected)
            and r
        ),
        what="MySQL access rows",
    )
    norm = Normalized()
    mariadb = "mariadb" in mysql_rows(targets.mysql, "SELECT VERSION()")[0][0].lower()
    got = [norm.records_value(data) for _t, data in rows]
    if mariadb:  # JSON is LONGTEXT: stored verbatim, so the bytes and key order must match
        assert [go_json(g) for g in got] == [go_json({"Records": [r]}) for _b, _k, r in expected]
    assert got == [{"Records": [r]} for _b, _k, r in expected]
    assert [t for t, _d in rows] == [x[:19] for x in norm.times]

    want = final_namespace(expected)
    wait_until(
        lambda: {r[0] for r in targets.mysql_select("SELECT key_name FROM {db}.events_ns")} == set(want),
        what="the final MySQL namespace rows",
    )
    ns = targets.mysql_select("SELECT key_name, key_hash, SHA2(key_name, 256), value FROM {db}.events_ns")
    assert all(r[1] == r[2] for r in ns)
    assert {r[0]: Normalized().records_value(r[3]) for r in ns} == want
    cols = [r[0] for r in targets.mysql_select("SHOW COLUMNS FROM {db}.events_ns")]
    assert cols == ["key_name", "key_hash", "value"]


def test_copy_and_complete_report_the_response_length(s3, targets):
    """MinIO writes CopyObjectResult / CompleteMultipartUploadResult before sendEvent, so
    their records carry "content-length" = the XML's length (cmd/object-handlers.go)."""
    b = unique_bucket_name("e2ecl")
    s3.create_bucket(Bucket=b)
    try:
        s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration=rules("arn:minio:sqs::1:webhook"))
        s3.put_object(Bucket=b, Key="a", Body=b"x")
        copied = s3.copy_object(Bucket=b, Key="c", CopySource={"Bucket": b, "Key": "a"})
        upload = s3.create_multipart_upload(Bucket=b, Key="dir/m&<x>.bin", ChecksumAlgorithm="SHA256")
        part = s3.upload_part(
            Bucket=b,
            Key="dir/m&<x>.bin",
            UploadId=upload["UploadId"],
            PartNumber=1,
            Body=b"y" * 10,
            ChecksumAlgorithm="SHA256",
        )
        completed = s3.complete_multipart_upload(
            Bucket=b,
            Key="dir/m&<x>.bin",
            UploadId=upload["UploadId"],
            MultipartUpload={
                "Parts": [{"PartNumber": 1, "ETag": part["ETag"], "ChecksumSHA256": part["ChecksumSHA256"]}]
            },
        )

        def arrived(key: str) -> dict:
            logs = wait_until(
                lambda: [x for x in targets.webhook_logs() if json.loads(x)["Key"] == f"{b}/{key}"],
                what=key,
            )
            return json.loads(logs[0])["Records"][0]["responseElements"]

        for key, response in (("c", copied), ("dir/m&<x>.bin", completed)):
            length = response["ResponseMetadata"]["HTTPHeaders"]["content-length"]
            assert int(length) > 100
            assert arrived(key).get("content-length") == length, key
        assert "content-length" not in arrived("a")  # PutObject: sent before the headers
    finally:
        empty_and_delete_bucket(s3, b)


# -- rule filters -------------------------------------------------------------------------


def webhook_keys(targets: Targets, bucket: str) -> list[tuple[str, str]]:
    out = []
    for body in targets.webhook_logs():
        doc = json.loads(body)
        if doc["Key"].split("/", 1)[0] == bucket:
            out.append((doc["EventName"], doc["Key"].split("/", 1)[1]))
    return out


def test_prefix_suffix_and_event_wildcards(s3, targets):
    b = unique_bucket_name("e2ef")
    s3.create_bucket(Bucket=b)
    try:
        config = {
            "QueueConfigurations": [
                {
                    "QueueArn": "arn:minio:sqs::1:webhook",
                    "Events": ["s3:ObjectCreated:Put"],
                    "Filter": {
                        "Key": {
                            "FilterRules": [
                                {"Name": "prefix", "Value": "img/"},
                                {"Name": "suffix", "Value": ".jpg"},
                            ]
                        }
                    },
                },
                {
                    "QueueArn": "arn:minio:sqs::1:webhook",
                    "Events": ["s3:ObjectRemoved:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".log"}]}},
                },
            ]
        }
        s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration=config)
        for key in (
            "img/a.jpg",
            "img/a.png",
            "doc/a.jpg",
            "img/sub/b.jpg",
            "x.log",
            "img/c.jpg.bak",
        ):
            s3.put_object(Bucket=b, Key=key, Body=b"1")
        s3.copy_object(Bucket=b, Key="img/copy.jpg", CopySource={"Bucket": b, "Key": "img/a.jpg"})  # Copy ≠ Put
        for key in ("img/a.jpg", "x.log"):
            s3.delete_object(Bucket=b, Key=key)
        s3.put_object(Bucket=b, Key="img/last.jpg", Body=b"1")  # a marker: everything before it arrived
        want = [
            ("s3:ObjectCreated:Put", "img/a.jpg"),
            ("s3:ObjectCreated:Put", "img/sub/b.jpg"),
            ("s3:ObjectRemoved:Delete", "x.log"),
            ("s3:ObjectCreated:Put", "img/last.jpg"),
        ]
        assert (
            wait_until(
                lambda: (got := webhook_keys(targets, b)) and got[-1][1] == "img/last.jpg" and got,
                what="the filtered events",
            )
            == want
        )
    finally:
        empty_and_delete_bucket(s3, b)


def test_rules_apply_as_of_each_event(server_factory, pg_url, tmp_path):
    """Writes and rule changes are all in the log before any delivery runs (serve
    --no-delivery, then `chronicle worker`): each event is matched against the rules of
    its time, not today's."""
    hook = WebhookProcess(tmp_path).start()
    env = {
        "CHRONICLE_NOTIFY_WEBHOOK_ENABLE_1": "on",
        "CHRONICLE_NOTIFY_WEBHOOK_ENDPOINT_1": hook.url,
    }
    srv = server_factory("postgres", database_url=pg_url, env=env, extra_args=["--no-delivery"])
    c = srv.client()
    b = unique_bucket_name("e2er")
    c.create_bucket(Bucket=b)
    c.put_object(Bucket=b, Key="before-any-rule", Body=b"1")
    c.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration=rules("arn:minio:sqs::1:webhook"))
    c.put_object(Bucket=b, Key="a/1", Body=b"1")
    c.put_object(Bucket=b, Key="b/1", Body=b"1")
    c.put_bucket_notification_configuration(
        Bucket=b, NotificationConfiguration=rules("arn:minio:sqs::1:webhook", prefix="b/")
    )
    c.put_object(Bucket=b, Key="a/2", Body=b"1")
    c.put_object(Bucket=b, Key="b/2", Body=b"1")
    c.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={})
    c.put_object(Bucket=b, Key="b/3", Body=b"1")
    c.put_bucket_notification_configuration(
        Bucket=b,
        NotificationConfiguration=rules("arn:minio:sqs::1:webhook", events=["s3:ObjectRemoved:*"]),
    )
    c.delete_object(Bucket=b, Key="a/1")
    c.put_object(Bucket=b, Key="b/4", Body=b"1")
    time.sleep(0.5)
    assert hook.bodies() == []  # nothing delivers yet
    worker = subprocess.Popen(
        chronicle_command("worker"),
        cwd=str(REPO_ROOT),
        env=srv.env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "worker.log", "wb"),
    )
    try:
        want = [
            ("s3:ObjectCreated:Put", "a/1"),
            ("s3:ObjectCreated:Put", "b/1"),
            ("s3:ObjectCreated:Put", "b/2"),
            ("s3:ObjectRemoved:Delete", "a/1"),
        ]
        got = wait_until(
            lambda: (
                len(k := [(json.loads(x)["EventName"], json.loads(x)["Key"].split("/", 1)[1]) for x in hook.bodies()])
                >= 4
                and k
            ),
            what="deliveries",
        )
        time.sleep(0.5)
        assert [(json.loads(x)["EventName"], json.loads(x)["Key"].split("/", 1)[1]) for x in hook.bodies()] == want
        assert got[:4] == want
    finally:
        worker.terminate()
        worker.wait(10)
        hook.kill()


def test_postgres_backend_delivers_to_a_postgresql_target(server_factory, pg_url, targets):
    """On PostgreSQL each target is claimed with an advisory lock keyed by its name's
    CRC-32; notify_postgres:1's is above 2**31 (it used to find no lock function)."""
    env = {
        "CHRONICLE_NOTIFY_POSTGRES_ENABLE_1": "on",
        "CHRONICLE_NOTIFY_POSTGRES_CONNECTION_STRING_1": pg_connection_string(),
        "CHRONICLE_NOTIFY_POSTGRES_TABLE_1": targets.pg_acc + "_pgb",
        "CHRONICLE_NOTIFY_POSTGRES_FORMAT_1": "access",
    }
    srv = server_factory("postgres", database_url=pg_url, env=env)
    c = srv.client()
    b = unique_bucket_name("e2epg")
    c.create_bucket(Bucket=b)
    c.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration=rules("arn:minio:sqs::1:postgresql"))
    try:
        c.put_object(Bucket=b, Key="k", Body=b"1")
        rows = wait_until(
            lambda: targets.pg_rows(targets.pg_acc + "_pgb", "SELECT event_data FROM {t}"),
            what="the row",
        )
        assert [r[0]["Records"][0]["s3"]["object"]["key"] for r in rows] == ["k"]
    finally:
        targets.pg.execute(f"DROP TABLE IF EXISTS {targets.pg_acc}_pgb")

"""Notification targets configured at run time: MinIO's set/get/del-config-kv through
minio-py's MinioAdmin, `chronicle admin config ...`, and the environment. A change is an
event: it takes effect without a restart, survives replay, and no secret reaches the
event store, the projection tables or the server log in plaintext."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import uuid

import pytest
from botocore.exceptions import ClientError
from minio import MinioAdmin
from minio.credentials import StaticProvider
from minio.error import MinioAdminException

from tests.conftest import unique_bucket_name
from tests.helpers.server import REPO_ROOT, ServerFactory, chronicle_command

REDIS_PASSWORD = "redis-pw-" + uuid.uuid4().hex[:8]
TOKEN = "hook-token-" + uuid.uuid4().hex[:8]
PG_PASSWORD = "pg-pw-" + uuid.uuid4().hex[:8]
ENV = {
    "CHRONICLE_NOTIFY_WEBHOOK_ENABLE_7": "on",
    "CHRONICLE_NOTIFY_WEBHOOK_ENDPOINT_7": "http://127.0.0.1:1/env",
    "CHRONICLE_NOTIFY_WEBHOOK_AUTH_TOKEN_7": TOKEN,
}
SECRETS = (REDIS_PASSWORD, TOKEN, PG_PASSWORD)


def admin_client(server) -> MinioAdmin:
    return MinioAdmin(
        endpoint=server.address,
        credentials=StaticProvider(server.access_key, server.secret_key),
        secure=False,
    )


def failure(call, *args, **kwargs) -> tuple[int, dict]:
    with pytest.raises(MinioAdminException) as info:
        call(*args, **kwargs)
    return int(info.value._code), json.loads(info.value._body)


def get_failure(server, key: str) -> tuple[int, str]:
    """get-config-kv that must fail: minio-py's config_get hides the error behind an
    UnboundLocalError (its finally clause), so ask with the CLI's signed client."""
    from cli.admin_client import AdminClient, ServerError

    client = AdminClient(server.endpoint, server.access_key, server.secret_key)
    with pytest.raises(ServerError) as info:
        client.call("GET", "get-config-kv", {"key": key, "subSys": ""}, decrypt=True, raw=True)
    return info.value.status, info.value.code


def queue_config(arn: str) -> dict:
    return {"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]}


def put_rule(s3, bucket: str, arn: str) -> None:
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=queue_config(arn))


def rejected_arn(s3, bucket: str, arn: str) -> str:
    with pytest.raises(ClientError) as exc:
        put_rule(s3, bucket, arn)
    err = exc.value.response["Error"]
    assert "destination ARN does not exist" in err["Message"]
    return err["Code"]


@pytest.fixture
def nserver(tmp_path):
    factory = ServerFactory(tmp_path / "servers")
    yield factory("sqlite", env=ENV)
    factory.close()


def run_cli(server, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHRONICLE_")}
    env.update(
        CHRONICLE_ADMIN_ENDPOINT=server.endpoint,
        CHRONICLE_ROOT_USER=server.access_key,
        CHRONICLE_ROOT_PASSWORD=server.secret_key,
    )
    res = subprocess.run(
        chronicle_command("admin", *args),
        env=env,
        cwd=str(REPO_ROOT),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    if ok:
        assert res.returncode == 0, f"{args}: {res.stdout}\n{res.stderr}"
    return res


def database_bytes(server) -> bytes:
    """Every byte of the SQLite database (event store and projections), WAL included."""
    out = b""
    for path in sorted(server.data_dir.glob("chronicle.sqlite3*")):
        out += path.read_bytes()
    return out


def test_set_get_del_through_minio_admin_take_effect_without_restart(nserver):
    admin = admin_client(nserver)
    s3 = nserver.client()
    bucket = unique_bucket_name("ncfg")
    s3.create_bucket(Bucket=bucket)
    arn = "arn:minio:sqs::1:redis"
    assert rejected_arn(s3, bucket, arn) == "InvalidArgument"

    assert (
        admin.config_set(
            "notify_redis:1",
            {
                "address": "127.0.0.1:6379",
                "key": "events",
                "format": "access",
                "password": REDIS_PASSWORD,
            },
        )
        == ""
    )
    put_rule(s3, bucket, arn)  # the new target is known at once, no restart
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert got["QueueConfigurations"][0]["QueueArn"] == arn

    text = admin.config_get("notify_redis:1")
    assert text.startswith("notify_redis:1 ") and text.endswith("\n")
    assert "address=127.0.0.1:6379" in text and "key=events" in text and "format=access" in text
    assert REDIS_PASSWORD not in text and "password=" not in text  # left out, as MinIO does

    # A set merges into the current settings (MinIO): the address stays.
    admin.config_set("notify_redis:1", {"format": "namespace"})
    text = admin.config_get("notify_redis:1")
    assert "format=namespace" in text and "address=127.0.0.1:6379" in text

    info = json.loads(admin.info())
    assert arn in info["sqsARN"] and "arn:minio:sqs::7:webhook" in info["sqsARN"]

    assert admin.config_reset("notify_redis:1") == ""
    assert rejected_arn(s3, bucket, arn) == "InvalidArgument"
    # The rule naming the removed target is no longer shown (as MinIO).
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)
    assert get_failure(nserver, "notify_redis:1") == (400, "XMinioConfigError")
    status, body = failure(admin.config_reset, "notify_redis:1")
    assert status == 404 and body["Code"] == "XMinioConfigNotFoundError"

    # Configured again after its removal.
    admin.config_set("notify_redis:1", {"address": "127.0.0.1:6379", "key": "events2"})
    put_rule(s3, bucket, arn)

    log = nserver.stderr_text() + nserver.stdout_text()
    arn_lines = [line for line in log.splitlines() if "SQS ARNs:" in line]
    assert arn_lines[0].endswith("SQS ARNs: arn:minio:sqs::7:webhook")  # at start
    assert any(line.endswith(f"SQS ARNs: {arn} arn:minio:sqs::7:webhook") for line in arn_lines)  # on change
    for secret in SECRETS:
        assert secret not in log


def test_validation_errors_say_what_to_fix(nserver):
    admin = admin_client(nserver)
    cases = [
        (("notify_kafka:1", {"brokers": "x"}), "XMinioConfigError", "not supported"),
        (("region", {"name": "x"}), "XMinioConfigError", "unknown sub-system"),
        (("notify_redis:1", {"adress": "x"}), "XMinioConfigError", "unknown key 'adress'"),
        (
            ("notify_redis:1", {"address": "127.0.0.1:6379", "key": "k", "format": "json"}),
            "XMinioAdminConfigBadJSON",
            "format must be 'namespace' or 'access'",
        ),
        (
            ("notify_redis:1", {"address": "127.0.0.1:6379"}),
            "XMinioAdminConfigBadJSON",
            "'key' is required",
        ),
        (
            ("notify_webhook:1", {"endpoint": "ftp://x"}),
            "XMinioAdminConfigBadJSON",
            "endpoint must be an http",
        ),
    ]
    for args, code, words in cases:
        status, body = failure(admin.config_set, *args)
        assert status == 400 and body["Code"] == code and words in body["Message"], (args, body)
    assert "notify_redis" not in admin.config_get("notify_redis")  # nothing was stored


def test_secrets_are_sealed_and_redacted(nserver):
    admin = admin_client(nserver)
    conn = f"host=127.0.0.1 port=5432 dbname=events user=chronicle password={PG_PASSWORD} sslmode=disable"
    # minio-py sends the connection string unquoted, spaces and all.
    admin.config_set(
        "notify_postgres:pg",
        {"connection_string": conn, "table": "bucketevents", "format": "namespace"},
    )
    admin.config_set("notify_webhook:hook", {"endpoint": "http://127.0.0.1:1/h", "auth_token": TOKEN})
    admin.config_set("notify_redis:r", {"address": "127.0.0.1:6379", "key": "k", "password": REDIS_PASSWORD})
    text = admin.config_get("")
    assert (
        'connection_string="host=127.0.0.1 port=5432 dbname=events user=chronicle password=*redacted* sslmode=disable"'
        in text
    )
    assert "notify_webhook:hook endpoint=http://127.0.0.1:1/h " in text and "auth_token" not in text
    assert "# CHRONICLE_NOTIFY_WEBHOOK_ENDPOINT_7=http://127.0.0.1:1/env" in text
    for secret in SECRETS:
        assert secret not in text
    # Feeding the listing's mask back is refused rather than stored as the password.
    status, body = failure(
        admin.config_set,
        "notify_postgres:pg",
        {"connection_string": conn.replace(PG_PASSWORD, "*redacted*")},
    )
    assert status == 400 and "real value" in body["Message"]

    nserver.stop()
    raw = database_bytes(nserver)
    assert b"notify_postgres" in raw and b"bucketevents" in raw
    for secret in SECRETS:
        assert secret.encode() not in raw
    log = nserver.stderr_text() + nserver.stdout_text()
    for secret in SECRETS:
        assert secret not in log


def test_environment_is_recorded_and_wins_and_replay_rebuilds(nserver):
    admin = admin_client(nserver)
    # The environment's target was recorded in the log at start, as source "env".
    nserver.stop()
    db = sqlite3.connect(nserver.data_dir / "chronicle.sqlite3")
    row = db.execute(
        "SELECT settings, enabled, source FROM notify_targets WHERE subsystem = 'notify_webhook' AND target_id = '7'"
    ).fetchone()
    db.close()
    assert row is not None and row[1] == 1 and row[2] == "env"
    assert json.loads(row[0])["endpoint"] == "http://127.0.0.1:1/env"
    assert json.loads(row[0])["auth_token"] not in ("", TOKEN)  # sealed
    nserver.start()

    # A stored change of a key the environment sets does not win on this node.
    admin.config_set("notify_webhook:7", {"endpoint": "http://127.0.0.1:1/stored"})
    text = admin.config_get("notify_webhook:7")
    assert "endpoint=http://127.0.0.1:1/env" in text and "# CHRONICLE_NOTIFY_WEBHOOK_ENDPOINT_7=" in text
    # At the next start the environment differs from the log again and is recorded again.
    nserver.stop()
    nserver.start()
    assert (
        "recorded the environment's settings of notify_webhook:7"
        in nserver.stderr_text().split("--- chronicle start #3 ---")[-1]
    )
    # Starting with the same environment again records nothing.
    nserver.stop()
    nserver.start()
    assert "recorded the environment" not in nserver.stderr_text().split("--- chronicle start #4 ---")[-1]

    admin.config_set(
        "notify_amqp:q",
        {"url": "amqp://guest:guest@127.0.0.1:5672", "exchange": "x", "exchange_type": "fanout"},
    )
    admin.config_set("notify_mysql:m", {"dsn_string": "root:pw@tcp(127.0.0.1:3306)/db", "table": "t"})
    admin.config_reset("notify_mysql:m")
    nserver.stop()
    from tests.integration.test_replay import dump

    before = dump(None, nserver.data_dir)
    assert len(before["notify_targets"]) == 2 and before["notify_targets_generation"]
    res = subprocess.run(
        chronicle_command("replay", "--data-dir", str(nserver.data_dir)),
        cwd=str(REPO_ROOT),
        env=nserver.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert dump(None, nserver.data_dir) == before


def test_cli_config_and_info(nserver):
    s3 = nserver.client()
    bucket = unique_bucket_name("ncli")
    s3.create_bucket(Bucket=bucket)
    res = run_cli(
        nserver,
        "config",
        "set",
        "notify_redis:cli",
        "address=127.0.0.1:6379",
        "key=cli-events",
        "format=access",
        f"password={REDIS_PASSWORD}",
        "comment=set from the cli",
    )
    assert "arn:minio:sqs::cli:redis" in res.stdout
    put_rule(s3, bucket, "arn:minio:sqs::cli:redis")

    text = run_cli(nserver, "config", "get", "notify_redis:cli").stdout
    assert "key=cli-events" in text and 'comment="set from the cli"' in text and REDIS_PASSWORD not in text
    listed = json.loads(run_cli(nserver, "--json", "config", "get").stdout)
    by_target = {t["target"]: t for t in listed}
    assert by_target["notify_redis:cli"]["settings"]["format"] == "access"
    assert by_target["notify_webhook:7"]["env"]["CHRONICLE_NOTIFY_WEBHOOK_ENDPOINT_7"] == "http://127.0.0.1:1/env"

    info = run_cli(nserver, "info").stdout
    assert "arn:minio:sqs::cli:redis" in info and "arn:minio:sqs::7:webhook" in info

    bad = run_cli(nserver, "config", "set", "notify_redis:cli", "format=xml", ok=False)
    assert bad.returncode == 1 and "format must be 'namespace' or 'access'" in bad.stderr
    run_cli(nserver, "config", "del", "notify_redis:cli")
    assert rejected_arn(s3, bucket, "arn:minio:sqs::cli:redis") == "InvalidArgument"
    gone = run_cli(nserver, "config", "del", "notify_redis:cli", ok=False)
    assert gone.returncode == 1 and "not configured" in gone.stderr


def test_a_plain_user_cannot_change_targets(nserver):
    admin = admin_client(nserver)
    user, secret = "plain-" + uuid.uuid4().hex[:6], "plain-secret-1"
    admin.user_add(user, secret)
    plain = MinioAdmin(endpoint=nserver.address, credentials=StaticProvider(user, secret), secure=False)
    for call, args in (
        (plain.config_set, ("notify_redis:1", {"address": "127.0.0.1:6379", "key": "k"})),
        (plain.config_reset, ("notify_webhook:7",)),
    ):
        status, body = failure(call, *args)
        assert status == 403 and body["Code"] == "AccessDenied"
    from cli.admin_client import AdminClient, ServerError

    with pytest.raises(ServerError) as info:
        AdminClient(nserver.endpoint, user, secret).call(
            "GET", "get-config-kv", {"key": "notify_webhook"}, decrypt=True, raw=True
        )
    assert info.value.status == 403 and info.value.code == "AccessDenied"


def test_other_nodes_follow_changes_on_postgres(tmp_path, pg_url):
    """Two nodes on one PostgreSQL: the first records its environment's target, the second
    (without that environment) knows it; a target set through one node is accepted by the
    other within about a second (its generation check), and removed the same way."""
    import time

    from tests.helpers.server import master_key

    factory = ServerFactory(tmp_path / "servers")
    key = master_key()
    try:
        a = factory("postgres", database_url=pg_url, env=ENV, master_key_hex=key)
        b = factory(
            "postgres",
            database_url=pg_url,
            master_key_hex=key,
            access_key=a.access_key,
            secret_key=a.secret_key,
            migrate=False,
        )
        s3_a, s3_b = a.client(), b.client()
        bucket = unique_bucket_name("nodes")
        s3_a.create_bucket(Bucket=bucket)
        put_rule(s3_b, bucket, "arn:minio:sqs::7:webhook")  # recorded by node a's start

        admin_client(a).config_set(
            "notify_redis:shared",
            {"address": "127.0.0.1:6379", "key": "k", "password": REDIS_PASSWORD},
        )
        deadline = time.monotonic() + 5
        while True:
            try:
                put_rule(s3_b, bucket, "arn:minio:sqs::shared:redis")
                break
            except ClientError:
                assert time.monotonic() < deadline, "node b never saw the new target"
                time.sleep(0.2)
        assert "arn:minio:sqs::shared:redis" in json.loads(admin_client(b).info())["sqsARN"]
        admin_client(b).config_reset("notify_redis:shared")
        rejected_arn(s3_b, bucket, "arn:minio:sqs::shared:redis")  # at once through b itself
        for srv in (a, b):
            log = srv.stderr_text() + srv.stdout_text()
            assert REDIS_PASSWORD not in log and TOKEN not in log
    finally:
        factory.close()


def test_a_target_set_at_run_time_receives_events(nserver):
    """The delivery loops follow the stored configuration: a Redis target set through the
    admin API gets the records of the rule that names it, without a restart."""
    import time

    import redis

    from tests.helpers.services import REDIS_URL

    admin = admin_client(nserver)
    s3 = nserver.client()
    bucket = unique_bucket_name("ndel")
    s3.create_bucket(Bucket=bucket)
    list_key = "chronicle-test-" + uuid.uuid4().hex[:10]
    address = REDIS_URL.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    target_id = uuid.uuid4().hex[:6]
    admin.config_set(f"notify_redis:{target_id}", {"address": address, "key": list_key, "format": "access"})
    put_rule(s3, bucket, f"arn:minio:sqs::{target_id}:redis")
    s3.put_object(Bucket=bucket, Key="hello.txt", Body=b"hi")
    r = redis.Redis.from_url(REDIS_URL)
    try:
        deadline = time.monotonic() + 15
        while r.llen(list_key) == 0:
            assert time.monotonic() < deadline, nserver.stderr_text()[-2000:]
            time.sleep(0.1)
        entry = json.loads(r.lindex(list_key, 0))
        assert entry[0]["Event"][0]["eventName"] == "s3:ObjectCreated:Put"
        assert entry[0]["Event"][0]["s3"]["object"]["key"] == "hello.txt"
    finally:
        r.delete(list_key)


def test_help_lists_each_targets_keys(nserver):
    """help-config-kv (what mc prints for `mc admin config set ALIAS notify_redis`) and
    `chronicle admin config help`: every key a target takes, which are required, what they
    mean; an unknown sub-system or key is a config error, and plain users are refused."""
    from cli.admin_client import AdminClient, ServerError

    client = AdminClient(nserver.endpoint, nserver.access_key, nserver.secret_key)
    redis = client.call("GET", "help-config-kv", {"subSys": "notify_redis", "key": ""})
    assert redis["subSys"] == "notify_redis" and redis["multipleTargets"] is True
    keys = {k["key"]: k for k in redis["keysHelp"]}
    assert {"enable", "address", "key", "format", "password", "user", "key_encoding"} <= set(keys)
    assert keys["address"]["optional"] is False and keys["password"]["optional"] is True
    assert keys["enable"]["type"] == "on|off" and "6379" in keys["address"]["description"]
    # Every key the help names is one set-config-kv accepts.
    for sub in ("notify_postgres", "notify_mysql", "notify_amqp", "notify_webhook", "audit_webhook"):
        doc = client.call("GET", "help-config-kv", {"subSys": sub, "key": ""})
        assert all(k["description"] for k in doc["keysHelp"]), sub
    one = client.call("GET", "help-config-kv", {"subSys": "notify_webhook", "key": "auth_token"})
    assert [k["key"] for k in one["keysHelp"]] == ["auth_token"]
    listing = client.call("GET", "help-config-kv", {"subSys": "", "key": ""})
    assert [k["key"] for k in listing["keysHelp"]] == [
        "notify_redis",
        "notify_postgres",
        "notify_mysql",
        "notify_amqp",
        "notify_webhook",
        "audit_webhook",  # MinIO lists every sub-system; the request audit's webhook is one
    ]
    for query in ({"subSys": "notify_kafkaesque", "key": ""}, {"subSys": "notify_redis", "key": "nope"}):
        with pytest.raises(ServerError) as info:
            client.call("GET", "help-config-kv", query)
        assert info.value.status == 400 and info.value.code == "XMinioConfigError"

    user, secret = "plainh-" + uuid.uuid4().hex[:6], "plain-secret-1"
    admin_client(nserver).user_add(user, secret)
    with pytest.raises(ServerError) as info:
        AdminClient(nserver.endpoint, user, secret).call("GET", "help-config-kv", {"subSys": "notify_redis", "key": ""})
    assert info.value.status == 403

    text = run_cli(nserver, "config", "help", "notify_amqp").stdout
    assert "notify_amqp:" in text and "delivery_mode" in text and "required" in text
    as_json = json.loads(run_cli(nserver, "--json", "config", "help", "notify_mysql", "dsn_string").stdout)
    assert [k["key"] for k in as_json["keysHelp"]] == ["dsn_string"]

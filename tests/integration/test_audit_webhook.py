"""The request audit sent to MinIO's ``audit_webhook`` targets: configured with `chronicle
admin config set` or the admin API as mc calls it, delivered off the request path to a real
receiver (tests/helpers/webhook_receiver.py, its own process) in MinIO's entry format with
MinIO's headers, at-least-once from the request audit table: a receiver that was down gets
what was recorded meanwhile, a restarted server resumes where it stood, one node delivers
each target. The auth token is sealed and never shown back."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid

import pytest
import requests
from minio import MinioAdmin
from minio.credentials import StaticProvider
from minio.error import MinioAdminException

from tests.helpers.notify import WebhookProcess, wait_until
from tests.helpers.prometheus import scrape
from tests.helpers.server import REPO_ROOT, ServerFactory, chronicle_command, master_key

pytestmark = pytest.mark.timeout(240)

AUDIT_ON = {"CHRONICLE_AUDIT_REQUESTS": "on"}


def token() -> str:
    return "audit-token-" + uuid.uuid4().hex[:10]


def run_admin(srv, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHRONICLE_")}
    env.update(
        CHRONICLE_ADMIN_ENDPOINT=srv.endpoint,
        CHRONICLE_ROOT_USER=srv.access_key,
        CHRONICLE_ROOT_PASSWORD=srv.secret_key,
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
    assert "Traceback" not in res.stderr, res.stderr
    if ok:
        assert res.returncode == 0, f"{args}: {res.stdout}\n{res.stderr}"
    return res


def mc(srv) -> MinioAdmin:
    """The admin API as mc calls it (minio-py signs and encrypts the same way)."""
    return MinioAdmin(endpoint=srv.address, credentials=StaticProvider(srv.access_key, srv.secret_key), secure=False)


def received(hook: WebhookProcess) -> list[dict]:
    """Every entry the receiver got, each with the request that carried it."""
    out = []
    for req in hook.requests():
        for line in req["body"].splitlines():
            out.append({"entry": json.loads(line), "request": req})
    return out


def request_ids(hook: WebhookProcess) -> list[str]:
    return [e["entry"]["requestID"] for e in received(hook)]


def wait_delivering(srv, hook: WebhookProcess) -> None:
    """A target is claimed within about a second of being set: probe until one arrives."""
    probe = "probe-" + uuid.uuid4().hex[:8]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        requests.get(f"{srv.endpoint}/{probe}", timeout=10)
        if any(probe in r["body"] for r in hook.requests()):
            return
        time.sleep(0.3)
    raise AssertionError("the audit webhook never delivered:\n" + srv.stderr_text()[-3000:])


def anonymous_and_signed_requests(srv) -> dict[str, str]:
    """A signed read, a listing and an anonymous refused read; their request ids."""
    s3 = srv.client()
    bucket = "audited-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="report.csv", Body=b"a,b\n")
    got = s3.get_object(Bucket=bucket, Key="report.csv")
    listed = s3.list_objects_v2(Bucket=bucket)
    refused = requests.get(f"{srv.endpoint}/{bucket}/report.csv", timeout=30)
    assert refused.status_code == 403
    return {
        "GetObject": got["ResponseMetadata"]["RequestId"],
        "ListObjectsV2": listed["ResponseMetadata"]["RequestId"],
        "refused": refused.headers["x-amz-request-id"],
    }


def test_reads_and_refusals_reach_the_receiver_in_minio_format(server_factory, tmp_path):
    """Configured with `chronicle admin config set`; on PostgreSQL, see the two-node test."""
    srv = server_factory("sqlite", env=AUDIT_ON)
    hook = WebhookProcess(tmp_path / "hook").start()
    secret = token()
    try:
        out = run_admin(srv, "config", "set", "audit_webhook:1", f"endpoint={hook.url}", f"auth_token={secret}").stdout
        assert "audit_webhook:1" in out and "ARN" not in out  # no ARN: bucket rules cannot name it
        wait_delivering(srv, hook)
        ids = anonymous_and_signed_requests(srv)
        wait_until(lambda: set(ids.values()) <= set(request_ids(hook)), 30, "the entries at the receiver")
    finally:
        hook.kill()
    by_id = {e["entry"]["requestID"]: e for e in received(hook)}
    read = by_id[ids["GetObject"]]["entry"]
    assert read["version"] == "1" and read["trigger"] == "incoming" and read["deploymentid"]
    assert read["api"]["name"] == "GetObject" and read["api"]["statusCode"] == 200 and read["api"]["tx"] == 4
    assert read["accessKey"] == srv.access_key and "authorization" not in read["requestHeader"]
    assert by_id[ids["ListObjectsV2"]]["entry"]["api"]["name"] == "ListObjectsV2"
    refused = by_id[ids["refused"]]["entry"]
    assert refused["api"]["statusCode"] == 403 and refused["error"] == "AccessDenied" and refused["accessKey"] == ""

    # batch_size 1 (the default): one entry per request, as Go's json.Encoder writes it.
    req = by_id[ids["GetObject"]]["request"]
    assert req["body"].endswith("}\n") and req["body"].count("\n") == 1
    headers = req["headers"]
    assert headers["content-type"] == "application/json"
    assert headers["authorization"] == secret  # the token as it is, as MinIO sends it
    assert headers["x-minio-webhook-payload-count"] == "1"
    assert headers["x-minio-deployment-id"] == read["deploymentid"]
    assert headers["user-agent"] == "Chronicle"
    assert request_ids(hook).count(ids["GetObject"]) == 1

    shown = run_admin(srv, "config", "get", "audit_webhook:1").stdout
    assert shown.startswith("audit_webhook:1 ") and f"endpoint={hook.url}" in shown and "batch_size=1" in shown
    assert "auth_token" not in shown
    for text in (shown, srv.stderr_text() + srv.stdout_text()):
        assert secret not in text
    assert "SQS ARNs: arn" not in srv.stderr_text()  # not a notification target
    srv.stop()
    stored = b"".join(p.read_bytes() for p in sorted(srv.data_dir.glob("chronicle.sqlite3*")))
    assert b"audit_webhook" in stored and secret.encode() not in stored  # sealed at rest


def test_mc_configures_batches_help_and_refusals(server_factory, tmp_path):
    """Through the admin API as mc calls it: set (batch_size 5), get without the token,
    help (what `mc admin config set ALIAS audit_webhook` prints), MinIO's validation, reset.
    Batches are newline-delimited JSON without a Content-Type; receivers that close every
    connection (HTTP/1.0, `Connection: close`) get everything too."""
    from cli.admin_client import AdminClient

    srv = server_factory("sqlite", env=AUDIT_ON)
    admin = mc(srv)
    hooks = {style: WebhookProcess(tmp_path / style, style=style).start() for style in ("aiohttp", "http10", "close")}
    secret = token()
    try:
        assert (
            admin.config_set(
                "audit_webhook:batch",
                {"endpoint": hooks["aiohttp"].url, "auth_token": secret, "batch_size": "5", "retry_interval": "1s"},
            )
            == ""
        )
        for style in ("http10", "close"):
            admin.config_set(f"audit_webhook:{style}", {"endpoint": hooks[style].url, "http_timeout": "2s"})
        text = admin.config_get("audit_webhook:batch")
        assert "batch_size=5" in text and "retry_interval=1s" in text and secret not in text
        assert "auth_token" not in text
        for hook in hooks.values():
            wait_delivering(srv, hook)
        s3 = srv.client()
        ids = [s3.list_buckets()["ResponseMetadata"]["RequestId"] for _ in range(23)]
        for hook in hooks.values():
            wait_until(lambda hook=hook: set(ids) <= set(request_ids(hook)), 30, "23 listings at every receiver")
    finally:
        for hook in hooks.values():
            hook.kill()
    for style, hook in hooks.items():
        got = request_ids(hook)
        assert [rid for rid in got if rid in ids] == ids, style  # each once, in order (delivery kept up)
    batched = [r for r in hooks["aiohttp"].requests() if any(i in r["body"] for i in ids)]
    assert max(r["body"].count("\n") for r in batched) == 5 and len(batched) < len(ids)
    for r in batched:
        assert r["type"] is None and r["auth"] == secret  # MinIO sends batches without a Content-Type
        assert r["headers"]["x-minio-webhook-payload-count"] == str(r["body"].count("\n"))

    client = AdminClient(srv.endpoint, srv.access_key, srv.secret_key)
    doc = client.call("GET", "help-config-kv", {"subSys": "audit_webhook", "key": ""})
    keys = {k["key"]: k for k in doc["keysHelp"]}
    assert doc["subSys"] == "audit_webhook" and doc["multipleTargets"] is True
    assert list(keys) == [
        "enable",
        "endpoint",
        "auth_token",
        "client_cert",
        "client_key",
        "batch_size",
        "queue_size",
        "queue_dir",
        "max_retry",
        "retry_interval",
        "http_timeout",
        "comment",
    ]
    assert keys["endpoint"]["optional"] is False and keys["http_timeout"]["type"] == "duration"
    listing = client.call("GET", "help-config-kv", {"subSys": "", "key": ""})
    assert "audit_webhook" in [k["key"] for k in listing["keysHelp"]]
    assert "batch_size" in run_admin(srv, "config", "help", "audit_webhook").stdout

    for kvs, words in (
        ({"endpoint": hooks["aiohttp"].url, "batch_size": "0"}, "invalid batch_size"),
        ({"endpoint": hooks["aiohttp"].url, "http_timeout": "500ms"}, "minimum value allowed for http_timeout"),
        ({"endpoint": hooks["aiohttp"].url, "retry_interval": "2m"}, "maximum allowed value for retry_interval"),
        ({"endpoint": "ftp://x"}, "endpoint must be an http"),
        ({"endpoint": hooks["aiohttp"].url, "key_encoding": "aws"}, "unknown key 'key_encoding'"),
    ):
        with pytest.raises(MinioAdminException) as info:
            admin.config_set("audit_webhook:bad", kvs)
        assert int(info.value._code) == 400 and words in json.loads(info.value._body)["Message"], kvs
    with pytest.raises(MinioAdminException) as info:
        admin.config_set("audit_kafka:1", {"brokers": "127.0.0.1:9092"})
    assert "not supported" in json.loads(info.value._body)["Message"]
    assert "audit_webhook:bad" not in admin.config_get("audit_webhook")

    assert admin.config_reset("audit_webhook:batch") == ""
    assert "audit_webhook:batch" not in admin.config_get("audit_webhook")
    assert secret not in srv.stderr_text() + srv.stdout_text()


def test_a_receiver_down_gets_everything_later_and_a_restart_resumes(server_factory, tmp_path):
    srv = server_factory("sqlite", env={**AUDIT_ON, "CHRONICLE_PROMETHEUS_AUTH_TYPE": "public"})
    hook = WebhookProcess(tmp_path / "hook").start()
    try:
        run_admin(srv, "config", "set", "audit_webhook:1", f"endpoint={hook.url}", "retry_interval=1s")
        wait_delivering(srv, hook)
        s3 = srv.client()
        hook.kill()
        while_down = [s3.list_buckets()["ResponseMetadata"]["RequestId"] for _ in range(30)]
        time.sleep(1.5)  # a few failed attempts
        hook.start()
        wait_until(lambda: set(while_down) <= set(request_ids(hook)), 30, "the entries recorded while it was down")
        queued = lambda: scrape(srv.endpoint).value("minio_audit_target_queue_length", target_id="1")  # noqa: E731
        wait_until(lambda: queued() == 0, 10, "an empty queue")
        metrics = scrape(srv.endpoint)
        assert metrics.value("minio_audit_total_messages", target_id="1") >= len(while_down) + 1
        assert metrics.value("minio_audit_failed_messages", target_id="1") >= len(while_down)
        assert metrics.value("chronicle_audit_target_up", target_id="1") == 1

        # Down again, and the server restarted meanwhile: the new process resumes from the
        # stored position and sends what the old one recorded, and nothing it had delivered.
        hook.kill()
        before_restart = [s3.list_buckets()["ResponseMetadata"]["RequestId"] for _ in range(20)]
        srv.stop()
        hook.start()
        srv.start()
        wait_until(lambda: set(before_restart) <= set(request_ids(hook)), 30, "the entries recorded before the restart")
        after = srv.client().list_buckets()["ResponseMetadata"]["RequestId"]
        wait_until(lambda: after in request_ids(hook), 30, "an entry recorded after the restart")
    finally:
        hook.kill()
    got = request_ids(hook)
    expected = [*while_down, *before_restart, after]
    assert [rid for rid in got if rid in expected] == expected  # each once, in order: nothing lost or repeated
    assert "audit delivery failed, retrying" in srv.stderr_text()


def test_one_node_delivers_each_target_on_postgres(tmp_path, pg_url):
    """Two nodes on one database, both serving and recording requests: each entry reaches
    the receiver once (one node holds the target), whichever node recorded it."""
    factory = ServerFactory(tmp_path / "servers")
    key = master_key()
    hook = WebhookProcess(tmp_path / "hook").start()
    try:
        a = factory("postgres", database_url=pg_url, env=AUDIT_ON, master_key_hex=key)
        b = factory(
            "postgres",
            database_url=pg_url,
            env=AUDIT_ON,
            master_key_hex=key,
            access_key=a.access_key,
            secret_key=a.secret_key,
            migrate=False,
        )
        mc(a).config_set("audit_webhook:shared", {"endpoint": hook.url, "batch_size": "3"})
        wait_delivering(a, hook)
        wait_delivering(b, hook)
        ids = []
        clients = (a.client(), b.client())
        for _ in range(15):
            for s3 in clients:
                ids.append(s3.list_buckets()["ResponseMetadata"]["RequestId"])
        wait_until(lambda: set(ids) <= set(request_ids(hook)), 30, "both nodes' entries")
        time.sleep(1.0)  # a second deliverer, if there were one, would repeat them by now
        got = request_ids(hook)
        assert all(got.count(rid) == 1 for rid in ids)
    finally:
        hook.kill()
        factory.close()

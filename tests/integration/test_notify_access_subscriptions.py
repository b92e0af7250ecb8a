"""s3:ObjectAccessed events are recorded from the very first read after a subscription
appears: a read that happens once PutBucketNotificationConfiguration returned, or once a
listen stream answered, is recorded on whichever node serves it (two nodes sharing one
PostgreSQL database), on SQLite and on PostgreSQL, by root and by an IAM user (whose GET
reads its credential, the bucket and the version in one statement).
"""

from __future__ import annotations

import json
import os
import time
import uuid

import boto3
import pytest
from botocore.config import Config

from tests.conftest import unique_bucket_name
from tests.helpers.notify import WebhookProcess, wait_until
from tests.helpers.server import master_key
from tests.integration.test_listen import signed_get

pytestmark = pytest.mark.timeout(180)

ARN = "arn:minio:sqs::1:webhook"
READS = 5
READ_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::*"]}],
}


def hook_env(hook: WebhookProcess) -> dict[str, str]:
    return {
        "CHRONICLE_NOTIFY_WEBHOOK_ENABLE_1": "on",
        "CHRONICLE_NOTIFY_WEBHOOK_ENDPOINT_1": hook.url,
    }


def iam_reader(server):
    """An s3 client of a new IAM user allowed s3:GetObject."""
    iam = server.client("iam")
    user = f"reader-{uuid.uuid4().hex[:10]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=json.dumps(READ_POLICY))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return boto3.session.Session().client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
    )


def accessed(hook: WebhookProcess, bucket: str) -> list[str]:
    """The keys of the s3:ObjectAccessed:Get records the webhook got for BUCKET."""
    out = []
    for body in hook.bodies():
        log = json.loads(body)
        if log["EventName"] == "s3:ObjectAccessed:Get" and log["Key"].startswith(bucket + "/"):
            out.append(log["Key"].split("/", 1)[1])
    return out


def check_rules_apply_to_the_first_read(rules_node, readers, hook: WebhookProcess) -> None:
    """For each reader (an s3 client, any node): a new bucket and object, a read before any
    rule (the node's cache then knows no rule for it), the rule set through RULES_NODE,
    then READS reads: READS records, the first one included."""
    root = rules_node.client()
    for n, reader in enumerate(readers):
        b = unique_bucket_name("acc")
        root.create_bucket(Bucket=b)
        root.put_object(Bucket=b, Key="k", Body=b"v")
        reader.get_object(Bucket=b, Key="k")["Body"].read()  # not recorded: nobody subscribes
        root.put_bucket_notification_configuration(
            Bucket=b,
            NotificationConfiguration={"QueueConfigurations": [{"QueueArn": ARN, "Events": ["s3:ObjectAccessed:*"]}]},
        )
        for _ in range(READS):
            reader.get_object(Bucket=b, Key="k")["Body"].read()
        root.put_object(Bucket=b, Key="marker", Body=b"m")
        root.get_object(Bucket=b, Key="marker")["Body"].read()  # the last record to come
        got = wait_until(
            lambda b=b: (keys := accessed(hook, b)) and keys[-1] == "marker" and keys,
            60,
            f"reader {n}'s records",
        )
        assert got == ["k"] * READS + ["marker"], f"reader {n}"


def test_first_read_after_a_rule_is_recorded_on_sqlite(server_factory, tmp_path):
    hook = WebhookProcess(tmp_path).start()
    try:
        srv = server_factory("sqlite", env=hook_env(hook))
        check_rules_apply_to_the_first_read(srv, [srv.client(), iam_reader(srv)], hook)
    finally:
        hook.kill()


def test_first_read_after_a_rule_is_recorded_on_postgres(server_factory, pg_url, tmp_path):
    hook = WebhookProcess(tmp_path).start()
    try:
        srv = server_factory("postgres", database_url=pg_url, env=hook_env(hook))
        check_rules_apply_to_the_first_read(srv, [srv.client(), iam_reader(srv)], hook)
    finally:
        hook.kill()


def two_nodes(server_factory, pg_url, tmp_path, env: dict[str, str]):
    shared = dict(
        database_url=pg_url,
        master_key_hex=master_key(),
        access_key="chronicleroot",
        secret_key="shared-secret-" + os.urandom(6).hex(),
        data_dir=tmp_path / "shared-blobs",
        env=env,
    )
    return server_factory("postgres", migrate=True, **shared), server_factory("postgres", migrate=False, **shared)


def test_a_rule_set_on_one_node_records_the_first_read_on_another(server_factory, pg_url, tmp_path):
    hook = WebhookProcess(tmp_path).start()
    try:
        node_a, node_b = two_nodes(server_factory, pg_url, tmp_path, hook_env(hook))
        check_rules_apply_to_the_first_read(node_a, [node_b.client(), iam_reader(node_b)], hook)
    finally:
        hook.kill()


def stream_keys(stream, n: int, timeout: float = 30.0) -> list[str]:
    """The object keys of the first N records on a listen stream, or those that came
    within TIMEOUT (the server sends keep-alive spaces meanwhile)."""
    keys: list[str] = []
    buf = b""
    deadline = time.monotonic() + timeout
    for chunk in stream.stream(256):
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            doc = json.loads(line) if line.strip() else None
            keys += [r["s3"]["object"]["key"] for r in (doc or {}).get("Records") or []]
        if len(keys) >= n or time.monotonic() > deadline:
            break
    return keys


def check_listener_sees_the_first_read(listen_node, read_node) -> None:
    """A listener connects through LISTEN_NODE; once its stream answered, READS reads
    through READ_NODE give READS records on it."""
    root = read_node.client()
    b = unique_bucket_name("lsn")
    root.create_bucket(Bucket=b)
    root.put_object(Bucket=b, Key="k", Body=b"v")
    root.get_object(Bucket=b, Key="k")["Body"].read()  # not recorded: nobody listens
    stream = signed_get(listen_node, f"/{b}?events=s3%3AObjectAccessed%3AGet")
    try:
        assert stream.status == 200
        for _ in range(READS):
            root.get_object(Bucket=b, Key="k")["Body"].read()
        root.put_object(Bucket=b, Key="marker", Body=b"m")
        root.get_object(Bucket=b, Key="marker")["Body"].read()
        assert stream_keys(stream, READS + 1) == ["k"] * READS + ["marker"]
    finally:
        stream.release_conn()
        if stream.connection:
            stream.connection.close()


def test_a_listener_sees_the_first_read_on_sqlite(server_factory):
    srv = server_factory("sqlite")
    check_listener_sees_the_first_read(srv, srv)


def test_a_listener_on_one_node_sees_the_first_read_on_another(server_factory, pg_url, tmp_path):
    node_a, node_b = two_nodes(server_factory, pg_url, tmp_path, {})
    check_listener_sees_the_first_read(node_a, node_b)

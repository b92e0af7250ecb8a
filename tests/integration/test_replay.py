"""Invariant 1: dropping the projection tables and replaying the log reproduces them."""

from __future__ import annotations

import io
import re
import subprocess

import pytest
import requests
from minio import MinioAdmin
from minio.credentials import StaticProvider

from projections.eventstore.inline import INLINE_TABLES
from projections.history.follower import HISTORY_TABLES
from projections.notifications.schema import NOTIFY_VIEW_TABLES
from tests.helpers.server import REPO_ROOT, chronicle_command

CORS_RULE = {"AllowedOrigins": ["https://*.example.com"], "AllowedMethods": ["GET"], "MaxAgeSeconds": 60}
PROJECTION_TABLES = INLINE_TABLES + NOTIFY_VIEW_TABLES + HISTORY_TABLES
# A target nobody listens on: its records pile up in the notification views.
TARGET_ENV = {
    "CHRONICLE_NOTIFY_WEBHOOK_ENABLE_1": "on",
    "CHRONICLE_NOTIFY_WEBHOOK_ENDPOINT_1": "http://127.0.0.1:9/",
}


def exercise(s3, bucket: str) -> None:
    """A history with every kind of namespace change, and notification rules that change
    along the way (so replay must match each event against the rules of its time)."""
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {"QueueArn": "arn:minio:sqs::1:webhook", "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}
            ]
        },
    )
    s3.put_object(Bucket=bucket, Key="plain", Body=b"one")
    s3.put_object(Bucket=bucket, Key="plain", Body=b"two", Metadata={"m": "v"})
    s3.put_object(Bucket=bucket, Key="dir/a", Body=b"a" * 200_000)
    s3.put_object_tagging(Bucket=bucket, Key="dir/a", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    s3.copy_object(Bucket=bucket, Key="dir/copy", CopySource={"Bucket": bucket, "Key": "dir/a"})
    s3.delete_object(Bucket=bucket, Key="plain")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="v", Body=b"1")
    second = s3.put_object(Bucket=bucket, Key="v", Body=b"2")
    s3.delete_object(Bucket=bucket, Key="v")
    s3.delete_object(Bucket=bucket, Key="v", VersionId=second["VersionId"])
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket=bucket, Key="v", Body=b"3")
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "x"}]})
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [CORS_RULE | {"AllowedMethods": ["PUT"]}]})
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [CORS_RULE]})
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": "arn:minio:sqs::1:webhook",
                    "Events": ["s3:ObjectCreated:Put"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "mp"}]}},
                }
            ]
        },
    )
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mpu")
    part = s3.upload_part(Bucket=bucket, Key="mpu", UploadId=upload["UploadId"], PartNumber=1, Body=b"p" * 1000)
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mpu",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    open_upload = s3.create_multipart_upload(Bucket=bucket, Key="open")
    s3.upload_part(Bucket=bucket, Key="open", UploadId=open_upload["UploadId"], PartNumber=2, Body=b"q")
    s3.upload_fileobj(io.BytesIO(b"z" * 10), bucket, "small")
    gone = bucket + "-gone"
    s3.create_bucket(Bucket=gone)
    s3.delete_bucket(Bucket=gone)
    s3.create_bucket(Bucket=gone)


def wait_for_follower(database_url: str | None, data_dir, timeout: float = 20.0) -> None:
    """Until the notification follower and the history view have read the whole log (they run
    in the server)."""
    import time

    from projections.eventstore.recorder import open_store
    from projections.eventstore.tx import Tx
    from projections.history.queries import indexed
    from projections.notifications.follower import NotificationFollower

    app = open_store(database_url, data_dir, create_table=False)

    def history_position() -> int:
        with app.store.read() as cursor:
            return indexed(Tx(cursor, app.store.dialect))[0]

    try:
        follower = NotificationFollower(app)
        deadline = time.monotonic() + timeout
        while min(follower.position(), history_position()) < (app.store.max_notification_id() or 0):
            assert time.monotonic() < deadline, "the notification follower or the history view did not catch up"
            time.sleep(0.05)
    finally:
        app.close()


def configure_targets(srv) -> None:
    """Notification target configuration events: set, changed, removed, set again."""
    from minio import MinioAdmin
    from minio.credentials import StaticProvider

    admin = MinioAdmin(endpoint=srv.address, credentials=StaticProvider(srv.access_key, srv.secret_key), secure=False)
    admin.config_set("notify_redis:1", {"address": "127.0.0.1:6379", "key": "events", "password": "pw-replay"})
    admin.config_set("notify_redis:1", {"format": "access"})
    admin.config_set("notify_webhook:gone", {"endpoint": "http://127.0.0.1:1/"})
    admin.config_reset("notify_webhook:gone")
    admin.config_set("notify_webhook:gone", {"endpoint": "http://127.0.0.1:2/", "enable": "off"})


def exercise_iam(srv) -> None:
    """IAM entities with paths, attachments, OIDC providers and a named role session."""
    import json

    iam = srv.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "*"}}],
    }
    iam.create_user(UserName="replay-user", Path="/team/")
    iam.update_user(UserName="replay-user", NewPath="/team/moved/")
    iam.attach_user_policy(UserName="replay-user", PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    iam.create_group(GroupName="replay-group", Path="/team/")
    iam.put_group_policy(
        GroupName="replay-group",
        PolicyName="gone",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}
        ),
    )
    iam.delete_group_policy(GroupName="replay-group", PolicyName="gone")
    iam.create_role(RoleName="replay-role", Path="/team/", AssumeRolePolicyDocument=json.dumps(trust))
    iam.update_role(RoleName="replay-role", Description="replayed", MaxSessionDuration=7200)
    iam.attach_role_policy(RoleName="replay-role", PolicyArn="arn:aws:iam::aws:policy/AmazonS3FullAccess")
    arn = iam.create_open_id_connect_provider(
        Url="https://id.example.com", ClientIDList=["a"], ThumbprintList=["b" * 40]
    )["OpenIDConnectProviderArn"]
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="c")
    iam.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=arn, ThumbprintList=["d" * 40])
    srv.client("sts").assume_role(RoleArn="arn:aws:iam:::role/team/replay-role", RoleSessionName="replayed-session")


def event_count(database_url: str | None, data_dir) -> int:
    from projections.eventstore.recorder import open_store
    from projections.eventstore.tx import Tx

    app = open_store(database_url, data_dir, create_table=False)
    try:
        with app.store.read() as cursor:
            return int(Tx(cursor, app.store.dialect).scalar(f"SELECT COUNT(*) FROM {app.store.events_table_name}"))
    finally:
        app.close()


def dump(database_url: str | None, data_dir) -> dict[str, list[tuple]]:
    from projections.eventstore.recorder import open_store
    from projections.eventstore.tx import Tx

    app = open_store(database_url, data_dir, create_table=False)
    try:
        with app.store.read() as cursor:
            tx = Tx(cursor, app.store.dialect)
            out = {}
            for table in PROJECTION_TABLES:
                rows = tx.all(f"SELECT * FROM {table}")
                out[table] = sorted(tuple(sorted((k, str(v)) for k, v in r.items())) for r in rows)
            return out
    finally:
        app.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_replay_rebuilds_identical_tables(server_factory, backend, request):
    database_url = request.getfixturevalue("pg_url") if backend == "postgres" else None
    srv = server_factory(backend, database_url=database_url, env=TARGET_ENV)
    exercise(srv.client(), "replay-" + backend)
    exercise_iam(srv)
    configure_targets(srv)
    MinioAdmin(
        endpoint=srv.address, credentials=StaticProvider(srv.access_key, srv.secret_key), secure=False
    ).bucket_quota_set("replay-" + backend, 10 << 20)
    wait_for_follower(database_url, srv.data_dir)
    srv.stop()
    before = dump(database_url, srv.data_dir)
    # Usage (kept by triggers on ns_versions) and the quota (an event) are rebuilt too.
    assert before["ns_bucket_usage"] and any("10485760" in str(r) for r in before["ns_buckets"])
    assert len(before["ns_versions"]) == 7 and before["ns_uploads"] and before["ns_parts"]
    # The history keeps what the namespace dropped: every version ever created, and when it ended.
    assert len(before["ns_history"]) > 7 and any(dict(r)["to_position"] != "None" for r in before["ns_history"])
    events = [dict(r)["event_name"] for r in before["notify_access_view"]]
    assert "s3:ObjectCreated:Copy" in events and "s3:ObjectRemoved:DeleteMarkerCreated" in events
    assert "s3:ObjectCreated:CompleteMultipartUpload" not in events  # rules narrowed by then
    # The environment's webhook (recorded at start) and the two set through the admin API.
    assert len(before["notify_targets"]) == 3 and before["notify_targets_generation"]
    assert before["iam_oidc_providers"] and any("replayed-session" in str(r) for r in before["iam_keys"])

    res = subprocess.run(
        chronicle_command("replay", "--data-dir", str(srv.data_dir)),
        cwd=str(REPO_ROOT),
        env=srv.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    # Each rebuild read every event of the log once, and says so.
    events = event_count(database_url, srv.data_dir)
    assert re.findall(r"rebuilt the (namespace and IAM tables|notification views) from (\d+) events", res.stdout) == [
        ("namespace and IAM tables", str(events)),
        ("notification views", str(events)),
    ], res.stdout
    assert f"rebuilt the history view from {events} events" in res.stdout
    after = dump(database_url, srv.data_dir)
    assert after == before

    # And the server reads its rebuilt namespace.
    srv.start()
    s3 = srv.client()
    assert s3.get_object(Bucket="replay-" + backend, Key="dir/copy")["Body"].read() == b"a" * 200_000
    # The CORS rules of the bucket's last PutBucketCors, and a browser allowed by them.
    assert s3.get_bucket_cors(Bucket="replay-" + backend)["CORSRules"] == [CORS_RULE]
    preflight = requests.options(
        f"{srv.endpoint}/replay-{backend}/plain",
        headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"},
        timeout=10,
    )
    assert preflight.status_code == 200 and preflight.headers["Access-Control-Max-Age"] == "60"

"""Per-bucket history retention: set, shown and cleared through `chronicle admin bucket retention`
(the admin API), recorded as events (the event stream, `chronicle audit`); garbage collection
keeps each bucket's superseded data for its own window (else the server default) and an as-of
read past the window is refused with InvalidObjectState naming it, never other bytes; the
setting survives a restart, replay rebuilds it and verify compares it. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from datetime import UTC, datetime

import boto3
import psycopg
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from minio import MinioAdmin
from minio.credentials import StaticProvider

from cli.admin_client import AdminClient, ServerError
from tests.conftest import unique_bucket_name
from tests.helpers.change_schema import assert_valid
from tests.helpers.server import REPO_ROOT, chronicle_command
from tests.integration.test_event_stream import Stream

DEFAULT_RETENTION = 0.5  # seconds: between bucket A's 0 and bucket B's 30 days
THIRTY_DAYS = 30 * 86400


def run(srv, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    env = {
        **srv.env,
        "CHRONICLE_ADMIN_ENDPOINT": srv.endpoint,
        "CHRONICLE_ROOT_USER": srv.access_key,
        "CHRONICLE_ROOT_PASSWORD": srv.secret_key,
    }
    res = subprocess.run(
        chronicle_command(*args), cwd=str(REPO_ROOT), env=env, capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in res.stderr, res.stderr
    if ok:
        assert res.returncode == 0, f"chronicle {' '.join(args)}: {res.stdout}{res.stderr}"
    return res


COMMANDS = {
    "set": ("PUT", "chronicle/set-bucket-retention"),
    "get": ("GET", "chronicle/get-bucket-retention"),
    "clear": ("DELETE", "chronicle/clear-bucket-retention"),
}


def retention(srv, command: str, bucket: str, duration: str | None = None) -> dict:
    """What `chronicle admin bucket retention` calls, through its client (the CLI itself is
    run where its own output is checked: each run costs a process start)."""
    method, path = COMMANDS[command]
    body = {"retention": duration} if duration is not None else None
    return AdminClient(srv.endpoint, srv.access_key, srv.secret_key).call(method, path, {"bucket": bucket}, body)


def as_of(srv, value: str):
    client = boto3.client(
        "s3",
        endpoint_url=srv.endpoint,
        aws_access_key_id=srv.access_key,
        aws_secret_access_key=srv.secret_key,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1, "mode": "standard"}),
    )

    def add_header(request, **_):
        request.headers["x-chronicle-as-of"] = value

    client.meta.events.register("before-sign.s3.*", add_header)
    return client


def moment() -> str:
    time.sleep(0.05)
    point = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    return point


def refused(call) -> str:
    with pytest.raises(ClientError) as info:
        call()
    error = info.value.response["Error"]
    assert error["Code"] == "InvalidObjectState", error
    return error["Message"]


def catch_up(srv, bucket: str) -> None:
    """An as-of read of now waits until the history view holds every change made before it."""
    as_of(srv, moment()).list_objects_v2(Bucket=bucket)


def gc(srv) -> str:
    return run(srv, "gc", "--data-dir", str(srv.data_dir), "--grace", "0").stdout


def edit_retention(srv, pg_url: str | None, bucket: str, seconds: int) -> None:
    if pg_url:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("UPDATE ns_bucket_retention SET seconds = %s WHERE bucket = %s", (seconds, bucket))
    else:
        with sqlite3.connect(srv.data_dir / "chronicle.sqlite3") as conn:
            conn.execute("UPDATE ns_bucket_retention SET seconds = ? WHERE bucket = ?", (seconds, bucket))


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_each_bucket_keeps_its_past_for_its_own_window(server_factory, request, backend):
    pg_url = request.getfixturevalue("pg_url") if backend == "postgres" else None
    srv = server_factory(
        backend,
        **({"database_url": pg_url} if pg_url else {}),
        env={"CHRONICLE_HISTORY_RETENTION": str(DEFAULT_RETENTION), "CHRONICLE_GC_INTERVAL": "3600"},
    )
    s3 = srv.client()
    a, b, c, d = (unique_bucket_name(p) for p in ("ret-a", "ret-b", "ret-c", "ret-d"))
    for bucket in (a, b, c, d):
        s3.create_bucket(Bucket=bucket)
    cli_set = run(srv, "admin", "--json", "bucket", "retention", "set", a, "0").stdout
    assert json.loads(cli_set) == {"bucket": a, "retention": "0", "seconds": 0, "source": "bucket"}
    assert retention(srv, "set", b, "30d")["seconds"] == THIRTY_DAYS
    assert retention(srv, "set", c, "12h")["retention"] == "12h"
    assert retention(srv, "clear", c) == {"bucket": c, "retention": "0.5s", "seconds": 0.5, "source": "default"}
    assert retention(srv, "set", d, "30d")["source"] == "bucket"

    old = {"inline": os.urandom(100), "file": os.urandom(300 * 1024)}
    for bucket in (a, b, c, d):
        for key, body in old.items():
            s3.put_object(Bucket=bucket, Key=key, Body=body)
    then = moment()
    for bucket in (a, b, c):
        for key in old:
            s3.put_object(Bucket=bucket, Key=key, Body=b"new " + key.encode())
    for key in old:  # d: deleted with its bucket, its window goes on
        s3.delete_object(Bucket=d, Key=key)
    s3.delete_bucket(Bucket=d)
    catch_up(srv, a)
    past = as_of(srv, then)

    # Bucket A's window is 0: its past is refused at once, before any GC, GET and HEAD alike.
    message = refused(lambda: past.get_object(Bucket=a, Key="inline"))
    assert f"bucket {a}'s own history retention (0)" in message and "chronicle admin bucket retention get" in message
    with pytest.raises(ClientError) as head:
        past.head_object(Bucket=a, Key="file")
    assert head.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    time.sleep(DEFAULT_RETENTION + 0.1)  # past the default window (bucket C)

    out = gc(srv)
    assert "removed 2 blob files and 2 inline blobs" in out, out  # A's and C's old versions
    for key, body in old.items():
        assert past.get_object(Bucket=b, Key=key)["Body"].read() == body
        assert past.get_object(Bucket=d, Key=key)["Body"].read() == body
        refused(lambda key=key: past.get_object(Bucket=a, Key=key))
        assert "CHRONICLE_HISTORY_RETENTION" in refused(lambda key=key: past.get_object(Bucket=c, Key=key))
        for bucket in (a, b, c):
            assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"new " + key.encode()
    # The names of the past are history, kept for ever: the listing answers.
    assert sorted(o["Key"] for o in past.list_objects_v2(Bucket=a)["Contents"]) == ["file", "inline"]

    # The setting lives in the log: verify compares it, replay rebuilds it, a restart reads it.
    edit_retention(srv, pg_url, b, 1)
    tampered = run(srv, "verify", "--data-dir", str(srv.data_dir), ok=False)
    assert tampered.returncode == 1 and "differ" in tampered.stdout, tampered.stdout
    # The edited row is the one difference: the rest of the setting's rows equal the rebuilt ones.
    assert "ns_bucket_retention: 1 rows only in the live table, 1 only in the rebuilt one" in tampered.stdout
    assert tampered.stdout.count("rows only in the live table") == 1, tampered.stdout
    srv.stop()
    run(srv, "replay", "--data-dir", str(srv.data_dir))
    srv.start()
    assert retention(srv, "get", b)["seconds"] == THIRTY_DAYS and retention(srv, "get", a)["seconds"] == 0
    assert retention(srv, "get", c)["source"] == "default"
    assert as_of(srv, then).get_object(Bucket=b, Key="file")["Body"].read() == old["file"]
    refused(lambda: as_of(srv, then).get_object(Bucket=a, Key="file"))

    # A bucket created again under D's name starts at the default, for its old life's data too.
    s3.create_bucket(Bucket=d)
    assert retention(srv, "get", d)["source"] == "default"
    refused(lambda: as_of(srv, then).get_object(Bucket=d, Key="inline"))

    # Every change is an event: in the audit and in the event stream, with who made it.
    # (ping=1: closing the stream waits for the reader, woken by the next keep-alive)
    stream = Stream(srv, "from=beginning&ping=1&event=Bucket.HistoryRetentionSet&event=Bucket.HistoryRetentionCleared")
    try:
        changes = stream.records(5)
    finally:
        stream.close()
    assert_valid(changes)
    assert [(r["event"], r["bucket"], r["data"]) for r in changes] == [
        ("Bucket.HistoryRetentionSet", a, {"seconds": 0}),
        ("Bucket.HistoryRetentionSet", b, {"seconds": THIRTY_DAYS}),
        ("Bucket.HistoryRetentionSet", c, {"seconds": 12 * 3600}),
        ("Bucket.HistoryRetentionCleared", c, {}),
        ("Bucket.HistoryRetentionSet", d, {"seconds": THIRTY_DAYS}),
    ]
    assert {r["principal"]["accessKey"] for r in changes} == {srv.access_key}
    audit = run(srv, "audit", "--data-dir", str(srv.data_dir), "--bucket", b, "--event", "bucket", "--format", "json")
    assert "Bucket.HistoryRetentionSet" in [json.loads(line)["event"] for line in audit.stdout.splitlines()]


def admin_client(srv, key: str | None = None, secret: str | None = None) -> AdminClient:
    return AdminClient(srv.endpoint, key or srv.access_key, secret or srv.secret_key)


def server_error(call) -> ServerError:
    with pytest.raises(ServerError) as info:
        call()
    return info.value


def test_bad_values_unknown_buckets_and_other_users_are_refused_and_change_nothing(server):
    client = admin_client(server)
    bucket = unique_bucket_name("ret-bad")
    server.client().create_bucket(Bucket=bucket)
    state = client.call("PUT", "chronicle/set-bucket-retention", {"bucket": bucket}, {"retention": "7d"})
    assert state == {"bucket": bucket, "retention": "7d", "seconds": 7 * 86400, "source": "bucket"}

    for value in ("-1d", "30x", "1.5d", "", 1.5, True, None, -3, "36501d"):
        err = server_error(
            lambda value=value: client.call(
                "PUT", "chronicle/set-bucket-retention", {"bucket": bucket}, {"retention": value}
            )
        )
        assert (err.status, err.code) == (400, "XMinioAdminInvalidArgument"), value
        assert "30d" in err.server_message or "36500d" in err.server_message
    for body in (b"not json", b'{"retention": "1d", "extra": 1}', b"[]"):
        err = server_error(
            lambda body=body: client.call("PUT", "chronicle/set-bucket-retention", {"bucket": bucket}, body)
        )
        assert (err.status, err.code) == (400, "XMinioMalformedJSON")
    for method, command in (
        ("PUT", "chronicle/set-bucket-retention"),
        ("GET", "chronicle/get-bucket-retention"),
        ("DELETE", "chronicle/clear-bucket-retention"),
    ):
        body = {"retention": "1d"} if method == "PUT" else None
        err = server_error(lambda m=method, c=command, b=body: client.call(m, c, {"bucket": "no-such-bucket-here"}, b))
        assert (err.status, err.code) == (404, "NoSuchBucket")
    err = server_error(lambda: client.call("GET", "chronicle/get-bucket-retention"))
    assert (err.status, err.code) == (400, "XMinioAdminInvalidArgument")

    admin = MinioAdmin(
        endpoint=server.address, credentials=StaticProvider(server.access_key, server.secret_key), secure=False
    )
    user = unique_bucket_name("ret-user")
    admin.user_add(user, "ret-user-secret-1")
    admin.policy_set("readwrite", user=user)
    outsider = admin_client(server, user, "ret-user-secret-1")
    err = server_error(lambda: outsider.call("DELETE", "chronicle/clear-bucket-retention", {"bucket": bucket}))
    assert (err.status, err.code) == (403, "AccessDenied")

    # Through the CLI: a bad duration is a usage error, an unknown bucket says so.
    bad = run(server, "admin", "bucket", "retention", "set", bucket, "7 days", ok=False)
    assert bad.returncode == 2 and "30d, 12h, 90m, 45s or 0" in bad.stderr
    missing = run(server, "admin", "bucket", "retention", "get", "no-such-bucket-here", ok=False)
    assert missing.returncode == 1 and "bucket no-such-bucket-here does not exist" in missing.stderr
    shown = run(server, "admin", "bucket", "retention", "get", bucket).stdout
    assert shown.strip() == f"{bucket}: history retention 7d (the bucket's own)"
    assert client.call("GET", "chronicle/get-bucket-retention", {"bucket": bucket})["seconds"] == 7 * 86400

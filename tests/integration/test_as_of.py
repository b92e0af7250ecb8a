"""Reads as of a past time or log position (x-chronicle-as-of): GET, HEAD and the listings
answer what was current then, from the history view; writes carrying the header and times in
the future are refused; authorization is today's. SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from domain.errors import DomainError
from projections.eventstore.recorder import open_store
from projections.eventstore.tx import Tx
from projections.history.queries import HistoryBehind, indexed, resolve_point
from tests.conftest import unique_bucket_name
from tests.helpers.server import REPO_ROOT, chronicle_command

HEADER = "x-chronicle-as-of"


def as_of_client(srv, value: str, *, signed: bool = True):
    """A client that sends `x-chronicle-as-of: value` on every request (the README's hook)."""
    client = boto3.client(
        "s3",
        endpoint_url=srv.endpoint,
        aws_access_key_id=srv.access_key,
        aws_secret_access_key=srv.secret_key,
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "path"},
            retries={"total_max_attempts": 1, "mode": "standard"},
            signature_version="s3v4" if signed else UNSIGNED,
        ),
    )

    def add_header(request, **_):
        request.headers[HEADER] = value

    client.meta.events.register("before-sign.s3.*", add_header)
    return client


def moment() -> str:
    """Now, between two steps: the steps' events fall on either side of it."""
    time.sleep(0.05)
    point = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    return point


def keys_at(client, bucket: str) -> list[str]:
    return [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]


def error_code(call) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_reads_as_of_each_point_answer_what_was_current_then(request, backend):
    srv = request.getfixturevalue("server" if backend == "sqlite" else "pg_server")  # its own bucket
    s3 = srv.client()
    bucket = unique_bucket_name("asof")
    before_bucket = moment()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"version one")
    s3.put_object(Bucket=bucket, Key="gone.txt", Body=b"soon deleted")
    t1 = moment()
    s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"version two, longer")
    t2 = moment()
    s3.delete_object(Bucket=bucket, Key="gone.txt")
    t3 = moment()

    at1, at2, at3 = as_of_client(srv, t1), as_of_client(srv, t2), as_of_client(srv, t3)
    assert at1.get_object(Bucket=bucket, Key="doc.txt")["Body"].read() == b"version one"
    assert at2.get_object(Bucket=bucket, Key="doc.txt")["Body"].read() == b"version two, longer"
    assert at1.head_object(Bucket=bucket, Key="doc.txt")["ContentLength"] == len(b"version one")
    assert at2.get_object(Bucket=bucket, Key="gone.txt")["Body"].read() == b"soon deleted"
    assert error_code(lambda: at3.get_object(Bucket=bucket, Key="gone.txt")) == "NoSuchKey"
    assert keys_at(at1, bucket) == ["doc.txt", "gone.txt"]
    assert keys_at(at3, bucket) == ["doc.txt"]
    assert [o["Key"] for o in at2.list_objects(Bucket=bucket)["Contents"]] == ["doc.txt", "gone.txt"]
    versions = at1.list_object_versions(Bucket=bucket)["Versions"]
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in versions] == [
        ("doc.txt", "null", True),
        ("gone.txt", "null", True),
    ]
    # Today's view is untouched by the header's existence.
    assert keys_at(s3, bucket) == ["doc.txt"]
    assert s3.get_object(Bucket=bucket, Key="doc.txt")["Body"].read() == b"version two, longer"

    # A position names the same state as the time it stands for.
    position = at1.head_object(Bucket=bucket, Key="doc.txt")["ResponseMetadata"]["HTTPHeaders"][
        "x-chronicle-as-of-position"
    ]
    by_position = as_of_client(srv, position)
    assert by_position.get_object(Bucket=bucket, Key="doc.txt")["Body"].read() == b"version one"

    assert error_code(lambda: keys_at(as_of_client(srv, before_bucket), bucket)) == "NoSuchBucket"
    assert error_code(lambda: keys_at(as_of_client(srv, "999999999"), bucket)) == "InvalidArgument"
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert error_code(lambda: keys_at(as_of_client(srv, future), bucket)) == "InvalidArgument"
    assert error_code(lambda: keys_at(as_of_client(srv, "yesterday"), bucket)) == "InvalidArgument"


def test_as_of_on_a_write_is_refused_and_anonymous_reads_stay_refused(server):
    srv = server
    s3 = srv.client()
    bucket = unique_bucket_name("asofw")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"kept")
    point = moment()
    writer = as_of_client(srv, point)
    assert error_code(lambda: writer.put_object(Bucket=bucket, Key="k", Body=b"changed")) == "InvalidArgument"
    assert error_code(lambda: writer.delete_object(Bucket=bucket, Key="k")) == "InvalidArgument"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"kept"
    anonymous = as_of_client(srv, point, signed=False)
    assert error_code(lambda: anonymous.get_object(Bucket=bucket, Key="k")) == "AccessDenied"
    assert error_code(lambda: keys_at(anonymous, bucket)) == "AccessDenied"


def test_versioned_bucket_as_of_sees_versions_markers_and_removed_versions(server):
    srv = server
    s3 = srv.client()
    bucket = unique_bucket_name("asofv")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    t_two = moment()
    s3.delete_object(Bucket=bucket, Key="k")  # a delete marker on top
    t_marker = moment()
    s3.delete_object(Bucket=bucket, Key="k", VersionId=v2)  # v2 removed for good
    t_removed = moment()

    at_two, at_marker, at_removed = as_of_client(srv, t_two), as_of_client(srv, t_marker), as_of_client(srv, t_removed)
    assert at_two.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    assert at_two.get_object(Bucket=bucket, Key="k", VersionId=v1)["Body"].read() == b"one"
    assert error_code(lambda: at_marker.get_object(Bucket=bucket, Key="k")) == "NoSuchKey"
    assert at_marker.get_object(Bucket=bucket, Key="k", VersionId=v2)["Body"].read() == b"two"
    assert keys_at(at_two, bucket) == ["k"] and keys_at(at_marker, bucket) == []
    listed = at_marker.list_object_versions(Bucket=bucket)
    assert [(v["VersionId"], v["IsLatest"]) for v in listed["Versions"]] == [(v2, False), (v1, False)]
    assert [m["IsLatest"] for m in listed["DeleteMarkers"]] == [True]
    assert [v["VersionId"] for v in at_removed.list_object_versions(Bucket=bucket)["Versions"]] == [v1]
    assert error_code(lambda: at_removed.get_object(Bucket=bucket, Key="k", VersionId=v2)) == "NoSuchVersion"


def chronicle(srv, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHRONICLE_")}
    env.update(
        CHRONICLE_ADMIN_ENDPOINT=srv.endpoint,
        CHRONICLE_ADMIN_ACCESS_KEY=srv.access_key,
        CHRONICLE_ADMIN_SECRET_KEY=srv.secret_key,
    )
    return subprocess.run(chronicle_command(*args), cwd=str(REPO_ROOT), env=env, capture_output=True, timeout=60)


def test_chronicle_ls_and_cat_as_of(server):
    srv = server
    s3 = srv.client()
    bucket = unique_bucket_name("asofcli")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="photos/2026/cat.jpg", Body=b"meow" * 1000)
    s3.put_object(Bucket=bucket, Key="photos/dog.jpg", Body=b"woof")
    then = moment()
    s3.put_object(Bucket=bucket, Key="photos/2026/cat.jpg", Body=b"a newer cat")
    s3.delete_object(Bucket=bucket, Key="photos/dog.jpg")

    listed = chronicle(srv, "ls", f"s3://{bucket}/photos/", "--as-of", then)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.decode().splitlines()
    assert lines[0].split() == ["PRE", "photos/2026/"] and lines[1].endswith(" 4 photos/dog.jpg"), lines
    today = chronicle(srv, "ls", f"s3://{bucket}/photos/", "--recursive")
    assert [line.split()[-1] for line in today.stdout.decode().splitlines()] == ["photos/2026/cat.jpg"]

    cat = chronicle(srv, "cat", f"s3://{bucket}/photos/2026/cat.jpg", "--as-of", then)
    assert cat.returncode == 0 and cat.stdout == b"meow" * 1000, cat.stderr
    gone = chronicle(srv, "cat", f"s3://{bucket}/photos/dog.jpg")
    assert gone.returncode == 1 and b"NoSuchKey" in gone.stderr and b"Traceback" not in gone.stderr


def run_gc(srv, *args: str) -> str:
    res = subprocess.run(
        chronicle_command("gc", "--data-dir", str(srv.data_dir), "--grace", "0", *args),
        cwd=str(REPO_ROOT),
        env=srv.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stdout + res.stderr
    return res.stdout


@pytest.mark.parametrize("size", [100, 300 * 1024], ids=["inline", "file"])
def test_gc_keeps_superseded_data_for_the_retention_then_as_of_reads_say_it_is_gone(server_factory, size):
    srv = server_factory("sqlite")
    s3 = srv.client()
    bucket = unique_bucket_name("asofgc")
    s3.create_bucket(Bucket=bucket)
    old = os.urandom(size)
    s3.put_object(Bucket=bucket, Key="k", Body=old)
    then = moment()
    s3.put_object(Bucket=bucket, Key="k", Body=b"new")
    at_then = as_of_client(srv, then)
    time.sleep(0.1)  # older than a zero grace period

    run_gc(srv)  # the default retention (7 days) keeps the superseded bytes
    assert at_then.get_object(Bucket=bucket, Key="k")["Body"].read() == old
    out = run_gc(srv, "--retention", "0")
    assert "removed 0 blob files and 0 inline blobs" not in out, out
    with pytest.raises(ClientError) as info:
        at_then.get_object(Bucket=bucket, Key="k")
    assert info.value.response["Error"]["Code"] == "InvalidObjectState"
    assert "retention" in info.value.response["Error"]["Message"]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"new"


def test_as_of_listing_pages_through_keys_with_many_versions(server):
    srv = server
    s3 = srv.client()
    bucket = unique_bucket_name("asofp")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for key in ("a", "b/1", "b/2", "c", "d"):
        for n in range(3):
            s3.put_object(Bucket=bucket, Key=key, Body=f"{key}{n}".encode())
    s3.delete_object(Bucket=bucket, Key="c")  # a marker hides c
    point = moment()
    s3.delete_object(Bucket=bucket, Key="a")
    at = as_of_client(srv, point)
    keys = [o["Key"] for page in at.get_paginator("list_objects_v2").paginate(Bucket=bucket, MaxKeys=2)
            for o in page.get("Contents", [])]  # fmt: skip
    assert keys == ["a", "b/1", "b/2", "d"]
    top = at.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == ["a", "d"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["b/"]
    assert at.get_object(Bucket=bucket, Key="a")["Body"].read() == b"a2"
    versions = [v for page in at.get_paginator("list_object_versions").paginate(Bucket=bucket, MaxKeys=2)
                for v in page.get("Versions", [])]  # fmt: skip
    assert len(versions) == 15 and [v["Key"] for v in versions if v["IsLatest"]] == ["a", "b/1", "b/2", "d"]


def test_a_point_the_history_has_not_reached_is_told_apart_from_one_past_the_log(server_factory):
    """What makes the API wait and then answer SlowDown, on the store itself: the history view
    one event short of the log's head (as while its follower catches up)."""
    srv = server_factory("sqlite")
    s3 = srv.client()
    bucket = unique_bucket_name("asofb")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    time.sleep(0.5)  # the follower catches up
    srv.stop()
    app = open_store(None, srv.data_dir, create_table=False)
    try:
        with app.store.datastore.transaction(commit=True) as cursor:
            tx = Tx(cursor, app.store.dialect)
            head = int(tx.scalar(app.store.head_sql()))
            assert indexed(tx)[0] == head
            now_us = int(time.time() * 1_000_000)
            assert resolve_point(tx, app.store.head_sql(), position=head, time_us=None, now_us=now_us) == head
            assert resolve_point(tx, app.store.head_sql(), position=None, time_us=now_us, now_us=now_us) == head
            tx.execute("UPDATE ns_history_tracking SET position = position - 1")
            with pytest.raises(HistoryBehind):
                resolve_point(tx, app.store.head_sql(), position=head, time_us=None, now_us=now_us)
            with pytest.raises(HistoryBehind):
                resolve_point(tx, app.store.head_sql(), position=None, time_us=now_us, now_us=now_us)
            with pytest.raises(DomainError):
                resolve_point(tx, app.store.head_sql(), position=head + 1, time_us=None, now_us=now_us)
            tx.execute("UPDATE ns_history_tracking SET position = position + 1")
    finally:
        app.close()

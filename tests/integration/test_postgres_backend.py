"""The PostgreSQL event store: the same S3 behaviour as embedded, and
read-after-write across several API processes sharing one database."""

from __future__ import annotations

import hashlib
import os

from tests.helpers.s3 import md5_etag, s3_error
from tests.helpers.server import master_key, run_migrate, s3_client


def test_pg_server_ready(pg_server):
    assert pg_server.health("live") == 200
    assert pg_server.health("ready") == 200


def test_pg_put_get_head_delete(pg_s3, pg_bucket):
    body = os.urandom(100_000)
    assert pg_s3.put_object(Bucket=pg_bucket, Key="obj", Body=body, Metadata={"k": "v"})["ETag"] == md5_etag(body)
    got = pg_s3.get_object(Bucket=pg_bucket, Key="obj")
    assert got["Body"].read() == body
    assert got["Metadata"] == {"k": "v"}
    assert pg_s3.head_object(Bucket=pg_bucket, Key="obj")["ContentLength"] == len(body)
    pg_s3.delete_object(Bucket=pg_bucket, Key="obj")
    with s3_error("NoSuchKey", 404):
        pg_s3.get_object(Bucket=pg_bucket, Key="obj")


def test_pg_small_and_large_objects(pg_s3, pg_bucket):
    # Small objects may live in the database, large ones in files: both work.
    for size in (0, 1, 1024, 256 * 1024, 5 * 1024 * 1024 + 3):
        body = os.urandom(size)
        pg_s3.put_object(Bucket=pg_bucket, Key=f"size-{size}", Body=body)
        got = pg_s3.get_object(Bucket=pg_bucket, Key=f"size-{size}")["Body"].read()
        assert hashlib.md5(got).hexdigest() == hashlib.md5(body).hexdigest(), size


def test_pg_list_in_byte_order_with_delimiter(pg_s3, pg_bucket):
    keys = ["a", "B", "é", "~", "a/b", "Z", "dir/x", "dir/y"]
    for k in keys:
        pg_s3.put_object(Bucket=pg_bucket, Key=k, Body=b"x")
    resp = pg_s3.list_objects_v2(Bucket=pg_bucket)
    assert [o["Key"] for o in resp["Contents"]] == sorted(keys, key=lambda k: k.encode())
    resp = pg_s3.list_objects_v2(Bucket=pg_bucket, Delimiter="/")
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["a/", "dir/"]
    assert [o["Key"] for o in resp["Contents"]] == ["B", "Z", "a", "~", "é"]


def test_pg_bucket_lifecycle(pg_s3, bucket_name):
    pg_s3.create_bucket(Bucket=bucket_name)
    assert bucket_name in [b["Name"] for b in pg_s3.list_buckets()["Buckets"]]
    pg_s3.create_bucket(Bucket=bucket_name)  # us-east-1: re-creating your own bucket is OK
    pg_s3.put_object(Bucket=bucket_name, Key="k", Body=b"x")
    with s3_error("BucketNotEmpty", 409):
        pg_s3.delete_bucket(Bucket=bucket_name)
    pg_s3.delete_object(Bucket=bucket_name, Key="k")
    pg_s3.delete_bucket(Bucket=bucket_name)
    with s3_error(status=404):
        pg_s3.head_bucket(Bucket=bucket_name)


def test_pg_versioning(pg_s3, make_bucket):
    bucket = make_bucket(pg_s3, versioning="Enabled")
    v1 = pg_s3.put_object(Bucket=bucket, Key="doc", Body=b"one")["VersionId"]
    pg_s3.put_object(Bucket=bucket, Key="doc", Body=b"two")
    assert pg_s3.get_object(Bucket=bucket, Key="doc", VersionId=v1)["Body"].read() == b"one"
    assert len(pg_s3.list_object_versions(Bucket=bucket)["Versions"]) == 2


def test_two_api_nodes_read_after_write(server_factory, pg_url, tmp_path):
    """PUT on one node, then GET and LIST on the other: visible every time."""
    shared = dict(
        database_url=pg_url,
        master_key_hex=master_key(),
        access_key="chronicleroot",
        secret_key="shared-secret-" + os.urandom(6).hex(),
        data_dir=tmp_path / "shared-blobs",  # blobs on a shared filesystem
    )
    # `chronicle migrate` once, then nodes start against existing tables.
    node_a = server_factory("postgres", migrate=True, **shared)
    node_b = server_factory("postgres", migrate=False, **shared)
    a, b = s3_client(node_a), s3_client(node_b)

    bucket = "raw-" + os.urandom(8).hex()
    a.create_bucket(Bucket=bucket)
    b.head_bucket(Bucket=bucket)  # bucket creation is visible at once too

    for i in range(200):
        writer, reader = (a, b) if i % 2 == 0 else (b, a)
        key = f"k/{i:04d}"
        body = f"value {i} ".encode() * (1 + i % 7)
        writer.put_object(Bucket=bucket, Key=key, Body=body)
        assert reader.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key
        listed = reader.list_objects_v2(Bucket=bucket, Prefix=key)
        assert [o["Key"] for o in listed.get("Contents", [])] == [key], key

    # Overwrites and deletes are visible across nodes as well.
    a.put_object(Bucket=bucket, Key="k/0000", Body=b"overwritten")
    assert b.get_object(Bucket=bucket, Key="k/0000")["Body"].read() == b"overwritten"
    b.delete_object(Bucket=bucket, Key="k/0001")
    with s3_error("NoSuchKey", 404):
        a.get_object(Bucket=bucket, Key="k/0001")

    pages = b.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    assert sum(len(p.get("Contents", [])) for p in pages) == 199


def test_migrate_is_idempotent(empty_pg_url, tmp_path):
    env = dict(os.environ)
    env.update(
        CHRONICLE_DATABASE_URL=empty_pg_url,
        CHRONICLE_MASTER_KEY=master_key(),
        CHRONICLE_ROOT_USER="chronicleroot",
        CHRONICLE_ROOT_PASSWORD="migrate-secret-123",
    )
    run_migrate(env, tmp_path / "logs")
    run_migrate(env, tmp_path / "logs")  # a second run changes nothing and succeeds

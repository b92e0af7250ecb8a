"""Bucket quotas (MinIO's set-bucket-quota / get-bucket-quota, `chronicle admin bucket quota`):
writes over a hard quota are refused with MinIO's error and store nothing; usage is exact,
also under concurrent writers, on both backends."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from minio import MinioAdmin
from minio.credentials import StaticProvider

from tests.conftest import unique_bucket_name
from tests.helpers.server import REPO_ROOT, chronicle_command

QUOTA_EXCEEDED = "XMinioAdminBucketQuotaExceeded"


@pytest.fixture(params=["sqlite", "postgres"])
def srv(request):
    return request.getfixturevalue("server" if request.param == "sqlite" else "pg_server")


def madmin(server, method: str, command: str, bucket: str, body: bytes = b"") -> tuple[int, dict]:
    """A call signed as madmin-go (mc) signs it: SigV4, the body's SHA-256."""
    url = f"{server.endpoint}/minio/admin/v3/{command}?bucket={bucket}"
    headers = {"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()}
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(Credentials(server.access_key, server.secret_key), "s3", "us-east-1").add_auth(request)
    resp = urllib3.request(method, url, body=body or None, headers=dict(request.headers))
    return resp.status, (json.loads(resp.data) if resp.data else {})


def set_quota(server, bucket: str, size: int = 0, objects: int = 0) -> None:
    body = json.dumps({"size": size, "quotatype": "hard", "objects": objects}).encode()
    assert madmin(server, "PUT", "set-bucket-quota", bucket, body) == (200, {})


def usage(server, bucket: str) -> dict:
    status, doc = madmin(server, "GET", "get-bucket-quota", bucket)
    assert status == 200, doc
    return doc["usage"]


def refused(call) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    err = caught.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err["Error"]["Message"] == "Bucket quota exceeded"
    return err["Error"]["Code"]


def keys(s3, bucket: str) -> dict[str, int]:
    return {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def test_set_get_clear_and_bad_input(srv):
    bucket = unique_bucket_name("quota")
    srv.client().create_bucket(Bucket=bucket)
    status, doc = madmin(srv, "GET", "get-bucket-quota", bucket)
    assert (status, doc) == (
        200,
        {"quota": 0, "size": 0, "rate": 0, "requests": 0, "objects": 0, "usage": doc["usage"]},
    )
    set_quota(srv, bucket, size=10 << 30, objects=5)
    status, doc = madmin(srv, "GET", "get-bucket-quota", bucket)
    assert doc["size"] == doc["quota"] == 10 << 30 and doc["quotatype"] == "hard" and doc["objects"] == 5
    # minio-py sends the deprecated "quota" field; its clear is a quota of 0.
    admin = MinioAdmin(endpoint=srv.address, credentials=StaticProvider(srv.access_key, srv.secret_key), secure=False)
    admin.bucket_quota_set(bucket, 4096)
    assert json.loads(admin.bucket_quota_get(bucket))["size"] == 4096
    admin.bucket_quota_clear(bucket)
    assert "quotatype" not in json.loads(admin.bucket_quota_get(bucket))
    # Refused, and nothing changes.
    for body, code in (
        (b'{"size": 5, "quotatype": "fifo"}', "XMinioAdminInvalidArgument"),
        (b'{"size": 5, "quotatype": "hard", "rate": 10}', "XMinioAdminInvalidArgument"),
        (b'{"size": -1, "quotatype": "hard"}', "XMinioMalformedJSON"),
        (b"not json", "XMinioMalformedJSON"),
    ):
        status, err = madmin(srv, "PUT", "set-bucket-quota", bucket, body)
        assert (status, err["Code"]) == (400, code), err
    assert madmin(srv, "GET", "get-bucket-quota", bucket)[1]["size"] == 0
    missing = unique_bucket_name("nosuch")
    for method, command in (("PUT", "set-bucket-quota"), ("GET", "get-bucket-quota")):
        status, err = madmin(srv, method, command, missing, b'{"size": 5, "quotatype": "hard"}')
        assert (status, err["Code"]) == (404, "NoSuchBucket")


def test_writes_over_the_quota_are_refused_and_store_nothing(srv):
    s3 = srv.client()
    bucket = unique_bucket_name("quota")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="warm", Body=b"w" * 100)  # (PostgreSQL: the one-statement path's hint is warm)
    set_quota(srv, bucket, size=1000)
    s3.put_object(Bucket=bucket, Key="a", Body=b"a" * 600)
    assert refused(lambda: s3.put_object(Bucket=bucket, Key="b", Body=b"b" * 301)) == QUOTA_EXCEEDED
    assert refused(lambda: s3.copy_object(Bucket=bucket, Key="c", CopySource=f"{bucket}/a")) == QUOTA_EXCEEDED
    assert keys(s3, bucket) == {"warm": 100, "a": 600}
    assert usage(srv, bucket) == {"size": 700, "objects": 2}
    s3.put_object(Bucket=bucket, Key="b", Body=b"b" * 300)  # exactly the quota
    s3.put_object(Bucket=bucket, Key="a", Body=b"A" * 500)  # an overwrite frees the old version's room
    assert usage(srv, bucket) == {"size": 900, "objects": 3}
    # A completed multipart upload counts; its part alone over the quota is refused at once.
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    assert refused(lambda: s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"m" * 101)) == (
        QUOTA_EXCEEDED
    )
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"m" * 100)
    s3.delete_object(Bucket=bucket, Key="warm")  # deleting frees room
    s3.put_object(Bucket=bucket, Key="w2", Body=b"w" * 150)
    assert refused(
        lambda: s3.complete_multipart_upload(
            Bucket=bucket,
            Key="mp",
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        )
    ) == (QUOTA_EXCEEDED)
    s3.delete_object(Bucket=bucket, Key="w2")
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
    )
    assert keys(s3, bucket) == {"a": 500, "b": 300, "mp": 100}
    assert usage(srv, bucket) == {"size": 900, "objects": 3}


def test_versions_and_the_objects_limit(srv):
    s3 = srv.client()
    bucket = unique_bucket_name("quota")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    set_quota(srv, bucket, objects=2)
    s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    s3.put_object(Bucket=bucket, Key="k", Body=b"22")  # noncurrent versions count, as in MinIO
    assert refused(lambda: s3.put_object(Bucket=bucket, Key="other", Body=b"")) == QUOTA_EXCEEDED
    s3.delete_object(Bucket=bucket, Key="k")  # a delete marker is no object
    assert usage(srv, bucket) == {"size": 3, "objects": 2}
    oldest = s3.list_object_versions(Bucket=bucket)["Versions"][-1]["VersionId"]
    s3.delete_object(Bucket=bucket, Key="k", VersionId=oldest)
    s3.put_object(Bucket=bucket, Key="other", Body=b"")
    assert usage(srv, bucket) == {"size": 2, "objects": 2}


def test_concurrent_writers_never_overshoot(srv):
    s3 = srv.client()
    bucket = unique_bucket_name("quota")
    s3.create_bucket(Bucket=bucket)
    set_quota(srv, bucket, size=2000)

    def write(n: int) -> bool:
        try:
            s3.put_object(Bucket=bucket, Key=f"k{n}", Body=b"x" * 150)
        except ClientError as err:
            assert err.response["Error"]["Code"] == QUOTA_EXCEEDED
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        stored = sum(pool.map(write, range(40)))
    assert stored == 13  # 13 * 150 = 1950: the 14th would pass 2000
    sizes = keys(s3, bucket)
    assert len(sizes) == stored and usage(srv, bucket) == {"size": sum(sizes.values()), "objects": stored}


def test_cli_and_the_event_in_the_log(server):
    s3 = server.client()
    bucket = unique_bucket_name("quota")
    s3.create_bucket(Bucket=bucket)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHRONICLE_")}
    env.update(
        CHRONICLE_ADMIN_ENDPOINT=server.endpoint,
        CHRONICLE_ROOT_USER=server.access_key,
        CHRONICLE_ROOT_PASSWORD=server.secret_key,
    )

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = chronicle_command("admin", "bucket", "quota", *args)
        return subprocess.run(cmd, env=env, cwd=str(REPO_ROOT), capture_output=True, text=True, timeout=60)

    res = cli("set", bucket, "--size", "1KiB", "--objects", "3")
    assert res.returncode == 0, res.stderr
    assert f"Bucket {bucket} has a hard quota of 1.0 KiB (1024 bytes) and 3 objects" in res.stdout
    res = cli("get", "--json", bucket)
    assert json.loads(res.stdout)["size"] == 1024
    assert cli("clear", bucket).stdout.startswith(f"Bucket {bucket} has no quota")
    res = cli("get", unique_bucket_name("nosuch"))
    assert res.returncode == 1 and "does not exist" in res.stderr
    assert cli("set", bucket, "--size", "ten").returncode == 2
    # Each change is a Bucket.QuotaSet event in the log, in the audit index.
    deadline = time.monotonic() + 20
    while True:
        status, found = madmin(server, "GET", "chronicle/audit", bucket)
        quota_events = [r["data"] for r in found.get("records", []) if r["event"] == "Bucket.QuotaSet"]
        if len(quota_events) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert quota_events == [
        {"max_bytes": 1024, "max_objects": 3},
        {"max_bytes": 0, "max_objects": 0},
    ], found

"""Object Lock is not built: every way of asking for it is refused and stores nothing.

Switching it on (CreateBucket with x-amz-bucket-object-lock-enabled: true,
PutObjectLockConfiguration) answers NotImplemented (501). Every bucket therefore is a bucket
without Object Lock, and the object-level requests get what AWS answers for such a bucket:
InvalidRequest (400) "Bucket is missing Object Lock Configuration" for retention and legal
hold (subresources, headers on PutObject / CopyObject / CreateMultipartUpload, POST form
fields), ObjectLockConfigurationNotFoundError (404) for GetObjectLockConfiguration.
x-amz-bypass-governance-retention on deletes changes nothing (no version is ever under
retention), so it is accepted.

Each case runs on the embedded (SQLite) and the PostgreSQL server.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.conftest import unique_bucket_name
from tests.helpers.s3 import parse_error_xml, s3_error

RETAIN_UNTIL = datetime(2030, 1, 1, tzinfo=UTC)
MISSING_LOCK = "Bucket is missing Object Lock Configuration"


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request):  # type: ignore[no-untyped-def]
    """(server, client) for each backend."""
    if request.param == "sqlite":
        return request.getfixturevalue("server"), request.getfixturevalue("s3")
    return request.getfixturevalue("pg_server"), request.getfixturevalue("pg_s3")


@pytest.fixture
def client(backend):  # type: ignore[no-untyped-def]
    return backend[1]


@pytest.fixture
def lock_bucket(make_bucket, client):  # type: ignore[no-untyped-def]
    return make_bucket(client)


def assert_missing_lock(exc_info) -> None:  # type: ignore[no-untyped-def]
    assert exc_info.value.response["Error"]["Message"] == MISSING_LOCK


def assert_no_object(client, bucket: str, key: str) -> None:  # type: ignore[no-untyped-def]
    with s3_error(status=404):
        client.head_object(Bucket=bucket, Key=key)
    versions = client.list_object_versions(Bucket=bucket, Prefix=key)
    assert versions.get("Versions", []) == [] and versions.get("DeleteMarkers", []) == []


def test_create_bucket_with_object_lock_is_not_implemented(client):  # type: ignore[no-untyped-def]
    """The issue's walk-through: the bucket was created, said Enabled, and a COMPLIANCE
    object on it was then deleted for good. Now the bucket is never created."""
    name = unique_bucket_name("lock")
    with s3_error("NotImplemented", 501):
        client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    with s3_error(status=404):
        client.head_bucket(Bucket=name)
    assert name not in [b["Name"] for b in client.list_buckets()["Buckets"]]


def test_create_bucket_with_object_lock_false_creates_a_plain_bucket(client):  # type: ignore[no-untyped-def]
    """`false` asks for what every bucket is: no lock."""
    name = unique_bucket_name("nolock")
    client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=False)
    try:
        with s3_error("ObjectLockConfigurationNotFoundError", 404):
            client.get_object_lock_configuration(Bucket=name)
    finally:
        client.delete_bucket(Bucket=name)


def test_create_bucket_with_bad_object_lock_value_is_invalid(backend):  # type: ignore[no-untyped-def]
    server, client = backend
    name = unique_bucket_name("badlock")

    def header(request, **_kw):  # type: ignore[no-untyped-def]
        request.headers["x-amz-bucket-object-lock-enabled"] = "yes"

    c = server.client()
    c.meta.events.register_first("before-sign.s3.CreateBucket", header)
    with s3_error("InvalidRequest", 400):
        c.create_bucket(Bucket=name)
    with s3_error(status=404):
        client.head_bucket(Bucket=name)


def test_object_lock_configuration(client, lock_bucket):  # type: ignore[no-untyped-def]
    with s3_error("ObjectLockConfigurationNotFoundError", 404):
        client.get_object_lock_configuration(Bucket=lock_bucket)
    config = {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
    }
    with s3_error("NotImplemented", 501):
        client.put_object_lock_configuration(Bucket=lock_bucket, ObjectLockConfiguration=config)
    with s3_error("ObjectLockConfigurationNotFoundError", 404):
        client.get_object_lock_configuration(Bucket=lock_bucket)
    assert client.get_bucket_versioning(Bucket=lock_bucket).get("Status") is None


def test_retention_and_legal_hold_subresources(client, lock_bucket):  # type: ignore[no-untyped-def]
    client.put_object(Bucket=lock_bucket, Key="k", Body=b"data")
    calls = [
        lambda: client.put_object_retention(
            Bucket=lock_bucket,
            Key="k",
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": RETAIN_UNTIL},
        ),  # fmt: skip
        lambda: client.get_object_retention(Bucket=lock_bucket, Key="k"),
        lambda: client.put_object_legal_hold(Bucket=lock_bucket, Key="k", LegalHold={"Status": "ON"}),
        lambda: client.get_object_legal_hold(Bucket=lock_bucket, Key="k"),
    ]
    for call in calls:
        with s3_error("InvalidRequest", 400) as exc_info:
            call()
        assert_missing_lock(exc_info)
    # Nothing holds the object: a plain delete removes it, as it always did.
    client.delete_object(Bucket=lock_bucket, Key="k")
    assert_no_object(client, lock_bucket, "k")


def test_retention_on_a_missing_bucket_is_no_such_bucket(client):  # type: ignore[no-untyped-def]
    with s3_error("NoSuchBucket", 404):
        client.get_object_retention(Bucket=unique_bucket_name("gone"), Key="k")


LOCK_ARGS = [
    pytest.param({"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": RETAIN_UNTIL}, id="compliance"),
    pytest.param({"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": RETAIN_UNTIL}, id="governance"),
    pytest.param({"ObjectLockLegalHoldStatus": "ON"}, id="legal-hold"),
]


@pytest.mark.parametrize("lock", LOCK_ARGS)
def test_put_object_with_lock_headers(client, lock_bucket, lock):  # type: ignore[no-untyped-def]
    with s3_error("InvalidRequest", 400) as exc_info:
        client.put_object(Bucket=lock_bucket, Key="locked", Body=b"keep me", **lock)
    assert_missing_lock(exc_info)
    assert_no_object(client, lock_bucket, "locked")


@pytest.mark.parametrize("lock", LOCK_ARGS)
def test_copy_object_with_lock_headers(client, lock_bucket, lock):  # type: ignore[no-untyped-def]
    client.put_object(Bucket=lock_bucket, Key="src", Body=b"source")
    with s3_error("InvalidRequest", 400) as exc_info:
        client.copy_object(Bucket=lock_bucket, Key="dst", CopySource={"Bucket": lock_bucket, "Key": "src"}, **lock)
    assert_missing_lock(exc_info)
    assert_no_object(client, lock_bucket, "dst")


@pytest.mark.parametrize("lock", LOCK_ARGS)
def test_create_multipart_upload_with_lock_headers(client, lock_bucket, lock):  # type: ignore[no-untyped-def]
    with s3_error("InvalidRequest", 400) as exc_info:
        client.create_multipart_upload(Bucket=lock_bucket, Key="mp", **lock)
    assert_missing_lock(exc_info)
    assert client.list_multipart_uploads(Bucket=lock_bucket).get("Uploads", []) == []


def test_lock_headers_on_a_missing_bucket_are_no_such_bucket(client):  # type: ignore[no-untyped-def]
    with s3_error("NoSuchBucket", 404):
        client.put_object(Bucket=unique_bucket_name("gone"), Key="k", Body=b"x", ObjectLockLegalHoldStatus="ON")


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param(
            {
                "x-amz-object-lock-mode": "COMPLIANCE",
                "x-amz-object-lock-retain-until-date": "2030-01-01T00:00:00Z",
            },
            id="retention",
        ),
        pytest.param({"x-amz-object-lock-legal-hold": "ON"}, id="legal-hold"),
    ],
)
def test_post_object_with_lock_fields(backend, lock_bucket, fields):  # type: ignore[no-untyped-def]
    server, client = backend
    post = client.generate_presigned_post(
        lock_bucket, "form", Fields=fields, Conditions=[{k: v} for k, v in fields.items()]
    )
    resp = requests.post(post["url"], data=post["fields"], files={"file": b"form data"}, timeout=30)
    assert resp.status_code == 400, resp.text
    err = parse_error_xml(resp.content)
    assert (err["Code"], err["Message"]) == ("InvalidRequest", MISSING_LOCK)
    assert_no_object(client, lock_bucket, "form")


def test_bypass_governance_retention_on_deletes_changes_nothing(client, lock_bucket):  # type: ignore[no-untyped-def]
    """No version is ever under retention, so bypassing it is what a delete does anyway."""
    client.put_object(Bucket=lock_bucket, Key="one", Body=b"1")
    client.put_object(Bucket=lock_bucket, Key="two", Body=b"2")
    client.delete_object(Bucket=lock_bucket, Key="one", BypassGovernanceRetention=True)
    assert_no_object(client, lock_bucket, "one")
    out = client.delete_objects(
        Bucket=lock_bucket, Delete={"Objects": [{"Key": "two"}]}, BypassGovernanceRetention=True
    )
    assert [d["Key"] for d in out["Deleted"]] == ["two"] and not out.get("Errors")
    assert_no_object(client, lock_bucket, "two")


def test_refusals_name_the_request(client, lock_bucket):  # type: ignore[no-untyped-def]
    """The 501 is S3 error XML naming the resource, as every error is."""
    try:
        client.put_object_lock_configuration(
            Bucket=lock_bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}
        )
    except ClientError as err:
        assert err.response["Error"]["Code"] == "NotImplemented"
        assert "Object Lock" in err.response["Error"]["Message"]
    else:
        pytest.fail("PutObjectLockConfiguration succeeded")


def test_presigned_put_with_lock_in_the_query(backend, lock_bucket):  # type: ignore[no-untyped-def]
    server, client = backend
    request = AWSRequest(method="PUT", url=f"{server.endpoint}/{lock_bucket}/q?x-amz-object-lock-legal-hold=ON")
    S3SigV4QueryAuth(Credentials(server.access_key, server.secret_key), "s3", "us-east-1", expires=300).add_auth(
        request
    )
    resp = requests.put(request.url, data=b"keep me", timeout=30)
    assert resp.status_code == 400, resp.text
    err = parse_error_xml(resp.content)
    assert (err["Code"], err["Message"]) == ("InvalidRequest", MISSING_LOCK)
    assert_no_object(client, lock_bucket, "q")

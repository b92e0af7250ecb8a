"""Bucket operations as AWS documents them: CreateBucket, ListBuckets,
HeadBucket, DeleteBucket, GetBucketLocation, and bucket naming rules."""

from __future__ import annotations

import datetime
import uuid

import pytest

from tests.conftest import unique_bucket_name
from tests.helpers.s3 import parse_error_xml, raw_get, s3_error


def test_health_endpoints_answer_200(server):
    assert server.health("live") == 200
    assert server.health("ready") == 200


def test_create_bucket_then_listed_with_creation_date(s3, make_bucket):
    before = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    name = make_bucket()
    resp = s3.list_buckets()
    by_name = {b["Name"]: b for b in resp["Buckets"]}
    assert name in by_name
    created = by_name[name]["CreationDate"]
    assert isinstance(created, datetime.datetime)
    assert before <= created <= datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5)
    assert resp["Owner"]["ID"], "ListBuckets must name the owner"


def test_create_bucket_returns_location_header(s3, bucket_name):
    resp = s3.create_bucket(Bucket=bucket_name)
    try:
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert resp["Location"] == f"/{bucket_name}"
    finally:
        s3.delete_bucket(Bucket=bucket_name)


def test_list_buckets_sorted_by_name(s3, make_bucket):
    names = [make_bucket(name=unique_bucket_name(p)) for p in ("zz", "aa", "mm")]
    listed = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert listed == sorted(listed)
    assert set(names) <= set(listed)


def test_head_bucket_existing(s3, bucket):
    resp = s3.head_bucket(Bucket=bucket)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert resp["ResponseMetadata"]["HTTPHeaders"].get("x-amz-bucket-region") == "us-east-1"


def test_head_bucket_missing_is_404(s3, bucket_name):
    with s3_error(status=404):
        s3.head_bucket(Bucket=bucket_name)


def test_delete_bucket_removes_it(s3, bucket_name):
    s3.create_bucket(Bucket=bucket_name)
    resp = s3.delete_bucket(Bucket=bucket_name)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    with s3_error(status=404):
        s3.head_bucket(Bucket=bucket_name)
    assert bucket_name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_delete_missing_bucket_is_no_such_bucket(s3, bucket_name):
    with s3_error("NoSuchBucket", 404) as exc:
        s3.delete_bucket(Bucket=bucket_name)
    assert exc.value.response["Error"].get("BucketName") == bucket_name


def test_delete_non_empty_bucket_is_bucket_not_empty(s3, bucket):
    s3.put_object(Bucket=bucket, Key="keep-me", Body=b"x")
    with s3_error("BucketNotEmpty", 409):
        s3.delete_bucket(Bucket=bucket)
    # Nothing changed: the bucket and its object are still there.
    assert s3.get_object(Bucket=bucket, Key="keep-me")["Body"].read() == b"x"


def test_bucket_can_be_recreated_after_delete(s3, bucket_name):
    s3.create_bucket(Bucket=bucket_name)
    s3.put_object(Bucket=bucket_name, Key="k", Body=b"old")
    s3.delete_object(Bucket=bucket_name, Key="k")
    s3.delete_bucket(Bucket=bucket_name)
    s3.create_bucket(Bucket=bucket_name)
    try:
        assert s3.list_objects_v2(Bucket=bucket_name)["KeyCount"] == 0
    finally:
        s3.delete_bucket(Bucket=bucket_name)


def test_recreate_own_bucket_in_us_east_1_is_ok_and_keeps_contents(s3, bucket):
    # AWS's legacy us-east-1 answers 200 to re-creating your own bucket (every other
    # region answers 409 BucketAlreadyOwnedByYou); Ceph's s3-tests expect the same.
    s3.put_object(Bucket=bucket, Key="kept", Body=b"x")
    s3.create_bucket(Bucket=bucket)
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"x"


def test_recreate_own_bucket_elsewhere_is_already_owned_by_you(server_factory):
    srv = server_factory(env={"CHRONICLE_REGION": "eu-west-1"})
    s3 = srv.client()
    s3.create_bucket(Bucket="mine", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    with s3_error("BucketAlreadyOwnedByYou", 409):
        s3.create_bucket(Bucket="mine", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})


@pytest.mark.parametrize(
    "name",
    [
        "ab",  # shorter than 3
        "a" * 64,  # longer than 63
        "UpperCase",  # upper-case letters
        "under_score",  # underscore
        "-leading-dash",  # must begin with a letter or digit
        "trailing-dash-",  # must end with a letter or digit
        "double..dot",  # two adjacent periods
        "192.168.5.4",  # formatted as an IP address
        "xn--prefixed",  # reserved prefix
        "bucket-s3alias",  # reserved suffix
    ],
)
def test_invalid_bucket_names_rejected(s3, name):
    with s3_error("InvalidBucketName", 400):
        s3.create_bucket(Bucket=name)
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


@pytest.mark.parametrize("kind", ["3-chars", "63-chars", "dots", "leading-digit"])
def test_valid_edge_bucket_names_accepted(s3, make_bucket, kind):
    tag = uuid.uuid4().hex
    name = {
        "3-chars": "z" + tag[:2],
        "63-chars": (tag + "a" * 63)[:63],
        "dots": f"with.dots.{tag[:8]}",
        "leading-digit": f"0start-{tag[:8]}",
    }[kind]
    assert make_bucket(name=name) == name
    s3.head_bucket(Bucket=name)


def test_get_bucket_location_default_region(s3, bucket):
    # us-east-1 buckets report an empty LocationConstraint (boto3: None).
    resp = s3.get_bucket_location(Bucket=bucket)
    assert resp.get("LocationConstraint") in (None, "")


def test_get_bucket_location_missing_bucket(s3, bucket_name):
    with s3_error("NoSuchBucket", 404):
        s3.get_bucket_location(Bucket=bucket_name)


def test_error_document_has_code_message_resource_request_id(s3, bucket_name):
    url = s3.generate_presigned_url("list_objects_v2", Params={"Bucket": bucket_name})
    status, headers, body = raw_get(url)
    assert status == 404
    err = parse_error_xml(body)
    assert err["Code"] == "NoSuchBucket"
    assert err.get("Message")
    assert bucket_name in err.get("Resource", "") or err.get("BucketName") == bucket_name
    assert err.get("RequestId")
    assert headers.get("x-amz-request-id") or headers.get("X-Amz-Request-Id")

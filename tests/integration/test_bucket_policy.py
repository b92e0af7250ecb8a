"""Bucket policies through a real server: Put/Get/DeleteBucketPolicy, GetBucketPolicyStatus,
validation (MalformedPolicy with AWS's messages), and what a policy lets anonymous callers do."""

from __future__ import annotations

import json

import pytest

from tests.helpers.s3 import parse_error_xml, raw_get, s3_error


def public_read(bucket: str, prefix: str = "") -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": ["*"]},
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/{prefix}*"],
            }
        ],
    }


def test_put_get_delete_round_trip(s3, bucket):
    # Sent with odd spacing and key order: GET answers the very text that was sent.
    resource = f"arn:aws:s3:::{bucket}/*"
    text = (
        '{ "Statement":[{"Resource":"'
        + resource
        + '","Action":"s3:GetObject","Principal":"*","Effect":"Allow"}],\n  "Version":"2012-10-17"}'
    )
    resp = s3.put_bucket_policy(Bucket=bucket, Policy=text)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] in (200, 204)
    assert s3.get_bucket_policy(Bucket=bucket)["Policy"] == text
    s3.delete_bucket_policy(Bucket=bucket)
    with s3_error("NoSuchBucketPolicy", 404):
        s3.get_bucket_policy(Bucket=bucket)
    # deleting again (no policy) is fine too
    assert s3.delete_bucket_policy(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_no_policy_and_no_bucket(s3, bucket, bucket_name):
    with s3_error("NoSuchBucketPolicy", 404):
        s3.get_bucket_policy(Bucket=bucket)
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False
    with s3_error("NoSuchBucket", 404):
        s3.get_bucket_policy(Bucket=bucket_name)
    with s3_error("NoSuchBucket", 404):
        s3.put_bucket_policy(Bucket=bucket_name, Policy=json.dumps(public_read(bucket_name)))


def test_policy_status_from_acl(s3, bucket):
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False
    for canned, public in (("public-read", True), ("authenticated-read", True), ("private", False)):
        s3.put_bucket_acl(Bucket=bucket, ACL=canned)
        assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is public


def test_policy_status(s3, bucket):
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public_read(bucket)))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    narrowed = public_read(bucket)
    narrowed["Statement"][0]["Condition"] = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(narrowed))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False
    named = public_read(bucket)
    named["Statement"][0]["Principal"] = {"AWS": ["arn:aws:iam::000000000000:user/alice"]}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(named))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p, b: p["Statement"][0].update(Action=["s3:NoSuchAction"]), "Policy has invalid action"),
        (
            lambda p, b: p["Statement"][0].update(Resource=["arn:aws:s3:::some-other-bucket/*"]),
            "Policy has invalid resource",
        ),
        (lambda p, b: p["Statement"][0].pop("Principal"), "Missing required field Principal"),
        (lambda p, b: p.update(Version="2020-01-01"), None),
    ],
)
def test_malformed_policy(s3, bucket, mutate, message):
    policy = public_read(bucket)
    mutate(policy, bucket)
    with s3_error("MalformedPolicy", 400) as exc:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    if message:
        assert exc.value.response["Error"]["Message"] == message
    with s3_error("NoSuchBucketPolicy", 404):
        s3.get_bucket_policy(Bucket=bucket)


def test_not_json_and_too_large(s3, bucket):
    with s3_error("MalformedPolicy", 400):
        s3.put_bucket_policy(Bucket=bucket, Policy="this is not json")
    big = public_read(bucket)
    big["Statement"] = [dict(big["Statement"][0], Sid=f"s{i}") for i in range(200)]
    assert len(json.dumps(big)) > 20 * 1024
    with s3_error("MalformedPolicy", 400):
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(big))


def test_policy_opens_objects_to_anonymous(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="pub/a.txt", Body=b"public")
    s3.put_object(Bucket=bucket, Key="priv/b.txt", Body=b"private")
    assert raw_get(f"{server.endpoint}/{bucket}/pub/a.txt")[0] == 403
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public_read(bucket, "pub/")))
    status, _, body = raw_get(f"{server.endpoint}/{bucket}/pub/a.txt")
    assert (status, body) == (200, b"public")
    status, _, body = raw_get(f"{server.endpoint}/{bucket}/priv/b.txt")
    assert status == 403 and parse_error_xml(body)["Code"] == "AccessDenied"
    assert raw_get(f"{server.endpoint}/{bucket}/pub/a.txt", method="PUT", data=b"x")[0] == 403
    s3.delete_bucket_policy(Bucket=bucket)
    assert raw_get(f"{server.endpoint}/{bucket}/pub/a.txt")[0] == 403


def test_deny_for_everyone_beats_acl_but_not_root(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="secret/x", Body=b"x", ACL="public-read")
    s3.put_object(Bucket=bucket, Key="open/y", Body=b"y", ACL="public-read")
    assert raw_get(f"{server.endpoint}/{bucket}/secret/x")[0] == 200
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/secret/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(deny))
    assert raw_get(f"{server.endpoint}/{bucket}/secret/x")[0] == 403
    assert raw_get(f"{server.endpoint}/{bucket}/open/y")[2] == b"y"
    # root is the account: bucket policies do not bind it (as on AWS)
    assert s3.get_object(Bucket=bucket, Key="secret/x")["Body"].read() == b"x"


def test_policy_with_condition_on_prefix(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="docs/a", Body=b"a")
    listing = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{bucket}",
                "Condition": {"StringEquals": {"s3:prefix": "docs/"}},
            }
        ],
    }  # fmt: skip
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(listing))
    status, _, body = raw_get(f"{server.endpoint}/{bucket}?prefix=docs/")
    assert status == 200 and b"<Key>docs/a</Key>" in body
    assert raw_get(f"{server.endpoint}/{bucket}?prefix=other/")[0] == 403
    assert raw_get(f"{server.endpoint}/{bucket}")[0] == 403

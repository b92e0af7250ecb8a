"""PublicAccessBlock through boto3 against a real server: the configuration round trip and
what each of its four settings changes for clients."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError


def _conf(**on: bool) -> dict[str, bool]:
    names = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    return {n: on.get(n, False) for n in names}


def _public_read(bucket: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                }
            ],
        }
    )


def _status(exc_info) -> tuple[str, int]:
    resp = exc_info.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def anonymous(server):
    return boto3.session.Session().client(
        "s3",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}),
    )


def test_round_trip(s3, bucket):
    with pytest.raises(ClientError) as info:
        s3.get_public_access_block(Bucket=bucket)
    assert _status(info) == ("NoSuchPublicAccessBlockConfiguration", 404)
    conf = _conf(BlockPublicAcls=True, BlockPublicPolicy=True)
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=conf)
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == conf
    assert s3.delete_public_access_block(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as info:
        s3.get_public_access_block(Bucket=bucket)
    assert _status(info) == ("NoSuchPublicAccessBlockConfiguration", 404)


def test_block_public_acls(s3, bucket):
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=_conf(BlockPublicAcls=True))
    for canned in ("public-read", "public-read-write", "authenticated-read"):
        with pytest.raises(ClientError) as info:
            s3.put_bucket_acl(Bucket=bucket, ACL=canned)
        assert _status(info) == ("AccessDenied", 403)
        with pytest.raises(ClientError) as info:
            s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL=canned)
        assert _status(info) == ("AccessDenied", 403)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="private")


def test_block_public_policy(s3, bucket):
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=_conf(BlockPublicPolicy=True))
    with pytest.raises(ClientError) as info:
        s3.put_bucket_policy(Bucket=bucket, Policy=_public_read(bucket))
    assert _status(info) == ("AccessDenied", 403)
    named = json.loads(_public_read(bucket))
    named["Statement"][0]["Principal"] = {"AWS": "arn:aws:iam::000000000000:user/someone"}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(named))  # not public: accepted


def test_restrict_public_buckets(s3, bucket, anonymous):
    s3.put_object(Bucket=bucket, Key="k", Body=b"bar")
    s3.put_bucket_policy(Bucket=bucket, Policy=_public_read(bucket))
    assert anonymous.get_object(Bucket=bucket, Key="k")["Body"].read() == b"bar"
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=_conf(RestrictPublicBuckets=True))
    with pytest.raises(ClientError) as info:
        anonymous.get_object(Bucket=bucket, Key="k")
    assert _status(info) == ("AccessDenied", 403)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"bar"


def test_ignore_public_acls(s3, bucket, anonymous):
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    s3.put_object(Bucket=bucket, Key="k", Body=b"abc", ACL="public-read")
    assert anonymous.get_object(Bucket=bucket, Key="k")["Body"].read() == b"abc"
    anonymous.list_objects(Bucket=bucket)
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=_conf(IgnorePublicAcls=True))
    for call in (
        lambda: anonymous.get_object(Bucket=bucket, Key="k"),
        lambda: anonymous.list_objects(Bucket=bucket),
    ):
        with pytest.raises(ClientError) as info:
            call()
        assert _status(info) == ("AccessDenied", 403)

"""What clients written for Ceph RGW and MinIO (e.g. Ceph's s3-tests) send to the IAM, STS and
S3 APIs: users named by canonical id, account-less role ARNs, a wildcard Principal in a role's
policy, sts:authentication conditions, and S3's 403-or-404 answer for a missing key."""

from __future__ import annotations

import hashlib
import json
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

CREATE_AND_LIST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:CreateBucket", "s3:ListAllMyBuckets"],
            "Resource": "arn:aws:s3:::*",
        }
    ],
}


def _client(server, service: str, key: str, secret: str, token: str | None = None):
    return boto3.session.Session().client(
        service,
        endpoint_url=server.endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def _error(exc_info) -> tuple[str, int]:
    resp = exc_info.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def _canonical(user: str) -> str:
    return hashlib.sha256(f"chronicle-user:{user}".encode()).hexdigest()


@pytest.fixture
def alt(server):
    """A user that may create buckets and list them: (name, s3, sts, access key)."""
    iam = server.client("iam")
    user = f"alt-{uuid.uuid4().hex[:10]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="base", PolicyDocument=json.dumps(CREATE_AND_LIST))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    ak, sk = key["AccessKeyId"], key["SecretAccessKey"]
    return user, _client(server, "s3", ak, sk), _client(server, "sts", ak, sk), ak


def test_user_policy_by_canonical_id(server, alt):
    user, _s3, _sts, _key = alt
    iam = server.client("iam")
    doc = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
        }
    )
    iam.put_user_policy(UserName=_canonical(user), PolicyName="p", PolicyDocument=doc)
    assert iam.list_user_policies(UserName=user)["PolicyNames"] == ["base", "p"]
    assert iam.get_user_policy(UserName=_canonical(user), PolicyName="p")["UserName"] == user
    iam.delete_user_policy(UserName=_canonical(user), PolicyName="p")
    with pytest.raises(ClientError) as info:
        iam.put_user_policy(UserName="f" * 64, PolicyName="p", PolicyDocument=doc)
    assert _error(info) == ("NoSuchEntity", 404)


def test_assume_role_trusting_canonical_user_arn(server, alt):
    user, _s3, sts, _key = alt
    iam = server.client("iam")
    role = f"r-{uuid.uuid4().hex[:10]}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": [f"arn:aws:iam:::user/{_canonical(user)}"]},
                "Action": ["sts:AssumeRole"],
            }
        ],
    }
    created = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    assert created["Arn"] == f"arn:aws:iam:::role/{role}"
    # a wildcard Principal in a role's permission policy is accepted (and names nobody else)
    allow = {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Allow",
            "Action": "s3:*",
            "Principal": "*",
            "Resource": "arn:aws:s3:::*",
        },
    }
    iam.put_role_policy(RoleName=role, PolicyName="all", PolicyDocument=json.dumps(allow))
    other = dict(
        allow,
        Statement=dict(allow["Statement"], Principal={"AWS": "arn:aws:iam::000000000000:user/x"}),
    )
    with pytest.raises(ClientError) as info:
        iam.put_role_policy(RoleName=role, PolicyName="named", PolicyDocument=json.dumps(other))
    assert _error(info) == ("MalformedPolicyDocument", 400)
    creds = sts.assume_role(RoleArn=created["Arn"], RoleSessionName="s1")["Credentials"]
    session = _client(server, "s3", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    bucket = f"compat-{uuid.uuid4().hex[:12]}"
    session.create_bucket(Bucket=bucket)
    assert session.delete_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    iam.delete_role_policy(RoleName=role, PolicyName="all")
    iam.delete_role(RoleName=role)


def test_sts_authentication_condition(server, alt):
    user, s3, sts, _key = alt
    iam = server.client("iam")
    only_sessions = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": "s3:*",
                "Resource": ["*"],
                "Condition": {"BoolIfExists": {"sts:authentication": "false"}},
            },
            {
                "Effect": "Allow",
                "Action": "sts:GetSessionToken",
                "Resource": "*",
                "Condition": {"BoolIfExists": {"sts:authentication": "false"}},
            },
        ],
    }
    iam.put_user_policy(UserName=user, PolicyName="sessions", PolicyDocument=json.dumps(only_sessions))
    bucket = f"compat-{uuid.uuid4().hex[:12]}"
    with pytest.raises(ClientError) as info:
        s3.create_bucket(Bucket=bucket)  # its own long-term keys: denied
    assert _error(info) == ("AccessDenied", 403)
    creds = sts.get_session_token()["Credentials"]
    session = _client(server, "s3", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    session.create_bucket(Bucket=bucket)
    session.delete_bucket(Bucket=bucket)


def test_missing_key_is_404_only_for_callers_that_may_list(server, s3, bucket, alt):
    _user, alt_s3, _sts, _key = alt
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{bucket}/*",
                    },
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": "*"},
                        "Action": "s3:ListBucket",
                        "Resource": f"arn:aws:s3:::{bucket}",
                        "Condition": {"StringLike": {"s3:prefix": "public/*"}},
                    },
                ],
            }
        ),
    )
    for key, status in (("public/missing", 404), ("private/missing", 403)):
        with pytest.raises(ClientError) as info:
            alt_s3.head_object(Bucket=bucket, Key=key)
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    s3.put_object(Bucket=bucket, Key="private/there", Body=b"x")
    assert alt_s3.get_object(Bucket=bucket, Key="private/there")["Body"].read() == b"x"


def test_list_buckets_explicitly_denied(server, alt):
    user, s3, _sts, _key = alt
    s3.list_buckets()
    deny = {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Deny",
            "Action": "s3:ListAllMyBuckets",
            "Resource": "arn:aws:s3:::*",
        },
    }
    server.client("iam").put_user_policy(UserName=user, PolicyName="deny", PolicyDocument=json.dumps(deny))
    with pytest.raises(ClientError) as info:
        s3.list_buckets()
    assert _error(info) == ("AccessDenied", 403)

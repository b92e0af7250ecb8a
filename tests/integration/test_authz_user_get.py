"""A plain user's GET/HEAD of an object reads its credential, the bucket, the bucket policy and
the version in one statement: every answer it can give (object, version, missing key, missing
version, delete marker, missing bucket) must be the one root's path gives, on SQLite and on
PostgreSQL, and a change to the key or the bucket policy must apply to the very next request."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

READ = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"],
            "Resource": ["arn:aws:s3:::*"],
        }
    ],
}


def _client(server, service: str, key: str, secret: str):
    return boto3.session.Session().client(
        service,
        endpoint_url=server.endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def _code(exc_info) -> tuple[str, int]:
    resp = exc_info.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(params=["sqlite", "postgres"])
def env(request):
    """(server, root s3 client, reader s3 client, iam client, reader's key id)."""
    server = request.getfixturevalue("server" if request.param == "sqlite" else "pg_server")
    iam = server.client("iam")
    user = f"reader-{uuid.uuid4().hex[:10]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=json.dumps(READ))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return (
        server,
        server.client("s3"),
        _client(server, "s3", key["AccessKeyId"], key["SecretAccessKey"]),
        iam,
        user,
        key["AccessKeyId"],
    )


def test_user_get_answers_like_root(env, make_bucket):
    server, root, reader, _iam, _user, _key = env
    bucket = make_bucket(root, versioning="Enabled")
    v1 = root.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    root.put_object(Bucket=bucket, Key="k", Body=b"two")
    assert reader.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    assert reader.get_object(Bucket=bucket, Key="k", VersionId=v1)["Body"].read() == b"one"
    assert reader.head_object(Bucket=bucket, Key="k")["ContentLength"] == 3
    with pytest.raises(ClientError) as info:
        reader.get_object(Bucket=bucket, Key="missing")
    assert _code(info) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as info:
        reader.get_object(Bucket=bucket, Key="k", VersionId="0" * 32)
    assert _code(info) == ("NoSuchVersion", 404)
    root.delete_object(Bucket=bucket, Key="k")
    with pytest.raises(ClientError) as info:
        reader.get_object(Bucket=bucket, Key="k")
    assert _code(info) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as info:
        reader.get_object(Bucket=f"no-such-{uuid.uuid4().hex[:10]}", Key="k")
    assert _code(info) == ("NoSuchBucket", 404)


def test_bucket_policy_and_key_changes_apply_at_once(env, make_bucket):
    server, root, reader, iam, user, key_id = env
    bucket = make_bucket(root)
    root.put_object(Bucket=bucket, Key="secret/x", Body=b"x")
    assert reader.get_object(Bucket=bucket, Key="secret/x")["Body"].read() == b"x"
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
    root.put_bucket_policy(Bucket=bucket, Policy=json.dumps(deny))
    with pytest.raises(ClientError) as info:
        reader.get_object(Bucket=bucket, Key="secret/x")
    assert _code(info) == ("AccessDenied", 403)
    root.delete_bucket_policy(Bucket=bucket)
    assert reader.get_object(Bucket=bucket, Key="secret/x")["Body"].read() == b"x"
    iam.update_access_key(UserName=user, AccessKeyId=key_id, Status="Inactive")
    with pytest.raises(ClientError) as info:
        reader.get_object(Bucket=bucket, Key="secret/x")
    assert _code(info) == ("InvalidAccessKeyId", 403)


def test_iam_changes_on_one_node_apply_on_the_other_at_once(server_factory, pg_url, tmp_path):
    """A node keeps the credentials it has seen, but only for as long as the database's IAM
    generation is the one it read them at: a key disabled, a policy removed or a user deleted
    through node A is refused by node B's very next request, which had just been allowed."""
    import os

    from tests.helpers.server import master_key

    shared = dict(
        database_url=pg_url,
        master_key_hex=master_key(),
        access_key="chronicleroot",
        secret_key="shared-secret-" + os.urandom(6).hex(),
        data_dir=tmp_path / "shared-blobs",
    )
    node_a = server_factory("postgres", migrate=True, **shared)
    node_b = server_factory("postgres", migrate=False, **shared)
    iam = node_a.client("iam")
    root = node_a.client("s3")
    bucket = "gen-" + uuid.uuid4().hex[:12]
    root.create_bucket(Bucket=bucket)
    root.put_object(Bucket=bucket, Key="k", Body=b"v")
    user = f"reader-{uuid.uuid4().hex[:10]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=json.dumps(READ))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    reader = _client(node_b, "s3", key["AccessKeyId"], key["SecretAccessKey"])

    def allowed() -> bool:
        try:
            assert reader.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
            reader.list_objects_v2(Bucket=bucket)
            return True
        except ClientError as exc:
            assert exc.response["Error"]["Code"] in ("AccessDenied", "InvalidAccessKeyId"), exc.response
            return False

    for _ in range(3):
        assert allowed()
        iam.update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status="Inactive")
        assert not allowed()
        iam.update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status="Active")
        assert allowed()
        iam.delete_user_policy(UserName=user, PolicyName="read")
        assert not allowed()
        iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=json.dumps(READ))
    assert allowed()
    iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    with pytest.raises(ClientError) as info:
        reader.get_object(Bucket=bucket, Key="k")
    assert _code(info) == ("InvalidAccessKeyId", 403)

"""STS through boto3's STS client against a real server: AssumeRole (MinIO-style and for IAM
roles with trust policies), GetSessionToken, GetCallerIdentity, and the temporary keys on S3 —
session policies narrow, expiry (with a movable server clock), disabled or deleted parents."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from urllib.parse import quote

import anyio
import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ACCOUNT = "000000000000"
ANY_ROLE = "arn:aws:iam::000000000000:role/minio-style-any-role"
READWRITE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::*"]}],
}
READONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": ["arn:aws:s3:::*"],
        }
    ],
}


def name(prefix: str = "u") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def client(server, service: str, key: str, secret: str, token: str | None = None, *, validate: bool = True):
    return boto3.session.Session().client(
        service,
        endpoint_url=server.endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "path"},
            retries={"total_max_attempts": 1, "mode": "standard"},
            parameter_validation=validate,  # False: let the server judge out-of-range values
        ),
    )


def unvalidated_sts(server):
    return client(server, "sts", server.access_key, server.secret_key, validate=False)


def signed_post(server, url: str, body: str, key: str, secret: str, region: str = "us-east-1") -> tuple[int, str]:
    """POST signed with SigV4 for sts by botocore's signer, sent as is."""
    import urllib.error
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"} if body else {}
    request = AWSRequest(method="POST", url=url, data=body.encode(), headers=headers)
    SigV4Auth(Credentials(key, secret), "sts", region).add_auth(request)
    prepared = request.prepare()
    http = urllib.request.Request(prepared.url, data=body.encode(), method="POST", headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(http) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def temporary(server, service: str, credentials: dict):
    return client(
        server, service, credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]
    )


def error(exc_info) -> tuple[str, int]:
    resp = exc_info.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def make_user(server, policy: dict | None = READWRITE) -> tuple[str, str, str]:
    """An IAM user with a key and (optionally) an inline policy: (name, key id, secret)."""
    iam = server.client("iam")
    user_name = name()
    iam.create_user(UserName=user_name)
    key = iam.create_access_key(UserName=user_name)["AccessKey"]
    if policy is not None:
        iam.put_user_policy(UserName=user_name, PolicyName="p", PolicyDocument=json.dumps(policy))
    return user_name, key["AccessKeyId"], key["SecretAccessKey"]


@pytest.fixture
def filled_bucket(server, make_bucket):
    """A bucket of root's holding key "k"."""
    bucket = make_bucket()
    server.client().put_object(Bucket=bucket, Key="k", Body=b"root data")
    return bucket


# -- AssumeRole, MinIO style: the caller's own rights -------------------------------------


def test_assume_role_as_root(server, filled_bucket):
    sts = server.client("sts")
    resp = sts.assume_role(RoleArn=ANY_ROLE, RoleSessionName="root-session")
    creds = resp["Credentials"]
    assert creds["AccessKeyId"] != server.access_key and creds["SessionToken"]
    remaining = (creds["Expiration"] - datetime.now(UTC)).total_seconds()
    assert 3500 < remaining <= 3601  # the default duration
    s3 = temporary(server, "s3", creds)
    s3.put_object(Bucket=filled_bucket, Key="from-session", Body=b"hello")
    assert s3.get_object(Bucket=filled_bucket, Key="from-session")["Body"].read() == b"hello"
    assert filled_bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    ident = temporary(server, "sts", creds).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:iam::{ACCOUNT}:root" and ident["Account"] == ACCOUNT


def test_assume_role_as_user_with_readwrite(server, filled_bucket):
    user_name, key_id, secret = make_user(server)
    creds = client(server, "sts", key_id, secret).assume_role(RoleArn=ANY_ROLE, RoleSessionName="s1")["Credentials"]
    s3 = temporary(server, "s3", creds)
    assert s3.get_object(Bucket=filled_bucket, Key="k")["Body"].read() == b"root data"
    s3.put_object(Bucket=filled_bucket, Key="by-user-session", Body=b"x")
    ident = temporary(server, "sts", creds).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{user_name}"


def test_session_has_no_more_than_its_user(server, filled_bucket):
    _, key_id, secret = make_user(server, policy=None)
    # A session policy allowing everything does not widen a user that may do nothing.
    creds = client(server, "sts", key_id, secret).assume_role(
        RoleArn=ANY_ROLE, RoleSessionName="s1", Policy=json.dumps(READWRITE)
    )["Credentials"]
    with pytest.raises(ClientError) as e:
        temporary(server, "s3", creds).get_object(Bucket=filled_bucket, Key="k")
    assert error(e) == ("AccessDenied", 403)


def test_session_policy_narrows(server, filled_bucket):
    _, key_id, secret = make_user(server)
    sts = client(server, "sts", key_id, secret)
    creds = sts.assume_role(RoleArn=ANY_ROLE, RoleSessionName="ro", Policy=json.dumps(READONLY))["Credentials"]
    s3 = temporary(server, "s3", creds)
    assert s3.get_object(Bucket=filled_bucket, Key="k")["Body"].read() == b"root data"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=filled_bucket, Key="nope", Body=b"x")
    assert error(e) == ("AccessDenied", 403)
    # Root's sessions are narrowed the same way.
    root_creds = server.client("sts").assume_role(RoleArn=ANY_ROLE, RoleSessionName="ro", Policy=json.dumps(READONLY))[
        "Credentials"
    ]
    with pytest.raises(ClientError) as e:
        temporary(server, "s3", root_creds).put_object(Bucket=filled_bucket, Key="nope", Body=b"x")
    assert error(e) == ("AccessDenied", 403)


def test_session_policy_errors(server):
    sts = server.client("sts")
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=ANY_ROLE, RoleSessionName="s1", Policy="{not json")
    assert error(e) == ("MalformedPolicyDocument", 400)
    big = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": f"s{i}", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::bucket-{i:04d}/*"}
            for i in range(40)
        ],
    }
    assert len(json.dumps(big)) > 2048
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=ANY_ROLE, RoleSessionName="s1", Policy=json.dumps(big))
    assert error(e) == ("PackedPolicyTooLarge", 400)


@pytest.mark.parametrize("seconds", [899, 43201, 0])
def test_duration_out_of_bounds(server, seconds):
    with pytest.raises(ClientError) as e:
        unvalidated_sts(server).assume_role(RoleArn=ANY_ROLE, RoleSessionName="s1", DurationSeconds=seconds)
    assert error(e) == ("ValidationError", 400)


@pytest.mark.parametrize("seconds", [900, 43200])
def test_duration_bounds_accepted(server, seconds):
    creds = server.client("sts").assume_role(RoleArn=ANY_ROLE, RoleSessionName="s1", DurationSeconds=seconds)[
        "Credentials"
    ]
    remaining = (creds["Expiration"] - datetime.now(UTC)).total_seconds()
    assert seconds - 100 < remaining <= seconds + 1


def test_bad_session_name(server):
    with pytest.raises(ClientError) as e:
        server.client("sts").assume_role(RoleArn=ANY_ROLE, RoleSessionName="has space")
    assert error(e) == ("ValidationError", 400)


def test_sessions_cannot_make_sessions(server):
    creds = server.client("sts").assume_role(RoleArn=ANY_ROLE, RoleSessionName="s1")["Credentials"]
    sts = temporary(server, "sts", creds)
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=ANY_ROLE, RoleSessionName="s2")
    assert error(e) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        sts.get_session_token()
    assert error(e) == ("AccessDenied", 403)


def test_wrong_or_missing_token(server, filled_bucket):
    creds = server.client("sts").assume_role(RoleArn=ANY_ROLE, RoleSessionName="s1")["Credentials"]
    forged = dict(creds, SessionToken=creds["SessionToken"][:-4] + "AAAA")
    with pytest.raises(ClientError) as e:
        temporary(server, "s3", forged).get_object(Bucket=filled_bucket, Key="k")
    assert error(e) == ("InvalidToken", 400)
    no_token = client(server, "s3", creds["AccessKeyId"], creds["SecretAccessKey"])
    with pytest.raises(ClientError) as e:
        no_token.get_object(Bucket=filled_bucket, Key="k")
    assert error(e) == ("InvalidToken", 400)
    with pytest.raises(ClientError) as e:
        temporary(server, "sts", forged).get_caller_identity()
    assert error(e) == ("InvalidClientTokenId", 403)


# -- GetSessionToken, GetCallerIdentity ---------------------------------------------------


def test_get_session_token(server, filled_bucket):
    user_name, key_id, secret = make_user(server, policy=READONLY)
    resp = client(server, "sts", key_id, secret).get_session_token(DurationSeconds=900)
    s3 = temporary(server, "s3", resp["Credentials"])
    assert s3.get_object(Bucket=filled_bucket, Key="k")["Body"].read() == b"root data"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=filled_bucket, Key="x", Body=b"x")
    assert error(e) == ("AccessDenied", 403)
    assert temporary(server, "sts", resp["Credentials"]).get_caller_identity()["Arn"].endswith(f":user/{user_name}")
    remaining = (resp["Credentials"]["Expiration"] - datetime.now(UTC)).total_seconds()
    assert 800 < remaining <= 901
    with pytest.raises(ClientError) as e:
        client(server, "sts", key_id, secret, validate=False).get_session_token(DurationSeconds=100)
    assert error(e) == ("ValidationError", 400)


def test_get_caller_identity(server):
    root = server.client("sts").get_caller_identity()
    assert (root["Arn"], root["UserId"], root["Account"]) == (f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, ACCOUNT)
    user_name, key_id, secret = make_user(server, policy=None)  # needs no permission
    me = client(server, "sts", key_id, secret).get_caller_identity()
    assert me["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{user_name}"
    assert me["UserId"] == server.client("iam").get_user(UserName=user_name)["User"]["UserId"]
    assert me["Account"] == ACCOUNT


def test_empty_region_and_query_string_form(server):
    """MinIO's clients sign STS with an empty region; parameters may come in the query string."""
    status, text = signed_post(
        server,
        server.endpoint + "/",
        "Action=GetCallerIdentity&Version=2011-06-15",
        server.access_key,
        server.secret_key,
        region="",
    )
    assert status == 200 and f"<Account>{ACCOUNT}</Account>" in text
    url = (
        server.endpoint
        + "/?Action=AssumeRole&Version=2011-06-15&RoleArn="
        + quote(ANY_ROLE, safe="")
        + "&RoleSessionName=qs&DurationSeconds=900"
    )
    status, text = signed_post(server, url, "", server.access_key, server.secret_key)
    assert status == 200
    assert text.startswith('<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>')
    for tag in ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration", "AssumedRoleUser", "RequestId"):
        assert f"<{tag}>" in text


def test_error_response_form(server):
    status, text = signed_post(
        server,
        server.endpoint + "/",
        "Action=AssumeRole&Version=2011-06-15&RoleArn=x&RoleSessionName=s1",
        server.access_key,
        server.secret_key,
    )
    assert status == 400
    assert text.startswith(
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>ValidationError</Code>'
    )
    assert "<RequestId>" in text
    status, text = signed_post(
        server,
        server.endpoint + "/",
        "Action=GetCallerIdentity&Version=2011-06-15",
        server.access_key,
        server.secret_key + "x",
    )
    assert status == 403 and "<Code>SignatureDoesNotMatch</Code>" in text
    status, text = signed_post(
        server, server.endpoint + "/", "Action=Teleport&Version=2011-06-15", server.access_key, server.secret_key
    )
    assert status == 400 and "<Code>InvalidAction</Code>" in text


# -- roles created through the IAM API ----------------------------------------------------


def test_role_trust_policy_decides_who_may_assume(server, filled_bucket):
    iam = server.client("iam")
    alice, alice_key, alice_secret = make_user(server, policy=None)
    _, bob_key, bob_secret = make_user(server, policy=READWRITE)
    role_name = name("reader")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{alice}"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role_arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=role_name, PolicyName="ro", PolicyDocument=json.dumps(READONLY))

    resp = client(server, "sts", alice_key, alice_secret).assume_role(RoleArn=role_arn, RoleSessionName="alice-reads")
    assert resp["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/alice-reads"
    assert resp["AssumedRoleUser"]["AssumedRoleId"].endswith(":alice-reads")
    s3 = temporary(server, "s3", resp["Credentials"])
    # The session holds the role's policies (alice herself may do nothing).
    assert s3.get_object(Bucket=filled_bucket, Key="k")["Body"].read() == b"root data"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=filled_bucket, Key="x", Body=b"x")
    assert error(e) == ("AccessDenied", 403)
    ident = temporary(server, "sts", resp["Credentials"]).get_caller_identity()
    assert ident["Arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/")

    # Bob is not in the trust policy: denied, although his own policy is readwrite.
    with pytest.raises(ClientError) as e:
        client(server, "sts", bob_key, bob_secret).assume_role(RoleArn=role_arn, RoleSessionName="bob")
    assert error(e) == ("AccessDenied", 403)

    # Role policy changes apply to live sessions; deleting the role leaves them nothing.
    iam.put_role_policy(RoleName=role_name, PolicyName="rw", PolicyDocument=json.dumps(READWRITE))
    s3.put_object(Bucket=filled_bucket, Key="x", Body=b"x")
    iam.delete_role_policy(RoleName=role_name, PolicyName="rw")
    iam.delete_role_policy(RoleName=role_name, PolicyName="ro")
    iam.delete_role(RoleName=role_name)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=filled_bucket, Key="k")
    assert error(e) == ("AccessDenied", 403)


def test_role_session_policy_and_max_duration(server, filled_bucket):
    iam = server.client("iam")
    role_name = name("rw")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}],
    }
    role_arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=role_name, PolicyName="rw", PolicyDocument=json.dumps(READWRITE))
    sts = server.client("sts")
    with pytest.raises(ClientError) as e:  # beyond the role's MaxSessionDuration (3600)
        sts.assume_role(RoleArn=role_arn, RoleSessionName="long", DurationSeconds=7200)
    assert error(e) == ("ValidationError", 400)
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="narrow", Policy=json.dumps(READONLY))["Credentials"]
    s3 = temporary(server, "s3", creds)
    s3.get_object(Bucket=filled_bucket, Key="k")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=filled_bucket, Key="x", Body=b"x")
    assert error(e) == ("AccessDenied", 403)


def test_trust_policy_deny_wins(server):
    iam = server.client("iam")
    alice, key, secret = make_user(server, policy=None)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
            {
                "Effect": "Deny",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{alice}"},
                "Action": "sts:AssumeRole",
            },
        ],
    }
    role_arn = iam.create_role(RoleName=name("r"), AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    with pytest.raises(ClientError) as e:
        client(server, "sts", key, secret).assume_role(RoleArn=role_arn, RoleSessionName="s1")
    assert error(e) == ("AccessDenied", 403)
    _, other_key, other_secret = make_user(server, policy=None)
    client(server, "sts", other_key, other_secret).assume_role(RoleArn=role_arn, RoleSessionName="s1")


# -- the parent's state -------------------------------------------------------------------


def test_deleted_parent_ends_its_sessions(server, filled_bucket):
    iam = server.client("iam")
    user_name, key_id, secret = make_user(server)
    creds = client(server, "sts", key_id, secret).assume_role(RoleArn=ANY_ROLE, RoleSessionName="s1")["Credentials"]
    s3 = temporary(server, "s3", creds)
    s3.get_object(Bucket=filled_bucket, Key="k")
    iam.delete_access_key(UserName=user_name, AccessKeyId=key_id)
    iam.delete_user_policy(UserName=user_name, PolicyName="p")
    iam.delete_user(UserName=user_name)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=filled_bucket, Key="k")
    assert error(e)[1] == 403


def _set_user_status(server, user_name: str, status: str) -> None:
    """Disable / enable a user through the command service on the server's own store (the IAM
    query API has no user status; the admin API is another module's)."""
    from api.context import ServerContext, Settings
    from api.iam import service as iam_service
    from cli.secrets import master_key
    from projections.blobstore import BlobStore
    from projections.eventstore.recorder import open_store

    store = open_store(None, server.data_dir, create_table=False)
    ctx = ServerContext(
        store,
        BlobStore(server.data_dir / "blobs"),
        Settings(server.access_key, server.secret_key),
        master_key(server.data_dir),
    )
    try:
        anyio.run(iam_service.set_user_status, ctx, {"access_key": "test"}, user_name, status)
    finally:
        ctx.close()


def test_disabled_parent_disables_its_sessions(server_factory):
    srv = server_factory("sqlite")
    user_name, key_id, secret = make_user(srv)
    root = srv.client()
    bucket = name("bkt")
    root.create_bucket(Bucket=bucket)
    root.put_object(Bucket=bucket, Key="k", Body=b"v")
    creds = client(srv, "sts", key_id, secret).assume_role(RoleArn=ANY_ROLE, RoleSessionName="s1")["Credentials"]
    s3 = temporary(srv, "s3", creds)
    s3.get_object(Bucket=bucket, Key="k")
    _set_user_status(srv, user_name, "disabled")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k")
    assert error(e) == ("InvalidAccessKeyId", 403)
    with pytest.raises(ClientError) as e:  # its IAM keys too
        client(srv, "s3", key_id, secret).get_object(Bucket=bucket, Key="k")
    assert error(e) == ("InvalidAccessKeyId", 403)
    _set_user_status(srv, user_name, "enabled")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"


# -- expiry, with the server's clock moved forward ----------------------------------------


def test_expired_credentials(server_factory, tmp_path):
    clock = tmp_path / "clock-offset"
    clock.write_text("0")
    srv = server_factory("sqlite", env={"CHRONICLE_TEST_CLOCK_FILE": str(clock)})
    # A server on a movable clock says so where its operator looks first.
    assert "CHRONICLE_TEST_CLOCK_FILE is set" in srv.stderr_text()
    root = srv.client()
    bucket = name("bkt")
    root.create_bucket(Bucket=bucket)
    root.put_object(Bucket=bucket, Key="k", Body=b"v")
    _, key_id, secret = make_user(srv)
    creds = client(srv, "sts", key_id, secret).assume_role(RoleArn=ANY_ROLE, RoleSessionName="s1", DurationSeconds=900)[
        "Credentials"
    ]
    s3 = temporary(srv, "s3", creds)
    clock.write_text("880")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"  # 20 s left
    clock.write_text("905")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k")
    assert error(e) == ("ExpiredToken", 400)
    with pytest.raises(ClientError) as e:
        temporary(srv, "sts", creds).get_caller_identity()
    assert error(e)[0] == "ExpiredToken"
    # Sessions made now live from the moved clock; the user's own key is unaffected.
    fresh = client(srv, "sts", key_id, secret).assume_role(RoleArn=ANY_ROLE, RoleSessionName="s2", DurationSeconds=900)[
        "Credentials"
    ]
    assert temporary(srv, "s3", fresh).get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    assert client(srv, "s3", key_id, secret).get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"

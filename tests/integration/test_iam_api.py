"""The AWS IAM query API subset through boto3's IAM client, against a real server: every action
with its success and error answers, and what the keys and policies it manages do on S3."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

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
TRUST_ANYONE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"}, "Action": "sts:AssumeRole"}
    ],
}


def name(prefix: str = "u") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def client(server, service: str, key: str, secret: str, token: str | None = None):
    return boto3.session.Session().client(
        service,
        endpoint_url=server.endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def error(exc_info) -> tuple[str, int]:
    resp = exc_info.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(scope="module")
def iam(server):
    return server.client("iam")


@pytest.fixture
def user(server, iam):
    """A fresh IAM user with one access key: (name, key id, secret)."""
    user_name = name()
    iam.create_user(UserName=user_name)
    key = iam.create_access_key(UserName=user_name)["AccessKey"]
    return user_name, key["AccessKeyId"], key["SecretAccessKey"]


# -- users --------------------------------------------------------------------------------


def test_create_get_list_delete_user(iam):
    user_name = name()
    created = iam.create_user(UserName=user_name)["User"]
    assert created["UserName"] == user_name
    assert created["Arn"] == f"arn:aws:iam::000000000000:user/{user_name}"
    assert created["Path"] == "/"
    assert created["UserId"].startswith("AIDA") and len(created["UserId"]) == 21
    got = iam.get_user(UserName=user_name)["User"]
    assert got["UserId"] == created["UserId"] and got["CreateDate"] == created["CreateDate"]
    assert user_name in [u["UserName"] for u in iam.list_users()["Users"]]
    iam.delete_user(UserName=user_name)
    with pytest.raises(ClientError) as e:
        iam.get_user(UserName=user_name)
    assert error(e) == ("NoSuchEntity", 404)
    assert user_name not in [u["UserName"] for u in iam.list_users()["Users"]]


def test_create_user_twice_is_entity_already_exists(iam):
    user_name = name()
    iam.create_user(UserName=user_name)
    with pytest.raises(ClientError) as e:
        iam.create_user(UserName=user_name)
    assert error(e) == ("EntityAlreadyExists", 409)


def test_create_user_invalid_name_is_validation_error(iam):
    with pytest.raises(ClientError) as e:
        iam.create_user(UserName="bad/name")
    assert error(e) == ("ValidationError", 400)


def test_delete_missing_user_is_no_such_entity(iam):
    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName=name())
    assert error(e) == ("NoSuchEntity", 404)


def test_delete_user_with_keys_or_policies_is_delete_conflict(iam, user):
    user_name, key_id, _ = user
    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName=user_name)
    assert error(e) == ("DeleteConflict", 409)
    iam.delete_access_key(UserName=user_name, AccessKeyId=key_id)
    iam.put_user_policy(UserName=user_name, PolicyName="p", PolicyDocument=json.dumps(READONLY))
    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName=user_name)
    assert error(e) == ("DeleteConflict", 409)
    iam.delete_user_policy(UserName=user_name, PolicyName="p")
    iam.delete_user(UserName=user_name)


def test_list_users_pages_with_marker(iam):
    names = sorted(name("page") for _ in range(3))
    for n in names:
        iam.create_user(UserName=n)
    seen: list[str] = []
    kwargs: dict = {"MaxItems": 2}
    while True:
        page = iam.list_users(**kwargs)
        assert len(page["Users"]) <= 2
        seen += [u["UserName"] for u in page["Users"]]
        if not page["IsTruncated"]:
            break
        kwargs["Marker"] = page["Marker"]
    assert set(names) <= set(seen)
    assert seen == sorted(seen, key=str.lower)  # IAM orders names regardless of case


def test_get_user_without_name_is_the_caller(server, iam, user):
    user_name, key_id, secret = user
    assert iam.get_user()["User"]["Arn"] == "arn:aws:iam::000000000000:root"
    iam.put_user_policy(
        UserName=user_name,
        PolicyName="self",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "arn:aws:iam::*:user/${aws:username}"}
                ],
            }
        ),
    )
    mine = client(server, "iam", key_id, secret)
    assert mine.get_user()["User"]["UserName"] == user_name
    with pytest.raises(ClientError) as e:  # the policy reaches only its own user
        mine.get_user(UserName=name())
    assert error(e) == ("AccessDenied", 403)


# -- access keys --------------------------------------------------------------------------


def test_access_keys_lifecycle(server, iam, make_bucket):
    user_name = name()
    iam.create_user(UserName=user_name)
    assert iam.list_access_keys(UserName=user_name)["AccessKeyMetadata"] == []
    key = iam.create_access_key(UserName=user_name)["AccessKey"]
    assert key["UserName"] == user_name and key["Status"] == "Active" and len(key["SecretAccessKey"]) >= 8
    listed = iam.list_access_keys(UserName=user_name)["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in listed] == [(key["AccessKeyId"], "Active")]
    assert "SecretAccessKey" not in listed[0]
    iam.put_user_policy(UserName=user_name, PolicyName="rw", PolicyDocument=json.dumps(READWRITE))
    bucket = make_bucket()
    s3 = client(server, "s3", key["AccessKeyId"], key["SecretAccessKey"])
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")

    iam.update_access_key(UserName=user_name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert iam.list_access_keys(UserName=user_name)["AccessKeyMetadata"][0]["Status"] == "Inactive"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k")
    assert error(e) == ("InvalidAccessKeyId", 403)
    iam.update_access_key(UserName=user_name, AccessKeyId=key["AccessKeyId"], Status="Active")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"

    iam.delete_access_key(UserName=user_name, AccessKeyId=key["AccessKeyId"])
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k")
    assert error(e) == ("InvalidAccessKeyId", 403)
    assert iam.list_access_keys(UserName=user_name)["AccessKeyMetadata"] == []


def test_access_key_errors(iam, user):
    user_name, key_id, _ = user
    other = name()
    iam.create_user(UserName=other)
    with pytest.raises(ClientError) as e:  # a key of another user
        iam.delete_access_key(UserName=other, AccessKeyId=key_id)
    assert error(e) == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as e:
        iam.update_access_key(UserName=user_name, AccessKeyId="AKNOTTHERE0000000000", Status="Inactive")
    assert error(e) == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as e:
        iam.create_access_key(UserName=name())
    assert error(e) == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as e:
        iam.update_access_key(UserName=user_name, AccessKeyId=key_id, Status="Sleeping")
    assert error(e) == ("ValidationError", 400)
    iam.create_access_key(UserName=user_name)
    with pytest.raises(ClientError) as e:  # AWS's quota: two keys per user
        iam.create_access_key(UserName=user_name)
    assert error(e) == ("LimitExceeded", 409)


# -- inline user policies and what they grant ---------------------------------------------


def test_new_user_can_do_nothing_until_a_policy_allows(server, iam, user, make_bucket):
    user_name, key_id, secret = user
    bucket = make_bucket()  # root's
    server.client().put_object(Bucket=bucket, Key="k", Body=b"root data")
    s3 = client(server, "s3", key_id, secret)
    with pytest.raises(ClientError) as e:  # nothing to list and no s3:ListAllMyBuckets: AWS and MinIO refuse
        s3.list_buckets()
    assert error(e) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k")
    assert error(e) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="mine", Body=b"x")
    assert error(e) == ("AccessDenied", 403)

    iam.put_user_policy(UserName=user_name, PolicyName="rw", PolicyDocument=json.dumps(READWRITE))
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"root data"
    s3.put_object(Bucket=bucket, Key="mine", Body=b"x")

    iam.delete_user_policy(UserName=user_name, PolicyName="rw")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k")
    assert error(e) == ("AccessDenied", 403)


def test_user_policy_crud(iam, user):
    user_name, _, _ = user
    iam.put_user_policy(UserName=user_name, PolicyName="ro", PolicyDocument=json.dumps(READONLY))
    iam.put_user_policy(UserName=user_name, PolicyName="rw", PolicyDocument=json.dumps(READWRITE))
    assert iam.list_user_policies(UserName=user_name)["PolicyNames"] == ["ro", "rw"]
    got = iam.get_user_policy(UserName=user_name, PolicyName="ro")
    assert got["UserName"] == user_name and got["PolicyName"] == "ro"
    assert got["PolicyDocument"] == READONLY  # botocore decodes the URL-encoded document
    iam.put_user_policy(UserName=user_name, PolicyName="ro", PolicyDocument=json.dumps(READWRITE))  # replaces
    assert iam.get_user_policy(UserName=user_name, PolicyName="ro")["PolicyDocument"] == READWRITE
    iam.delete_user_policy(UserName=user_name, PolicyName="ro")
    assert iam.list_user_policies(UserName=user_name)["PolicyNames"] == ["rw"]
    with pytest.raises(ClientError) as e:
        iam.get_user_policy(UserName=user_name, PolicyName="ro")
    assert error(e) == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as e:
        iam.delete_user_policy(UserName=user_name, PolicyName="ro")
    assert error(e) == ("NoSuchEntity", 404)


@pytest.mark.parametrize(
    "document",
    [
        "not json",
        json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:NoSuchAction", "Resource": "*"}]}
        ),
        json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", "Action": "s3:GetObject", "Resource": "*"}]}
        ),
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Principal": "*"}],
            }
        ),
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Sid": "x" * 30000, "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
            }
        ),
    ],
    ids=["not-json", "unknown-action", "bad-effect", "principal-in-identity-policy", "over-20KiB"],
)
def test_malformed_policy_document(iam, user, document):
    with pytest.raises(ClientError) as e:
        iam.put_user_policy(UserName=user[0], PolicyName="bad", PolicyDocument=document)
    assert error(e) == ("MalformedPolicyDocument", 400)
    assert iam.list_user_policies(UserName=user[0])["PolicyNames"] == []


def test_put_user_policy_on_missing_user(iam):
    with pytest.raises(ClientError) as e:
        iam.put_user_policy(UserName=name(), PolicyName="p", PolicyDocument=json.dumps(READONLY))
    assert error(e) == ("NoSuchEntity", 404)


def test_put_inline_policy_on_a_missing_entity_says_so_before_judging_the_document(iam):
    """Users, groups and roles alike: the missing entity is what the caller is told first."""
    for put in (
        lambda: iam.put_user_policy(UserName=name(), PolicyName="p", PolicyDocument="not json"),
        lambda: iam.put_group_policy(GroupName=name("grp"), PolicyName="p", PolicyDocument="not json"),
        lambda: iam.put_role_policy(RoleName=name("role"), PolicyName="p", PolicyDocument="not json"),
    ):
        with pytest.raises(ClientError) as e:
            put()
        assert error(e) == ("NoSuchEntity", 404)


def test_user_cannot_grant_itself_without_iam_permission(server, iam, user, make_bucket):
    user_name, key_id, secret = user
    iam.put_user_policy(UserName=user_name, PolicyName="ro", PolicyDocument=json.dumps(READONLY))
    mine = client(server, "iam", key_id, secret)
    for call in (
        lambda: mine.put_user_policy(UserName=user_name, PolicyName="rw", PolicyDocument=json.dumps(READWRITE)),
        lambda: mine.create_user(UserName=name()),
        lambda: mine.create_access_key(UserName=user_name),
        lambda: mine.list_users(),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error(e) == ("AccessDenied", 403)
    assert iam.list_user_policies(UserName=user_name)["PolicyNames"] == ["ro"]
    # Given iam:PutUserPolicy on itself, it can.
    iam.put_user_policy(
        UserName=user_name,
        PolicyName="admin-self",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "iam:PutUserPolicy",
                        "Resource": f"arn:aws:iam::000000000000:user/{user_name}",
                    }
                ],
            }
        ),
    )
    mine.put_user_policy(UserName=user_name, PolicyName="rw", PolicyDocument=json.dumps(READWRITE))
    bucket = make_bucket()
    client(server, "s3", key_id, secret).put_object(Bucket=bucket, Key="k", Body=b"x")


def test_explicit_deny_beats_allow_across_inline_policies(server, iam, user, make_bucket):
    user_name, key_id, secret = user
    bucket = make_bucket()
    iam.put_user_policy(UserName=user_name, PolicyName="rw", PolicyDocument=json.dumps(READWRITE))
    iam.put_user_policy(
        UserName=user_name,
        PolicyName="deny-put",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Deny", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*"}],
            }
        ),
    )
    s3 = client(server, "s3", key_id, secret)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert error(e) == ("AccessDenied", 403)
    s3.list_objects_v2(Bucket=bucket)


# -- roles --------------------------------------------------------------------------------


def test_role_lifecycle(iam):
    role_name = name("role")
    created = iam.create_role(
        RoleName=role_name,
        AssumeRolePolicyDocument=json.dumps(TRUST_ANYONE),
        Description="test role",
        MaxSessionDuration=7200,
    )["Role"]
    assert created["Arn"] == f"arn:aws:iam:::role/{role_name}"
    assert created["RoleId"].startswith("AROA")
    assert created["AssumeRolePolicyDocument"] == TRUST_ANYONE
    assert created["MaxSessionDuration"] == 7200 and created["Description"] == "test role"
    got = iam.get_role(RoleName=role_name)["Role"]
    assert got["RoleId"] == created["RoleId"] and got["AssumeRolePolicyDocument"] == TRUST_ANYONE
    assert role_name in [r["RoleName"] for r in iam.list_roles()["Roles"]]
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(TRUST_ANYONE))
    assert error(e) == ("EntityAlreadyExists", 409)

    iam.put_role_policy(RoleName=role_name, PolicyName="rw", PolicyDocument=json.dumps(READWRITE))
    assert iam.get_role_policy(RoleName=role_name, PolicyName="rw")["PolicyDocument"] == READWRITE
    assert iam.list_role_policies(RoleName=role_name)["PolicyNames"] == ["rw"]
    with pytest.raises(ClientError) as e:
        iam.delete_role(RoleName=role_name)
    assert error(e) == ("DeleteConflict", 409)
    iam.delete_role_policy(RoleName=role_name, PolicyName="rw")
    with pytest.raises(ClientError) as e:
        iam.get_role_policy(RoleName=role_name, PolicyName="rw")
    assert error(e) == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as e:
        iam.delete_role_policy(RoleName=role_name, PolicyName="rw")
    assert error(e) == ("NoSuchEntity", 404)
    iam.delete_role(RoleName=role_name)
    with pytest.raises(ClientError) as e:
        iam.get_role(RoleName=role_name)
    assert error(e) == ("NoSuchEntity", 404)
    assert role_name not in [r["RoleName"] for r in iam.list_roles()["Roles"]]
    # The name can be used again.
    again = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(TRUST_ANYONE))["Role"]
    assert again["MaxSessionDuration"] == 3600
    assert iam.list_role_policies(RoleName=role_name)["PolicyNames"] == []


def test_role_errors(iam):
    missing = name("role")
    for call in (
        lambda: iam.get_role(RoleName=missing),
        lambda: iam.delete_role(RoleName=missing),
        lambda: iam.put_role_policy(RoleName=missing, PolicyName="p", PolicyDocument=json.dumps(READONLY)),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error(e) == ("NoSuchEntity", 404)
    # A trust policy needs a Principal and may only name sts: actions.
    no_principal = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}
    s3_action = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject"}],
    }
    for document in (no_principal, s3_action):
        with pytest.raises(ClientError) as e:
            iam.create_role(RoleName=missing, AssumeRolePolicyDocument=json.dumps(document))
        assert error(e) == ("MalformedPolicyDocument", 400)
    with pytest.raises(ClientError) as e:
        iam.create_role(
            RoleName=missing, AssumeRolePolicyDocument=json.dumps(TRUST_ANYONE), MaxSessionDuration=60 * 60 * 24
        )
    assert error(e) == ("ValidationError", 400)
    role_name = name("role")
    iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(TRUST_ANYONE))
    with pytest.raises(ClientError) as e:
        iam.put_role_policy(RoleName=role_name, PolicyName="p", PolicyDocument="{}")
    assert error(e) == ("MalformedPolicyDocument", 400)


# -- groups -------------------------------------------------------------------------------


def test_group_policy_grants_its_members(server, iam, user, make_bucket):
    user_name, key_id, secret = user
    group = name("grp")
    created = iam.create_group(GroupName=group)["Group"]
    assert created["GroupName"] == group and created["Arn"] == f"arn:aws:iam::000000000000:group/{group}"
    with pytest.raises(ClientError) as e:
        iam.create_group(GroupName=group)
    assert error(e) == ("EntityAlreadyExists", 409)
    bucket = make_bucket()
    s3 = client(server, "s3", key_id, secret)
    with pytest.raises(ClientError):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    iam.put_group_policy(GroupName=group, PolicyName="rw", PolicyDocument=json.dumps(READWRITE))
    with pytest.raises(ClientError):  # not a member yet
        s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    iam.add_user_to_group(GroupName=group, UserName=user_name)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")


def test_group_errors(iam, user):
    missing = name("grp")
    with pytest.raises(ClientError) as e:
        iam.add_user_to_group(GroupName=missing, UserName=user[0])
    assert error(e) == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as e:
        iam.put_group_policy(GroupName=missing, PolicyName="p", PolicyDocument=json.dumps(READONLY))
    assert error(e) == ("NoSuchEntity", 404)
    group = name("grp")
    iam.create_group(GroupName=group)
    with pytest.raises(ClientError) as e:
        iam.add_user_to_group(GroupName=group, UserName=name())
    assert error(e) == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as e:
        iam.put_group_policy(GroupName=group, PolicyName="p", PolicyDocument="[]")
    assert error(e) == ("MalformedPolicyDocument", 400)


# -- protocol -----------------------------------------------------------------------------


def test_unknown_action_and_bad_signature(server, iam):
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    def signed(body: str, secret: str) -> tuple[int, str]:
        request = AWSRequest(
            method="POST",
            url=server.endpoint + "/",
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
        SigV4Auth(Credentials(server.access_key, secret), "iam", "us-east-1").add_auth(request)
        prepared = request.prepare()
        http = urllib.request.Request(prepared.url, data=body.encode(), method="POST", headers=dict(prepared.headers))
        try:
            with urllib.request.urlopen(http) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    status, text = signed("Action=FlyToTheMoon&Version=2010-05-08", server.secret_key)
    assert status == 400 and "<Code>InvalidAction</Code>" in text and text.startswith("<ErrorResponse")
    status, text = signed("Action=ListUsers&Version=2010-05-08", server.secret_key + "x")
    assert status == 403 and "<Code>SignatureDoesNotMatch</Code>" in text
    status, text = signed("Action=ListUsers&Version=2010-05-08", server.secret_key)
    assert status == 200 and text.startswith('<ListUsersResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">')
    unknown = boto3.session.Session().client(
        "iam",
        endpoint_url=server.endpoint,
        aws_access_key_id="NOSUCHKEY000",
        aws_secret_access_key="whatever123",
        region_name="us-east-1",
    )
    with pytest.raises(ClientError) as e:
        unknown.list_users()
    assert error(e) == ("InvalidClientTokenId", 403)


def test_iam_api_on_postgres(pg_server):
    """The same commands and projections on PostgreSQL (ON CONFLICT, inline reads)."""
    iam = pg_server.client("iam")
    user_name, role_name, group = name(), name("role"), name("grp")
    iam.create_user(UserName=user_name)
    key = iam.create_access_key(UserName=user_name)["AccessKey"]
    iam.put_user_policy(UserName=user_name, PolicyName="rw", PolicyDocument=json.dumps(READWRITE))
    iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(TRUST_ANYONE))
    iam.put_role_policy(RoleName=role_name, PolicyName="ro", PolicyDocument=json.dumps(READONLY))
    iam.delete_role_policy(RoleName=role_name, PolicyName="ro")
    iam.delete_role(RoleName=role_name)
    iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(TRUST_ANYONE))
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user_name)
    iam.put_group_policy(GroupName=group, PolicyName="ro", PolicyDocument=json.dumps(READONLY))
    s3 = client(pg_server, "s3", key["AccessKeyId"], key["SecretAccessKey"])
    bucket = name("bkt")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    iam.update_access_key(UserName=user_name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k")
    assert error(e) == ("InvalidAccessKeyId", 403)
    pg_server.client().delete_object(Bucket=bucket, Key="k")
    pg_server.client().delete_bucket(Bucket=bucket)

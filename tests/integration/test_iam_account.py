"""The IAM query API as an account's root uses it (Ceph s3-tests' [iam root] tests): paths,
names that ignore case, ids new per creation, sorted and paged lists, managed policies
attached to users / groups / roles and what they grant, the group and role actions, OpenID
Connect providers, GetAccountSummary, and the ARNs STS and policies see for such users."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ACCOUNT = "000000000000"
S3_FULL = "arn:aws:iam::aws:policy/AmazonS3FullAccess"
S3_READ = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
IAM_READ = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
TRUST_ACCOUNT = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "*"}}],
}


def unique(prefix: str = "n") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def new_path() -> str:
    return f"/t-{uuid.uuid4().hex[:8]}/"


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


def keyed_user(server, iam, path: str = "/") -> tuple[str, str, dict]:
    """A user with a path and an access key: (name, ARN, the key)."""
    user_name = unique("u")
    arn = iam.create_user(UserName=user_name, Path=path)["User"]["Arn"]
    return user_name, arn, iam.create_access_key(UserName=user_name)["AccessKey"]


def as_key(server, service: str, key: dict):
    return client(server, service, key["AccessKeyId"], key["SecretAccessKey"], key.get("SessionToken"))


# -- paths, names, ids, lists -------------------------------------------------------------


def test_paths_are_part_of_arns_and_filter_lists(iam):
    path = new_path()
    user = iam.create_user(UserName=unique(), Path=path)["User"]
    assert user["Path"] == path and user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user{path}{user['UserName']}"
    assert iam.get_user(UserName=user["UserName"])["User"] == user
    group = iam.create_group(GroupName=unique("g"), Path=path + "sub/")["Group"]
    assert group["Arn"] == f"arn:aws:iam::{ACCOUNT}:group{path}sub/{group['GroupName']}"
    role = iam.create_role(RoleName=unique("r"), Path=path, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))["Role"]
    assert role["Path"] == path and role["Arn"] == f"arn:aws:iam:::role{path}{role['RoleName']}"
    other = iam.create_user(UserName=unique(), Path=path + "a/x/")["User"]

    assert [u["UserName"] for u in iam.list_users(PathPrefix=path)["Users"]] == sorted(
        [user["UserName"], other["UserName"]]
    )
    assert [u["UserName"] for u in iam.list_users(PathPrefix=path + "a")["Users"]] == [other["UserName"]]
    assert iam.list_users(PathPrefix=path + "a/x/d")["Users"] == []
    assert [g["GroupName"] for g in iam.list_groups(PathPrefix=path)["Groups"]] == [group["GroupName"]]
    assert [r["RoleName"] for r in iam.list_roles(PathPrefix=path)["Roles"]] == [role["RoleName"]]
    assert iam.list_roles(PathPrefix=path + "nope/")["Roles"] == []

    iam.update_user(UserName=user["UserName"], NewPath=path + "moved/")
    moved = iam.get_user(UserName=user["UserName"])["User"]
    assert moved["Path"] == path + "moved/" and moved["UserId"] == user["UserId"]
    assert moved["Arn"].endswith(f":user{path}moved/{user['UserName']}")
    iam.update_group(GroupName=group["GroupName"], NewPath="/")
    assert iam.get_group(GroupName=group["GroupName"])["Group"]["Path"] == "/"
    with pytest.raises(ClientError) as e:  # a name is a user's access key and its objects' owner
        iam.update_user(UserName=user["UserName"], NewUserName=unique())
    assert error(e) == ("ValidationError", 400)
    with pytest.raises(ClientError) as e:
        iam.create_user(UserName=unique(), Path="no-slashes")
    assert error(e) == ("ValidationError", 400)


def test_names_ignore_case(iam):
    upper = "Case-" + uuid.uuid4().hex[:8].upper()
    lower = upper.lower()
    user = iam.create_user(UserName=upper)["User"]
    with pytest.raises(ClientError) as e:
        iam.create_user(UserName=lower)
    assert error(e) == ("EntityAlreadyExists", 409)
    assert iam.get_user(UserName=lower)["User"] == user
    iam.delete_user(UserName=lower)
    with pytest.raises(ClientError) as e:
        iam.get_user(UserName=upper)
    assert error(e) == ("NoSuchEntity", 404)

    iam.create_group(GroupName=upper)
    with pytest.raises(ClientError) as e:
        iam.create_group(GroupName=lower)
    assert error(e) == ("EntityAlreadyExists", 409)
    assert iam.get_group(GroupName=lower)["Group"]["GroupName"] == upper
    iam.delete_group(GroupName=lower)

    role_id = iam.create_role(RoleName=upper, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))["Role"]["RoleId"]
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName=lower, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
    assert error(e) == ("EntityAlreadyExists", 409)
    assert iam.get_role(RoleName=lower)["Role"]["RoleId"] == role_id
    iam.delete_role(RoleName=lower)
    with pytest.raises(ClientError) as e:
        iam.get_role(RoleName=upper)
    assert error(e) == ("NoSuchEntity", 404)


def test_ids_are_new_for_each_creation(iam):
    user_name, group_name, role_name = unique(), unique("g"), unique("r")
    first = iam.create_user(UserName=user_name)["User"]
    group_id = iam.create_group(GroupName=group_name)["Group"]["GroupId"]
    role_id = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))["Role"]["RoleId"]
    assert iam.get_user(UserName=user_name)["User"]["UserId"] == first["UserId"]
    iam.delete_user(UserName=user_name)
    iam.delete_group(GroupName=group_name)
    iam.delete_role(RoleName=role_name)
    again = iam.create_user(UserName=user_name)["User"]
    assert again["UserId"] != first["UserId"] and again["CreateDate"] >= first["CreateDate"]
    assert iam.create_group(GroupName=group_name)["Group"]["GroupId"] != group_id
    assert (
        iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))["Role"]["RoleId"]
        != role_id
    )


def test_lists_sort_regardless_of_case_and_page(iam):
    path = new_path()
    tag = uuid.uuid4().hex[:6]
    names = [f"aa{tag}", f"Ab{tag}", f"ac{tag}", f"Ad{tag}"]
    for n, sub in zip(reversed(names), "wxyz", strict=True):
        iam.create_user(UserName=n, Path=f"{path}{sub}/")
    assert [u["UserName"] for u in iam.list_users(PathPrefix=path)["Users"]] == names
    paged = [
        u["UserName"]
        for page in iam.get_paginator("list_users").paginate(PathPrefix=path, PaginationConfig={"PageSize": 1})
        for u in page["Users"]
    ]
    assert paged == names
    first = iam.list_users(PathPrefix=path, MaxItems=3)
    assert first["IsTruncated"] and len(first["Users"]) == 3

    key_ids = {iam.create_access_key(UserName=names[0])["AccessKey"]["AccessKeyId"] for _ in range(2)}
    pages = list(iam.get_paginator("list_access_keys").paginate(UserName=names[0], PaginationConfig={"PageSize": 1}))
    assert len(pages) == 2 and {k["AccessKeyId"] for p in pages for k in p["AccessKeyMetadata"]} == key_ids


def test_policy_documents_come_back_as_written(iam):
    user_name = iam.create_user(UserName=unique())["User"]["UserName"]
    text = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Deny", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"}],
        }
    )
    iam.put_user_policy(UserName=user_name, PolicyName="p", PolicyDocument=text)
    assert json.dumps(iam.get_user_policy(UserName=user_name, PolicyName="p")["PolicyDocument"]) == text
    trust = json.dumps(TRUST_ACCOUNT)
    role = iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=trust)["Role"]
    assert json.dumps(role["AssumeRolePolicyDocument"]) == trust


# -- managed policies ---------------------------------------------------------------------


def test_attach_detach_list_managed_policies(iam):
    user_name = iam.create_user(UserName=unique())["User"]["UserName"]
    group_name = iam.create_group(GroupName=unique("g"))["Group"]["GroupName"]
    role_name = iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))["Role"][
        "RoleName"
    ]
    targets = (
        (
            "user",
            dict(UserName=user_name),
            iam.attach_user_policy,
            iam.detach_user_policy,
            iam.list_attached_user_policies,
            iam.delete_user,
        ),
        (
            "group",
            dict(GroupName=group_name),
            iam.attach_group_policy,
            iam.detach_group_policy,
            iam.list_attached_group_policies,
            iam.delete_group,
        ),
        (
            "role",
            dict(RoleName=role_name),
            iam.attach_role_policy,
            iam.detach_role_policy,
            iam.list_attached_role_policies,
            iam.delete_role,
        ),
    )
    for _kind, who, attach, detach, listed, delete in targets:
        missing = {k: unique() for k in who}
        for call, kwargs in ((attach, dict(missing, PolicyArn=S3_FULL)), (listed, missing)):
            with pytest.raises(ClientError) as e:
                call(**kwargs)
            assert error(e) == ("NoSuchEntity", 404)
        with pytest.raises(ClientError) as e:
            detach(PolicyArn=S3_FULL, **who)  # not attached
        assert error(e) == ("NoSuchEntity", 404)
        with pytest.raises(ClientError) as e:
            attach(PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicy", **who)
        assert error(e) == ("NoSuchEntity", 404)
        attach(PolicyArn=S3_FULL, **who)
        attach(PolicyArn=S3_FULL, **who)  # twice is once
        attach(PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/readwrite", **who)  # a MinIO canned policy
        attached = listed(**who)["AttachedPolicies"]
        assert sorted((p["PolicyName"], p["PolicyArn"]) for p in attached) == [
            ("AmazonS3FullAccess", S3_FULL),
            ("readwrite", f"arn:aws:iam::{ACCOUNT}:policy/readwrite"),
        ]
        detach(PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/readwrite", **who)
        assert [p["PolicyArn"] for p in listed(**who)["AttachedPolicies"]] == [S3_FULL]
        with pytest.raises(ClientError) as e:  # still attached: detach first, as AWS requires
            delete(**who)
        assert error(e) == ("DeleteConflict", 409)
        detach(PolicyArn=S3_FULL, **who)
        delete(**who)


def test_managed_policies_grant_what_they_say(server, iam, make_bucket):
    bucket = make_bucket()
    server.client().put_object(Bucket=bucket, Key="k", Body=b"v")
    user_name, user_arn, key = keyed_user(server, iam, new_path())
    s3, user_iam = as_key(server, "s3", key), as_key(server, "iam", key)
    with pytest.raises(ClientError) as e:  # nothing attached: nothing allowed
        user_iam.list_roles()
    assert error(e) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        s3.list_buckets()
    assert error(e) == ("AccessDenied", 403)

    iam.attach_user_policy(UserName=user_name, PolicyArn=IAM_READ)
    user_iam.list_roles()
    with pytest.raises(ClientError) as e:  # read-only
        user_iam.create_user(UserName=unique())
    assert error(e) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as e:  # and it cannot widen its own rights
        user_iam.attach_user_policy(UserName=user_name, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    assert error(e) == ("AccessDenied", 403)
    assert [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName=user_name)["AttachedPolicies"]] == [
        IAM_READ
    ]

    group_name = iam.create_group(GroupName=unique("g"))["Group"]["GroupName"]
    iam.add_user_to_group(GroupName=group_name, UserName=user_name)
    iam.attach_group_policy(GroupName=group_name, PolicyArn=S3_READ)
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="w", Body=b"w")
    assert error(e) == ("AccessDenied", 403)
    iam.detach_group_policy(GroupName=group_name, PolicyArn=S3_READ)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k")
    assert error(e) == ("AccessDenied", 403)

    # A role's attached policies are its sessions' rights.
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": user_arn}}],
    }
    role = iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    session = as_key(server, "sts", key).assume_role(RoleArn=role["Arn"], RoleSessionName="s1")["Credentials"]
    role_s3 = as_key(server, "s3", session)
    with pytest.raises(ClientError) as e:
        role_s3.get_object(Bucket=bucket, Key="k")
    assert error(e) == ("AccessDenied", 403)
    iam.attach_role_policy(RoleName=role["RoleName"], PolicyArn=S3_FULL)
    assert role_s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    iam.detach_role_policy(RoleName=role["RoleName"], PolicyArn=S3_FULL)
    with pytest.raises(ClientError) as e:
        role_s3.get_object(Bucket=bucket, Key="k")
    assert error(e) == ("AccessDenied", 403)


# -- groups and roles ---------------------------------------------------------------------


def test_group_actions(iam):
    group_name = iam.create_group(GroupName=unique("g"), Path="/team/")["Group"]["GroupName"]
    user_name = iam.create_user(UserName=unique())["User"]["UserName"]
    iam.add_user_to_group(GroupName=group_name, UserName=user_name)
    got = iam.get_group(GroupName=group_name)
    assert got["Group"]["Path"] == "/team/" and [u["UserName"] for u in got["Users"]] == [user_name]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=user_name)["Groups"]] == [group_name]
    assert group_name in [g["GroupName"] for g in iam.list_groups()["Groups"]]

    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::x"}],
    }
    iam.put_group_policy(GroupName=group_name, PolicyName="p", PolicyDocument=json.dumps(document))
    assert iam.get_group_policy(GroupName=group_name, PolicyName="p")["PolicyDocument"] == document
    assert iam.list_group_policies(GroupName=group_name)["PolicyNames"] == ["p"]
    with pytest.raises(ClientError) as e:  # a member first
        iam.delete_group(GroupName=group_name)
    assert error(e) == ("DeleteConflict", 409)
    with pytest.raises(ClientError) as e:  # in a group: AWS wants it removed first
        iam.delete_user(UserName=user_name)
    assert error(e) == ("DeleteConflict", 409)
    iam.remove_user_from_group(GroupName=group_name, UserName=user_name)
    assert iam.list_groups_for_user(UserName=user_name)["Groups"] == []
    with pytest.raises(ClientError) as e:
        iam.remove_user_from_group(GroupName=group_name, UserName=user_name)
    assert error(e) == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as e:  # then its policy
        iam.delete_group(GroupName=group_name)
    assert error(e) == ("DeleteConflict", 409)
    iam.delete_group_policy(GroupName=group_name, PolicyName="p")
    with pytest.raises(ClientError) as e:
        iam.get_group_policy(GroupName=group_name, PolicyName="p")
    assert error(e) == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as e:
        iam.delete_group_policy(GroupName=group_name, PolicyName="p")
    assert error(e) == ("NoSuchEntity", 404)
    iam.delete_group(GroupName=group_name)
    with pytest.raises(ClientError) as e:
        iam.get_group(GroupName=group_name)
    assert error(e) == ("NoSuchEntity", 404)


def test_update_role(iam):
    with pytest.raises(ClientError) as e:
        iam.update_role(RoleName=unique("r"))
    assert error(e) == ("NoSuchEntity", 404)
    role = iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))["Role"]
    iam.update_role(RoleName=role["RoleName"], Description="about it", MaxSessionDuration=43200)
    got = iam.get_role(RoleName=role["RoleName"])["Role"]
    assert (got["Description"], got["MaxSessionDuration"], got["RoleId"], got["Arn"]) == (
        "about it",
        43200,
        role["RoleId"],
        role["Arn"],
    )


def test_assume_role_with_another_path_is_not_that_role(server, iam, make_bucket):
    bucket = make_bucket()
    server.client().put_object(Bucket=bucket, Key="k", Body=b"v")
    _user_name, user_arn, key = keyed_user(server, iam)  # may do nothing itself
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": user_arn}}],
    }
    role = iam.create_role(RoleName=unique("r"), Path="/right/", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.attach_role_policy(RoleName=role["RoleName"], PolicyArn=S3_FULL)
    wrong = role["Arn"].replace("/right/", "/wrong/")
    session = as_key(server, "sts", key).assume_role(RoleArn=wrong, RoleSessionName="s1")
    assert session["AssumedRoleUser"]["Arn"] == ""  # MinIO-style: the caller's own (no) rights
    with pytest.raises(ClientError) as e:
        as_key(server, "s3", session["Credentials"]).get_object(Bucket=bucket, Key="k")
    assert error(e) == ("AccessDenied", 403)


# -- identities: who STS and policies see -------------------------------------------------


def test_caller_identity_of_a_user_with_a_path_and_of_its_role_session(server, iam):
    path = new_path()
    user_name, user_arn, key = keyed_user(server, iam, path)
    user_id = iam.get_user(UserName=user_name)["User"]["UserId"]
    me = as_key(server, "sts", key).get_caller_identity()
    assert (me["Arn"], me["UserId"], me["Account"]) == (user_arn, user_id, ACCOUNT)
    assert user_arn == f"arn:aws:iam::{ACCOUNT}:user{path}{user_name}"

    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": user_arn}}],
    }
    role = iam.create_role(RoleName=unique("r"), Path=path, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    assumed = as_key(server, "sts", key).assume_role(RoleArn=role["Arn"], RoleSessionName="MySession")
    assert assumed["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/MySession"
    assert assumed["AssumedRoleUser"]["AssumedRoleId"] == f"{role['RoleId']}:MySession"
    seen = as_key(server, "sts", assumed["Credentials"]).get_caller_identity()
    assert (seen["Arn"], seen["UserId"], seen["Account"]) == (
        assumed["AssumedRoleUser"]["Arn"],
        f"{role['RoleId']}:MySession",
        ACCOUNT,
    )

    # Another user is not named by that trust policy.
    _other, _arn, other_key = keyed_user(server, iam, path)
    with pytest.raises(ClientError) as e:
        as_key(server, "sts", other_key).assume_role(RoleArn=role["Arn"], RoleSessionName="x1")
    assert error(e) == ("AccessDenied", 403)


def test_bucket_policy_names_a_user_by_its_arn_with_path(server, iam, make_bucket):
    bucket = make_bucket()
    _user_name, user_arn, key = keyed_user(server, iam, new_path())
    s3 = as_key(server, "s3", key)
    with pytest.raises(ClientError) as e:
        s3.list_objects(Bucket=bucket)
    assert error(e) == ("AccessDenied", 403)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": user_arn},
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{bucket}",
            }
        ],
    }
    server.client().put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    s3.list_objects(Bucket=bucket)


def test_iam_policy_may_name_a_user_by_canonical_id(server, iam):
    """As Ceph's s3-tests write it: Resource arn:aws:iam:::user/<canonical id>."""
    from api.s3.handlers.buckets import canonical_id

    user_name, _arn, key = keyed_user(server, iam)
    own = f"arn:aws:iam:::user/{canonical_id(user_name)}"
    allow = {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Allow",
            "Action": ["iam:GetUserPolicy", "iam:ListUserPolicies"],
            "Resource": own,
        },
    }
    iam.put_user_policy(UserName=user_name, PolicyName="self", PolicyDocument=json.dumps(allow))
    mine = as_key(server, "iam", key)
    assert mine.get_user_policy(UserName=user_name, PolicyName="self")["PolicyName"] == "self"
    # An explicit Deny naming it by another of its ARNs still wins.
    deny = {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Deny",
            "Action": "iam:GetUserPolicy",
            "Resource": f"arn:aws:iam::{ACCOUNT}:user/{user_name}",
        },
    }
    iam.put_user_policy(UserName=user_name, PolicyName="deny", PolicyDocument=json.dumps(deny))
    with pytest.raises(ClientError) as e:
        mine.get_user_policy(UserName=user_name, PolicyName="self")
    assert error(e) == ("AccessDenied", 403)
    mine.list_user_policies(UserName=user_name)
    with pytest.raises(ClientError) as e:  # and it cannot lift the Deny itself
        mine.delete_user_policy(UserName=user_name, PolicyName="deny")
    assert error(e) == ("AccessDenied", 403)


def test_root_manages_its_own_access_keys(server, iam):
    key = iam.create_access_key()["AccessKey"]
    try:
        assert key["Status"] == "Active"
        assert as_key(server, "sts", key).get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
        iam.update_access_key(AccessKeyId=key["AccessKeyId"], Status="Inactive")
        listed = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys()["AccessKeyMetadata"]}
        assert listed[key["AccessKeyId"]] == "Inactive"
    finally:
        iam.delete_access_key(AccessKeyId=key["AccessKeyId"])
    with pytest.raises(ClientError) as e:
        iam.delete_access_key(AccessKeyId=key["AccessKeyId"])
    assert error(e) == ("NoSuchEntity", 404)


# -- OpenID Connect providers and the account summary -------------------------------------


def test_oidc_providers(iam):
    host = f"{uuid.uuid4().hex[:8]}.example.com/realm"
    url = "https://" + host
    thumb = "3768084dfb3d2b68b7897bf5f565da8efEXAMPLE"
    arn = iam.create_open_id_connect_provider(Url=url, ClientIDList=["app-1"], ThumbprintList=[thumb])[
        "OpenIDConnectProviderArn"
    ]
    assert arn == f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"
    with pytest.raises(ClientError) as e:
        iam.create_open_id_connect_provider(Url=url, ClientIDList=[], ThumbprintList=[thumb])
    assert error(e) == ("EntityAlreadyExists", 409)
    assert arn in [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="app-2")
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="app-2")
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert (got["Url"], got["ClientIDList"], got["ThumbprintList"]) == (
        url,
        ["app-1", "app-2"],
        [thumb],
    )
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="app-1")
    iam.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=arn, ThumbprintList=["a" * 40])
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert (got["ClientIDList"], got["ThumbprintList"]) == (["app-2"], ["a" * 40])
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert arn not in [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    for call in (iam.get_open_id_connect_provider, iam.delete_open_id_connect_provider):
        with pytest.raises(ClientError) as e:
            call(OpenIDConnectProviderArn=arn)
        assert error(e) == ("NoSuchEntity", 404)


def test_account_summary(server, iam):
    summary = iam.get_account_summary()["SummaryMap"]
    assert summary["Users"] >= 0 and summary["AccessKeysPerUserQuota"] == 2
    assert {"Groups", "UsersQuota", "GroupsQuota", "Roles"} <= set(summary)
    user_name, _arn, key = keyed_user(server, iam)
    with pytest.raises(ClientError) as e:
        as_key(server, "iam", key).get_account_summary()
    assert error(e) == ("AccessDenied", 403)
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:GetAccountSummary", "Resource": "*"}],
    }
    iam.put_user_policy(UserName=user_name, PolicyName="summary", PolicyDocument=json.dumps(allow))
    assert "Users" in as_key(server, "iam", key).get_account_summary()["SummaryMap"]

"""The MinIO admin API through minio-py's MinioAdmin, unmodified, against a real server.

Walkthroughs an administrator follows (users, policies, groups, service accounts), the
error codes MinIO answers, and the security rules: a user without an admin policy can do
nothing but look after itself, and a request signed with the wrong secret is rejected.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from minio import MinioAdmin
from minio.credentials import StaticProvider
from minio.error import MinioAdminException

READ_B = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/*"]}],
}


def admin_client(server, access_key: str | None = None, secret_key: str | None = None) -> MinioAdmin:
    return MinioAdmin(
        endpoint=server.address,
        credentials=StaticProvider(access_key or server.access_key, secret_key or server.secret_key),
        secure=False,
    )


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def failure(call, *args, **kwargs) -> tuple[int, dict]:
    """(HTTP status, JSON error body) of a call that must fail."""
    with pytest.raises(MinioAdminException) as info:
        call(*args, **kwargs)
    return int(info.value._code), json.loads(info.value._body)


@pytest.fixture(scope="module")
def admin(server):
    return admin_client(server)


def test_users(admin):
    alice = name("alice")
    assert admin.user_add(alice, "alice-secret-1") == ""
    users = json.loads(admin.user_list())
    assert users[alice]["status"] == "enabled"
    assert "secretKey" not in users[alice]
    info = json.loads(admin.user_info(alice))
    assert info["status"] == "enabled" and "secretKey" not in info and "policyName" not in info

    admin.user_disable(alice)
    assert json.loads(admin.user_info(alice))["status"] == "disabled"
    admin.user_enable(alice)
    assert json.loads(admin.user_info(alice))["status"] == "enabled"

    admin.user_remove(alice)
    assert alice not in json.loads(admin.user_list())
    status, err = failure(admin.user_info, alice)
    assert (status, err["Code"]) == (404, "XMinioAdminNoSuchUser")


def test_user_errors(admin, server):
    status, err = failure(admin.user_remove, name("ghost"))
    assert (status, err["Code"]) == (404, "XMinioAdminNoSuchUser")
    status, err = failure(admin.user_disable, name("ghost"))
    assert (status, err["Code"]) == (404, "XMinioAdminNoSuchUser")
    status, err = failure(admin.user_add, name("short"), "short")
    assert (status, err["Code"]) == (400, "XMinioAdminInvalidSecretKey")
    status, err = failure(admin.user_add, server.access_key, "some-secret-123")
    assert (status, err["Code"]) == (403, "XMinioInvalidIAMCredentials")
    assert err["RequestId"] and err["Resource"] == "/minio/admin/v3/add-user"


def test_policies(admin):
    pol = name("pol")
    admin.policy_add(pol, policy=READ_B)
    listed = json.loads(admin.policy_list())
    assert listed[pol]["Statement"] == READ_B["Statement"]
    for canned in ("readonly", "readwrite", "writeonly", "diagnostics", "consoleAdmin"):
        assert canned in listed
    assert json.loads(admin.policy_info(pol)) == READ_B
    assert json.loads(admin.policy_info("readwrite"))["Statement"][0]["Action"] == ["s3:*"]

    admin.policy_remove(pol)
    assert pol not in json.loads(admin.policy_list())
    status, err = failure(admin.policy_info, pol)
    assert (status, err["Code"]) == (404, "XMinioAdminNoSuchPolicy")
    status, err = failure(admin.policy_remove, pol)
    assert (status, err["Code"]) == (404, "XMinioAdminNoSuchPolicy")


def test_policy_validation(admin):
    status, err = failure(
        admin.policy_add,
        name("bad"),
        policy={
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["s3:NoSuchThing"], "Resource": ["*"]}],
        },
    )
    assert (status, err["Code"]) == (400, "XMinioMalformedIAMPolicy")
    big = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": f"s{i}",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::bucket-{i:05d}/*"],
            }
            for i in range(400)
        ],
    }
    status, err = failure(admin.policy_add, name("big"), policy=big)
    assert status == 400
    status, err = failure(admin.policy_add, "readwrite", policy=READ_B)
    assert status == 400


def signed_get(server, path: str):
    """A GET signed like madmin-go signs it (minio-py has no call for what this sends)."""
    import urllib3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"{server.endpoint}{path}"
    empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    request = AWSRequest(method="GET", url=url, headers={"X-Amz-Content-SHA256": empty})
    SigV4Auth(Credentials(server.access_key, server.secret_key), "s3", "us-east-1").add_auth(request)
    return urllib3.request("GET", url, headers=dict(request.headers))


def test_info_canned_policy_v2(admin, server):
    # mc sends v=2 and reads PolicyInfo.
    pol = name("pol")
    admin.policy_add(pol, policy=READ_B)
    resp = signed_get(server, f"/minio/admin/v3/info-canned-policy?name={pol}&v=2")
    assert resp.status == 200
    info = json.loads(resp.data)
    assert info["PolicyName"] == pol and info["Policy"] == READ_B
    assert info["CreateDate"].endswith("Z") and info["UpdateDate"].endswith("Z")


def test_attach_and_detach(admin):
    bob = name("bob")
    pol = name("pol")
    admin.user_add(bob, "bob-secret-123")
    admin.policy_add(pol, policy=READ_B)

    admin.policy_set("readwrite", user=bob)
    assert json.loads(admin.user_info(bob))["policyName"] == "readwrite"
    resp = json.loads(admin.attach_policy([pol], user=bob))
    assert resp["policiesAttached"] == [pol]
    assert set(json.loads(admin.user_info(bob))["policyName"].split(",")) == {"readwrite", pol}

    status, err = failure(admin.attach_policy, [pol], user=bob)
    assert (status, err["Code"]) == (400, "XMinioAdminPolicyChangeAlreadyApplied")
    status, err = failure(admin.attach_policy, [name("missing")], user=bob)
    assert (status, err["Code"]) == (404, "XMinioAdminNoSuchPolicy")
    status, err = failure(admin.attach_policy, ["readonly"], user=name("ghost"))
    assert (status, err["Code"]) == (404, "XMinioAdminNoSuchUser")

    # A policy in use cannot be removed.
    status, err = failure(admin.policy_remove, pol)
    assert (status, err["Code"]) == (400, "XMinioIAMPolicyInUse")

    resp = json.loads(admin.detach_policy([pol, "readwrite"], user=bob))
    assert sorted(resp["policiesDetached"]) == sorted([pol, "readwrite"])
    assert "policyName" not in json.loads(admin.user_info(bob))
    status, err = failure(admin.detach_policy, [pol], user=bob)
    assert (status, err["Code"]) == (400, "XMinioAdminPolicyChangeAlreadyApplied")
    admin.policy_remove(pol)
    admin.user_remove(bob)


def test_groups(admin):
    u1, u2, grp = name("u1"), name("u2"), name("grp")
    admin.user_add(u1, "member-secret-1")
    admin.user_add(u2, "member-secret-2")

    admin.group_add(grp, [u1, u2])
    info = json.loads(admin.group_info(grp))
    assert info["name"] == grp and sorted(info["members"]) == sorted([u1, u2])
    assert info["status"] == "enabled" and info["policy"] == ""
    assert grp in json.loads(admin.group_list())
    assert json.loads(admin.user_info(u1))["memberOf"] == [grp]

    admin.policy_set("readonly", group=grp)
    assert json.loads(admin.group_info(grp))["policy"] == "readonly"
    admin.group_disable(grp)
    assert json.loads(admin.group_info(grp))["status"] == "disabled"
    status, err = failure(admin.attach_policy, ["readwrite"], group=grp)
    assert (status, err["Code"]) == (400, "XMinioAdminGroupDisabled")
    admin.group_enable(grp)

    status, err = failure(admin.group_remove, grp)
    assert (status, err["Code"]) == (400, "XMinioAdminGroupNotEmpty")
    admin.group_remove(grp, [u1, u2])
    assert json.loads(admin.group_info(grp))["members"] == []
    admin.group_remove(grp)
    assert grp not in json.loads(admin.group_list())

    status, err = failure(admin.group_info, grp)
    assert (status, err["Code"]) == (404, "XMinioAdminNoSuchGroup")
    status, err = failure(admin.group_disable, grp)
    assert (status, err["Code"]) == (404, "XMinioAdminNoSuchGroup")
    status, err = failure(admin.group_add, grp, [name("ghost")])
    assert (status, err["Code"]) == (404, "XMinioAdminNoSuchUser")


def test_service_accounts(admin, server):
    carol = name("carol")
    admin.user_add(carol, "carol-secret-1")
    admin.policy_set("readwrite", user=carol)

    created = json.loads(admin.add_service_account(name="build", description="CI key"))["credentials"]
    assert created["accessKey"] and len(created["secretKey"]) >= 8
    root_keys = [a["accessKey"] for a in json.loads(admin.list_service_account(server.access_key))["accounts"]]
    assert created["accessKey"] in root_keys
    admin.delete_service_account(created["accessKey"])

    # For another user, with chosen keys, an embedded policy and an expiry.
    expiry = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    own_key = name("svc").replace("-", "")
    resp = json.loads(
        admin.add_service_account(
            access_key=own_key, secret_key="svc-secret-123", policy=READ_B, expiration=expiry, name="reader"
        )
    )
    assert resp["credentials"]["accessKey"] == own_key
    # add_service_account has no target-user argument in minio-py: move it with mc's shape below.
    accounts = json.loads(admin.list_service_account(server.access_key))["accounts"]
    mine = next(a for a in accounts if a["accessKey"] == own_key)
    assert mine["impliedPolicy"] is False and mine["accountStatus"] == "on" and mine["name"] == "reader"
    assert mine["expiration"].startswith(expiry[:16])

    info = json.loads(admin.get_service_account(own_key))
    assert info["parentUser"] == server.access_key and info["impliedPolicy"] is False
    assert json.loads(info["policy"])["Statement"] == READ_B["Statement"]

    admin.update_service_account(access_key=own_key, status="off", name="renamed", description="now off")
    info = json.loads(admin.get_service_account(own_key))
    assert (info["accountStatus"], info["name"], info["description"]) == ("off", "renamed", "now off")
    admin.update_service_account(access_key=own_key, status="on", secret_key="svc-secret-456")
    assert json.loads(admin.get_service_account(own_key))["accountStatus"] == "on"

    admin.delete_service_account(own_key)
    status, err = failure(admin.get_service_account, own_key)
    assert (status, err["Code"]) == (404, "XMinioInvalidIAMCredentials")
    status, err = failure(admin.delete_service_account, own_key)
    assert (status, err["Code"]) == (404, "XMinioInvalidIAMCredentials")

    # The user's own service accounts: it creates, lists, reads and deletes them itself.
    as_carol = admin_client(server, carol, "carol-secret-1")
    key = json.loads(as_carol.add_service_account(name="carolkey"))["credentials"]
    listed = json.loads(as_carol.list_service_account(carol))["accounts"]
    assert [a["accessKey"] for a in listed] == [key["accessKey"]]
    assert listed[0]["parentUser"] == carol and listed[0]["impliedPolicy"] is True
    info = json.loads(as_carol.get_service_account(key["accessKey"]))
    assert info["impliedPolicy"] is True
    assert json.loads(info["policy"])["Statement"][0]["Action"] == ["s3:*"]  # readwrite, inherited
    # The service account acts for carol: it sees carol's keys too.
    as_key = admin_client(server, key["accessKey"], key["secretKey"])
    assert [a["accessKey"] for a in json.loads(as_key.list_service_account(""))["accounts"]] == [key["accessKey"]]
    as_carol.delete_service_account(key["accessKey"])
    assert json.loads(admin.list_service_account(carol))["accounts"] == []

    # Removing the user removes its keys.
    key = json.loads(as_carol.add_service_account())["credentials"]
    admin.user_remove(carol)
    status, err = failure(admin.get_service_account, key["accessKey"])
    assert status == 404


def test_disabled_parent_disables_service_accounts(admin, server):
    erin = name("erin")
    admin.user_add(erin, "erin-secret-12")
    as_erin = admin_client(server, erin, "erin-secret-12")
    key = json.loads(as_erin.add_service_account())["credentials"]
    as_key = admin_client(server, key["accessKey"], key["secretKey"])
    as_key.list_service_account("")
    admin.user_disable(erin)
    status, err = failure(as_key.list_service_account, "")
    assert (status, err["Code"]) == (403, "InvalidAccessKeyId")
    status, err = failure(as_erin.list_service_account, "")
    assert (status, err["Code"]) == (403, "InvalidAccessKeyId")
    admin.user_enable(erin)
    as_key.list_service_account("")
    admin.user_remove(erin)


def test_plain_user_is_denied_every_admin_call(admin, server):
    frank, other = name("frank"), name("other")
    admin.user_add(frank, "frank-secret-1")
    admin.user_add(other, "other-secret-1")
    other_key = json.loads(
        admin.add_service_account(access_key=name("okey").replace("-", ""), secret_key="other-key-secret")
    )["credentials"]["accessKey"]
    as_frank = admin_client(server, frank, "frank-secret-1")
    denied = [
        (as_frank.user_add, (name("x"), "x-secret-123")),
        (as_frank.user_remove, (other,)),
        (as_frank.user_list, ()),
        (as_frank.user_info, (other,)),
        (as_frank.user_disable, (other,)),
        (as_frank.policy_add, (name("p"),), {"policy": READ_B}),
        (as_frank.policy_remove, ("readonly",)),
        (as_frank.policy_list, ()),
        (as_frank.policy_info, ("readwrite",)),
        (as_frank.policy_set, ("readwrite",), {"user": frank}),
        (as_frank.attach_policy, (["consoleAdmin"],), {"user": frank}),
        (as_frank.detach_policy, (["readonly"],), {"user": other}),
        (as_frank.group_add, (name("g"), [frank])),
        (as_frank.group_list, ()),
        (as_frank.group_info, ("anything",)),
        (as_frank.group_disable, ("anything",)),
        (as_frank.list_service_account, (other,)),
        (as_frank.update_service_account, (), {"access_key": other_key, "status": "off"}),
        (as_frank.info, ()),
    ]
    for call, args, *rest in denied:
        kwargs = rest[0] if rest else {}
        status, err = failure(call, *args, **kwargs)
        assert (status, err["Code"]) == (403, "AccessDenied"), call.__name__

    # Another user's service account is invisible (MinIO answers "not found" to delete).
    status, err = failure(as_frank.get_service_account, other_key)
    assert (status, err["Code"]) == (403, "AccessDenied")
    status, err = failure(as_frank.delete_service_account, other_key)
    assert (status, err["Code"]) == (404, "XMinioInvalidIAMCredentials")
    assert json.loads(admin.get_service_account(other_key))["accountStatus"] == "on"

    # It could not attach a policy to itself, nor read anyone's secret.
    info = json.loads(admin.user_info(frank))
    assert "policyName" not in info and "secretKey" not in info
    # What it may do: read its own info and manage its own service accounts.
    assert json.loads(as_frank.user_info(frank))["status"] == "enabled"
    own = json.loads(as_frank.add_service_account())["credentials"]["accessKey"]
    assert [a["accessKey"] for a in json.loads(as_frank.list_service_account(frank))["accounts"]] == [own]
    as_frank.delete_service_account(own)
    admin.delete_service_account(other_key)
    admin.user_remove(frank)
    admin.user_remove(other)


def test_user_with_admin_policy_may_administer(admin, server):
    gina = name("gina")
    admin.user_add(gina, "gina-secret-12")
    pol = name("useradmin")
    admin.policy_add(
        pol,
        policy={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["admin:CreateUser", "admin:ListUsers", "admin:GetUser"],
                    "Resource": ["arn:aws:s3:::*"],
                }
            ],
        },
    )
    admin.attach_policy([pol], user=gina)
    as_gina = admin_client(server, gina, "gina-secret-12")
    newbie = name("newbie")
    as_gina.user_add(newbie, "newbie-secret-1")
    assert newbie in json.loads(as_gina.user_list())
    status, err = failure(as_gina.user_remove, newbie)
    assert (status, err["Code"]) == (403, "AccessDenied")
    status, err = failure(as_gina.attach_policy, ["consoleAdmin"], user=gina)
    assert (status, err["Code"]) == (403, "AccessDenied")
    admin.user_remove(newbie)
    admin.detach_policy([pol], user=gina)
    admin.user_remove(gina)
    admin.policy_remove(pol)


def test_wrong_secret_and_unknown_key_are_rejected(server):
    status, err = failure(admin_client(server, server.access_key, "not-the-secret").user_list)
    assert (status, err["Code"]) == (403, "SignatureDoesNotMatch")
    status, err = failure(admin_client(server, "nobody-at-all", "whatever-secret").user_list)
    assert (status, err["Code"]) == (403, "InvalidAccessKeyId")


def test_unsigned_and_unknown_requests(server):
    import urllib3

    resp = urllib3.request("GET", f"{server.endpoint}/minio/admin/v3/list-users")
    assert resp.status == 403 and json.loads(resp.data)["Code"] == "AccessDenied"
    resp = urllib3.request("GET", f"{server.endpoint}/minio/admin/v3/no-such-command")
    assert resp.status == 426 and json.loads(resp.data)["Code"] == "XMinioAdminVersionMismatch"
    resp = urllib3.request("PUT", f"{server.endpoint}/minio/admin/v3/add-user?accessKey=x", body=b"garbage")
    assert resp.status == 403 and resp.headers["content-type"] == "application/json"


def test_v4_prefix(server):
    # madmin-go v4 (newer mc) calls /minio/admin/v4/ first; the same commands answer there.
    resp = signed_get(server, "/minio/admin/v4/info")
    assert resp.status == 200 and json.loads(resp.data)["mode"] == "online"
    resp = signed_get(server, "/minio/admin/v4/export-iam")
    assert resp.status == 426  # not served: MinIO's answer, on which madmin falls back to /v3


def test_server_info(admin):
    info = json.loads(admin.info())
    assert info["mode"] == "online" and info["deploymentID"]
    assert info["servers"][0]["state"] == "online"
    assert info.get("sqsARN", []) == []


def test_deleted_service_account_key_can_be_issued_again(server, admin):
    key = "REISSUE" + uuid.uuid4().hex[:8].upper()
    admin.add_service_account(access_key=key, secret_key="first-secret-123")
    admin.delete_service_account(key)
    admin.add_service_account(access_key=key, secret_key="second-secret-123", name="again")
    info = json.loads(admin.get_service_account(key))
    assert info["parentUser"] == server.access_key and info["name"] == "again"
    status, _ = failure(admin.add_service_account, access_key=key, secret_key="third-secret-123")
    assert status == 409
    # The re-issued key signs with its new secret.
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=key,
        aws_secret_access_key="second-secret-123",
        region_name="us-east-1",
    )
    assert "Buckets" in s3.list_buckets()

"""What minio-py's MinioAdmin sends, against our endpoint table and request/response shapes.

MinioAdmin gets a recording urllib3 PoolManager: it captures each request the
client would put on the wire and answers with a canned response (encrypted
with our encrypt_data where the client decrypts). This tests our reading of
the client, not the server.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from minio.credentials import StaticProvider
from minio.minioadmin import MinioAdmin
from urllib3 import HTTPResponse, PoolManager

from api.admin import shapes
from api.admin.endpoints import ADMIN_PREFIX_V3, ENDPOINTS, lookup, split_admin_path
from api.admin.madmin_crypto import decrypt_data, encrypt_data, is_encrypted

ACCESS = "admin-user"
SECRET = "admin-secret-key-123"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/*"]}],
}


class RecordingPool(PoolManager):
    """A PoolManager that records requests and answers from a script instead of the network."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict] = []
        self.reply_body = b""
        self.reply_status = 200

    def urlopen(self, method, url, redirect=True, **kw):  # noqa: D401 - urllib3 signature
        parts = urlsplit(url)
        headers = {k.lower(): v for k, v in kw.get("headers", {}).items()}
        self.requests.append(
            {
                "method": method,
                "path": parts.path,
                "query": parse_qs(parts.query, keep_blank_values=True),
                "body": kw.get("body") or b"",
                "headers": headers,
            }
        )
        return HTTPResponse(
            body=io.BytesIO(self.reply_body),
            status=self.reply_status,
            headers={"Content-Type": "application/json"},
            preload_content=kw.get("preload_content", True),
        )


@pytest.fixture()
def admin():
    pool = RecordingPool()
    client = MinioAdmin(
        endpoint="chronicle.test:9000",
        credentials=StaticProvider(ACCESS, SECRET),
        secure=False,
        http_client=pool,
    )
    return client, pool


def _call(admin, method_name, *args, reply=None, reply_status=200, **kwargs):
    """Run one MinioAdmin method; ``reply`` is the JSON answer (encrypted if the table says so)."""
    client, pool = admin
    pool.requests.clear()
    result = getattr(client, method_name)(*args, **kwargs)
    assert len(pool.requests) == 1
    return pool.requests[0], result


def _prime(admin, command, reply, status=200):
    _, pool = admin
    data = b"" if reply is None else json.dumps(reply).encode()
    if reply is not None and ENDPOINTS[command].encrypted_response:
        data = encrypt_data(SECRET, data)
    pool.reply_body, pool.reply_status = data, status


def _check_against_table(request, command):
    endpoint = ENDPOINTS[command]
    assert split_admin_path(request["path"]) == command
    assert request["path"] == endpoint.path and request["path"].startswith(ADMIN_PREFIX_V3 + "/")
    assert request["method"] == endpoint.method
    assert lookup(request["method"], request["path"]) is endpoint
    sent = set(request["query"])
    assert set(endpoint.query) <= sent, (command, sent)
    assert sent <= set(endpoint.query) | set(endpoint.optional_query), (command, sent)
    # minio-py signs the body hash and labels every body as opaque bytes.
    assert request["headers"]["content-type"] == "application/octet-stream"
    assert request["headers"]["x-amz-content-sha256"] != "UNSIGNED-PAYLOAD"
    assert "AWS4-HMAC-SHA256 Credential=" + ACCESS in request["headers"]["authorization"]
    body = request["body"]
    if endpoint.encrypted_request:
        assert is_encrypted(body)
        return json.loads(decrypt_data(SECRET, body))
    if body:
        assert not is_encrypted(body)
        return json.loads(body)
    return None


def q(request, name):
    return request["query"][name][0]


# ---- users --------------------------------------------------------------------------------


def test_user_add(admin):
    _prime(admin, "add-user", None)
    request, _ = _call(admin, "user_add", "alice", "alice-secret-1")
    body = _check_against_table(request, "add-user")
    assert q(request, "accessKey") == "alice"
    assert body == {"status": "enabled", "secretKey": "alice-secret-1"}
    assert shapes.parse_add_user_request(body) == {
        "secretKey": "alice-secret-1",
        "status": "enabled",
    }
    # the secret never crosses the wire in clear
    assert b"alice-secret-1" not in request["body"]


def test_user_add_wrong_key_cannot_open(admin):
    _prime(admin, "add-user", None)
    request, _ = _call(admin, "user_add", "alice", "alice-secret-1")
    with pytest.raises(ValueError):
        decrypt_data("another-secret", request["body"])


@pytest.mark.parametrize("method_name,status", [("user_enable", "enabled"), ("user_disable", "disabled")])
def test_user_status(admin, method_name, status):
    _prime(admin, "set-user-status", None)
    request, _ = _call(admin, method_name, "alice")
    assert _check_against_table(request, "set-user-status") is None
    assert (q(request, "accessKey"), q(request, "status")) == ("alice", status)


def test_user_remove(admin):
    _prime(admin, "remove-user", None)
    request, _ = _call(admin, "user_remove", "alice")
    _check_against_table(request, "remove-user")
    assert q(request, "accessKey") == "alice"


def test_user_info(admin):
    when = datetime(2025, 3, 4, 5, 6, 7, 123400, tzinfo=UTC)
    info = shapes.user_info(
        status="enabled", policies=["readwrite", "diagnostics"], member_of=["devs"], updated_at=when
    )
    assert info == {
        "policyName": "readwrite,diagnostics",
        "status": "enabled",
        "memberOf": ["devs"],
        "updatedAt": "2025-03-04T05:06:07.1234Z",
    }
    _prime(admin, "user-info", info)
    request, result = _call(admin, "user_info", "alice")
    _check_against_table(request, "user-info")
    assert json.loads(result) == info


def test_user_list_decrypts_our_response(admin):
    users = {
        "alice": shapes.user_info(status="enabled", policies=["readwrite"]),
        "bob": shapes.user_info(status="disabled"),
    }
    assert users["bob"] == {"status": "disabled", "updatedAt": "0001-01-01T00:00:00Z"}
    _prime(admin, "list-users", shapes.list_users_response(users))
    request, result = _call(admin, "user_list")
    _check_against_table(request, "list-users")
    assert json.loads(result) == users


# ---- policies -----------------------------------------------------------------------------


def test_policy_add_is_plain_json(admin):
    _prime(admin, "add-canned-policy", None)
    request, _ = _call(admin, "policy_add", "read-b", policy=POLICY)
    body = _check_against_table(request, "add-canned-policy")
    assert q(request, "name") == "read-b"
    assert body == POLICY


def test_policy_remove(admin):
    _prime(admin, "remove-canned-policy", None)
    request, _ = _call(admin, "policy_remove", "read-b")
    _check_against_table(request, "remove-canned-policy")
    assert q(request, "name") == "read-b"


def test_policy_info_without_v_is_the_document(admin):
    reply = shapes.info_canned_policy_response("read-b", POLICY, version=None)
    _prime(admin, "info-canned-policy", reply)
    request, result = _call(admin, "policy_info", "read-b")
    _check_against_table(request, "info-canned-policy")
    assert "v" not in request["query"]
    assert json.loads(result) == POLICY


def test_policy_info_v2_shape():
    created = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert shapes.info_canned_policy_response("p", POLICY, version="2") == {
        "PolicyName": "p",
        "Policy": POLICY,
    }
    assert shapes.info_canned_policy_response("p", POLICY, version="2", created=created, updated=created) == {
        "PolicyName": "p",
        "Policy": POLICY,
        "CreateDate": "2024-01-02T03:04:05Z",
        "UpdateDate": "2024-01-02T03:04:05Z",
    }


def test_policy_list(admin):
    reply = shapes.list_canned_policies_response({"read-b": POLICY})
    _prime(admin, "list-canned-policies", reply)
    request, result = _call(admin, "policy_list")
    _check_against_table(request, "list-canned-policies")
    assert json.loads(result) == {"read-b": POLICY}


@pytest.mark.parametrize("who,is_group", [({"user": "alice"}, "false"), ({"group": "devs"}, "true")])
def test_policy_set(admin, who, is_group):
    _prime(admin, "set-user-or-group-policy", None)
    request, _ = _call(admin, "policy_set", "readwrite", **who)
    _check_against_table(request, "set-user-or-group-policy")
    assert q(request, "policyName") == "readwrite"
    assert q(request, "userOrGroup") == next(iter(who.values()))
    assert q(request, "isGroup") == is_group


@pytest.mark.parametrize(
    "method_name,command,key",
    [
        ("attach_policy", "idp/builtin/policy/attach", "attached"),
        ("detach_policy", "idp/builtin/policy/detach", "detached"),
    ],
)
def test_attach_detach(admin, method_name, command, key):
    when = datetime(2025, 1, 1, tzinfo=UTC)
    reply = shapes.policy_association_response(**{key: ["readwrite"]}, updated_at=when)
    _prime(admin, command, reply)
    request, result = _call(admin, method_name, ["readwrite", "diagnostics"], user="alice")
    body = _check_against_table(request, command)
    assert body == {"policies": ["readwrite", "diagnostics"], "user": "alice"}
    assert shapes.parse_policy_association_request(body) == body
    assert json.loads(result) == {
        "policies" + key.capitalize(): ["readwrite"],
        "updatedAt": "2025-01-01T00:00:00Z",
    }


def test_policy_unset_is_detach(admin):
    _prime(
        admin,
        "idp/builtin/policy/detach",
        shapes.policy_association_response(detached=["x"], updated_at=None),
    )
    request, _ = _call(admin, "policy_unset", "x", group="devs")
    body = _check_against_table(request, "idp/builtin/policy/detach")
    assert body == {"policies": ["x"], "group": "devs"}


def test_attach_accepts_204_without_body(admin):
    _, pool = admin
    pool.reply_body, pool.reply_status = b"", 204
    request, result = _call(admin, "attach_policy", ["readwrite"], group="devs")
    assert result == ""
    assert json.loads(decrypt_data(SECRET, request["body"])) == {
        "policies": ["readwrite"],
        "group": "devs",
    }


def test_policy_association_validation():
    for bad in (
        {"policies": [], "user": "a"},
        {"policies": [""], "user": "a"},
        {"policies": ["p"]},
        {"policies": ["p"], "user": "a", "group": "g"},
        {"policies": "p", "user": "a"},
    ):
        with pytest.raises(ValueError):
            shapes.parse_policy_association_request(bad)


def test_policy_entities(admin):
    reply = {
        "timestamp": "2025-01-01T00:00:00Z",
        "policyMappings": [{"policy": "p", "users": ["a"], "groups": []}],
    }
    _prime(admin, "idp/builtin/policy-entities", reply)
    request, result = _call(admin, "get_policy_entities", users=["a", "b"], groups=[], policies=["p"])
    _check_against_table(request, "idp/builtin/policy-entities")
    assert request["query"]["user"] == ["a", "b"] and request["query"]["policy"] == ["p"]
    assert json.loads(result) == reply


# ---- groups -------------------------------------------------------------------------------


def test_group_add_plain_json(admin):
    _prime(admin, "update-group-members", None)
    request, _ = _call(admin, "group_add", "devs", ["alice", "bob"])
    body = _check_against_table(request, "update-group-members")
    assert body == {"group": "devs", "members": ["alice", "bob"], "isRemove": False}
    assert shapes.parse_group_add_remove(body) == {
        "group": "devs",
        "members": ["alice", "bob"],
        "groupStatus": "",
        "isRemove": False,
    }


def test_group_add_with_string_members(admin):
    # minio-py's signature says ``members: str`` and sends it through unchanged.
    _prime(admin, "update-group-members", None)
    request, _ = _call(admin, "group_add", "devs", "alice,bob")
    body = _check_against_table(request, "update-group-members")
    assert body["members"] == "alice,bob"
    assert shapes.parse_group_add_remove(body)["members"] == ["alice", "bob"]


def test_group_remove(admin):
    _prime(admin, "update-group-members", None)
    request, _ = _call(admin, "group_remove", "devs")
    body = _check_against_table(request, "update-group-members")
    assert body == {"group": "devs", "isRemove": True}
    assert shapes.parse_group_add_remove(body)["members"] == []
    request, _ = _call(admin, "group_remove", "devs", ["bob"])
    assert shapes.parse_group_add_remove(_check_against_table(request, "update-group-members")) == {
        "group": "devs",
        "members": ["bob"],
        "groupStatus": "",
        "isRemove": True,
    }


@pytest.mark.parametrize("method_name,status", [("group_enable", "enabled"), ("group_disable", "disabled")])
def test_group_status(admin, method_name, status):
    _prime(admin, "set-group-status", None)
    request, _ = _call(admin, method_name, "devs")
    _check_against_table(request, "set-group-status")
    assert (q(request, "group"), q(request, "status")) == ("devs", status)


def test_group_info_and_list(admin):
    desc = shapes.group_desc("devs", status="enabled", members=["alice"], policies=["readwrite"])
    assert desc == {
        "name": "devs",
        "status": "enabled",
        "members": ["alice"],
        "policy": "readwrite",
        "updatedAt": "0001-01-01T00:00:00Z",
    }
    _prime(admin, "group", desc)
    request, result = _call(admin, "group_info", "devs")
    _check_against_table(request, "group")
    assert q(request, "group") == "devs"
    assert json.loads(result) == desc

    _prime(admin, "groups", shapes.list_groups_response(["devs"]))
    request, result = _call(admin, "group_list")
    _check_against_table(request, "groups")
    assert json.loads(result) == ["devs"]


# ---- service accounts ---------------------------------------------------------------------


def test_add_service_account_round_trip(admin):
    reply = shapes.add_service_account_response("SVCKEY", "svc-secret")
    assert reply == {
        "credentials": {
            "accessKey": "SVCKEY",
            "secretKey": "svc-secret",
            "expiration": "0001-01-01T00:00:00Z",
        }
    }
    _prime(admin, "add-service-account", reply)
    request, result = _call(
        admin,
        "add_service_account",
        access_key="SVCKEY",
        secret_key="svc-secret",
        name="ci-key",
        description="for CI",
        policy=POLICY,
        expiration="2030-01-01T00:00:00Z",
    )
    body = _check_against_table(request, "add-service-account")
    assert body == {
        "status": "enabled",
        "accessKey": "SVCKEY",
        "secretKey": "svc-secret",
        "name": "ci-key",
        "description": "for CI",
        "policy": POLICY,
        "expiration": "2030-01-01T00:00:00Z",
    }
    parsed = shapes.parse_add_service_account_request(body)
    assert parsed["policy"] == POLICY and parsed["targetUser"] == ""
    assert parsed["expiration"] == datetime(2030, 1, 1, tzinfo=UTC)
    assert json.loads(result) == reply


def test_add_service_account_generated_keys(admin):
    _prime(admin, "add-service-account", shapes.add_service_account_response("GEN", "gen-secret"))
    request, _ = _call(admin, "add_service_account")
    body = _check_against_table(request, "add-service-account")
    assert body == {"status": "enabled", "accessKey": None, "secretKey": None}
    parsed = shapes.parse_add_service_account_request(body)
    assert (parsed["accessKey"], parsed["secretKey"], parsed["policy"], parsed["expiration"]) == (
        "",
        "",
        None,
        None,
    )


def test_add_service_account_mc_shape():
    # madmin AddServiceAccountReq as mc marshals it: targetUser, no status, nanosecond time.
    body = {"targetUser": "alice", "name": "k1", "expiration": "2031-05-06T07:08:09.123456789Z"}
    parsed = shapes.parse_add_service_account_request(json.dumps(body))
    assert parsed["targetUser"] == "alice" and parsed["status"] == "enabled"
    assert parsed["expiration"] == datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    for bad in ({"name": "1abc"}, {"name": "x" * 33}, {"description": "d" * 257}, {"policy": [1]}):
        with pytest.raises(ValueError):
            shapes.parse_add_service_account_request(bad)


def test_update_service_account(admin):
    _prime(admin, "update-service-account", None, status=204)
    request, _ = _call(
        admin,
        "update_service_account",
        access_key="SVCKEY",
        secret_key="new-secret-1",
        status="off",
        policy=POLICY,
    )
    body = _check_against_table(request, "update-service-account")
    assert ENDPOINTS["update-service-account"].success_status == 204
    assert q(request, "accessKey") == "SVCKEY"
    assert body == {"newSecretKey": "new-secret-1", "newPolicy": POLICY, "newStatus": "off"}
    assert shapes.parse_update_service_account_request(body) == body
    assert shapes.parse_update_service_account_request({"newPolicy": {}}) == {"newPolicy": None}


def test_delete_service_account(admin):
    _prime(admin, "delete-service-account", None, status=204)
    request, _ = _call(admin, "delete_service_account", "SVCKEY")
    _check_against_table(request, "delete-service-account")
    assert q(request, "accessKey") == "SVCKEY"


def test_list_service_accounts(admin):
    item = shapes.service_account_info("SVCKEY", parent_user="alice", status="enabled", implied_policy=True, name="ci")
    assert item == {
        "parentUser": "alice",
        "accountStatus": "on",
        "impliedPolicy": True,
        "accessKey": "SVCKEY",
        "name": "ci",
        "expiration": "1970-01-01T00:00:00Z",
    }
    reply = shapes.list_service_accounts_response([item])
    _prime(admin, "list-service-accounts", reply)
    request, result = _call(admin, "list_service_account", "alice")
    _check_against_table(request, "list-service-accounts")
    assert q(request, "user") == "alice"
    assert json.loads(result) == reply


def test_info_service_account(admin):
    reply = shapes.info_service_account_response(
        parent_user="alice", status="disabled", implied_policy=False, policy=POLICY
    )
    assert json.loads(reply["policy"]) == POLICY and "expiration" not in reply
    assert reply["accountStatus"] == "off"
    _prime(admin, "info-service-account", reply)
    request, result = _call(admin, "get_service_account", "SVCKEY")
    _check_against_table(request, "info-service-account")
    assert q(request, "accessKey") == "SVCKEY"
    assert json.loads(result) == reply


# ---- info ---------------------------------------------------------------------------------


def test_info(admin):
    reply = shapes.info_message(
        deployment_id="d-1",
        endpoint="chronicle.test:9000",
        version="0.1.0",
        uptime_seconds=42,
        buckets=2,
        objects=5,
        sqs_arns=["arn:minio:sqs::1:webhook"],
        drives=[shapes.drive("chronicle.test:9000", path="/data", total=100, used=10, available=90)],
    )
    assert reply["mode"] == "online" and reply["sqsARN"] == ["arn:minio:sqs::1:webhook"]
    assert reply["servers"][0]["state"] == "online" and reply["servers"][0]["drives"][0]["state"] == "ok"
    _prime(admin, "info", reply)
    request, result = _call(admin, "info")
    _check_against_table(request, "info")
    assert json.loads(result) == reply


# ---- table-level checks -------------------------------------------------------------------


def test_table_covers_issue_endpoints():
    required = {
        "add-user", "remove-user", "list-users", "user-info", "set-user-status",
        "add-canned-policy", "remove-canned-policy", "list-canned-policies", "info-canned-policy",
        "set-user-or-group-policy", "idp/builtin/policy/attach", "idp/builtin/policy/detach",
        "update-group-members", "groups", "group", "set-group-status",
        "add-service-account", "update-service-account", "delete-service-account",
        "list-service-accounts", "info-service-account", "info",
    }  # fmt: skip
    assert required <= {name for name, ep in ENDPOINTS.items() if ep.core}
    for name, endpoint in ENDPOINTS.items():
        assert endpoint.command == name
        assert endpoint.method in {"GET", "PUT", "POST", "DELETE"}


def test_lookup_accepts_v4_prefix_and_rejects_wrong_method():
    assert lookup("PUT", "/minio/admin/v4/add-user") is ENDPOINTS["add-user"]
    assert lookup("GET", "/minio/admin/v3/add-user") is None
    assert lookup("GET", "/minio/admin/v3/nope") is None
    assert lookup("GET", "/bucket/key") is None


def test_go_time_round_trip():
    t = datetime(2025, 6, 7, 8, 9, 10, 500000, tzinfo=UTC)
    assert shapes.go_time(t) == "2025-06-07T08:09:10.5Z"
    assert shapes.parse_go_time("2025-06-07T10:09:10.500000000+02:00") == t
    assert shapes.parse_go_time("0001-01-01T00:00:00Z") is None
    with pytest.raises(ValueError):
        shapes.parse_go_time("yesterday")

"""`chronicle admin ... --json` as a script runs it, against a real server."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest
from minio import MinioAdmin
from minio.credentials import StaticProvider

from tests.helpers.server import REPO_ROOT, chronicle_command

READ_B = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/*"]}],
}


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def cli(server):
    """cli(*args, ok=True, creds=None) -> (exit code, parsed JSON or stdout text, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHRONICLE_")}
    env.update(
        CHRONICLE_ADMIN_ENDPOINT=server.endpoint,
        CHRONICLE_ROOT_USER=server.access_key,
        CHRONICLE_ROOT_PASSWORD=server.secret_key,
    )

    def run(*args: str, ok: bool = True, creds: tuple[str, str] | None = None, json_out: bool = True):
        extra = ["--access-key", creds[0], "--secret-key", creds[1]] if creds else []
        cmd = chronicle_command("admin", *extra, *(["--json"] if json_out else []), *args)
        res = subprocess.run(
            cmd, env=env, cwd=str(REPO_ROOT), capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
        )
        if ok and res.returncode != 0:
            raise AssertionError(
                f"chronicle admin {' '.join(args)} exited {res.returncode}\nstdout:\n{res.stdout}\n"
                f"stderr:\n{res.stderr}\nserver:\n{server.stderr_text()[-3000:]}"
            )
        out = res.stdout
        if json_out and res.returncode == 0 and out.strip():
            out = json.loads(out)
        return res.returncode, out, res.stderr

    return run


def test_users(cli):
    alice = name("alice")
    _, created, _ = cli("user", "add", alice)
    assert created["accessKey"] == alice and len(created["secretKey"]) >= 8
    _, _, _ = cli("user", "add", name("bob"), "bob-secret-123")
    _, users, _ = cli("user", "list")
    assert alice in [u["accessKey"] for u in users]
    assert all("secretKey" not in u for u in users)
    _, info, _ = cli("user", "info", alice)
    assert info["status"] == "enabled"
    cli("user", "disable", alice)
    assert cli("user", "info", alice)[1]["status"] == "disabled"
    cli("user", "enable", alice)
    cli("user", "remove", alice)
    code, _, err = cli("user", "info", alice, ok=False)
    assert code == 1 and f"user {alice} does not exist" in err


def test_generated_secret_works(cli, server):
    carol = name("carol")
    _, created, _ = cli("user", "add", carol)
    admin = MinioAdmin(endpoint=server.address, credentials=StaticProvider(carol, created["secretKey"]), secure=False)
    assert json.loads(admin.user_info(carol))["status"] == "enabled"
    cli("user", "remove", carol)


def test_policies(cli, tmp_path):
    pol, dave = name("pol"), name("dave")
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(READ_B))
    cli("policy", "add", pol, str(path))
    _, policies, _ = cli("policy", "list")
    assert pol in policies and "readwrite" in policies
    _, info, _ = cli("policy", "info", pol)
    assert info["PolicyName"] == pol and info["Policy"] == READ_B

    cli("user", "add", dave, "dave-secret-123")
    _, resp, _ = cli("policy", "attach", "readwrite", pol, "--user", dave)
    assert sorted(resp["policiesAttached"]) == sorted(["readwrite", pol])
    assert set(cli("user", "info", dave)[1]["policyName"].split(",")) == {"readwrite", pol}
    code, _, err = cli("policy", "attach", pol, "--user", dave, ok=False)
    assert code == 1 and "already" in err
    code, _, err = cli("policy", "remove", pol, ok=False)
    assert code == 1 and "detach it first" in err
    _, resp, _ = cli("policy", "detach", pol, "--user", dave)
    assert resp["policiesDetached"] == [pol]
    cli("policy", "remove", pol)
    code, _, err = cli("policy", "info", pol, ok=False)
    assert code == 1 and f"policy {pol} does not exist" in err
    code, _, err = cli("policy", "attach", "readonly", "--user", name("ghost"), ok=False)
    assert code == 1 and "does not exist" in err

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, _, err = cli("policy", "add", name("bad"), str(bad), ok=False)
    assert code == 2 and "not valid JSON" in err
    cli("user", "remove", dave)


def test_groups(cli):
    grp, u1, u2 = name("grp"), name("u1"), name("u2")
    cli("user", "add", u1, "member-secret-1")
    cli("user", "add", u2, "member-secret-2")
    cli("group", "add", grp, u1, u2)
    _, info, _ = cli("group", "info", grp)
    assert sorted(info["members"]) == sorted([u1, u2]) and info["status"] == "enabled"
    assert grp in cli("group", "list")[1]
    cli("policy", "attach", "readonly", "--group", grp)
    assert cli("group", "info", grp)[1]["policy"] == "readonly"
    cli("group", "disable", grp)
    assert cli("group", "info", grp)[1]["status"] == "disabled"
    cli("group", "enable", grp)
    code, _, err = cli("group", "remove", grp, ok=False)
    assert code == 1 and "not empty" in err
    cli("group", "remove", grp, u1, u2)
    cli("group", "remove", grp)
    code, _, err = cli("group", "info", grp, ok=False)
    assert code == 1 and f"group {grp} does not exist" in err
    code, _, err = cli("group", "add", grp, name("ghost"), ok=False)
    assert code == 1 and "does not exist" in err
    cli("user", "remove", u1)
    cli("user", "remove", u2)


def test_service_accounts_and_keys(cli, server, tmp_path):
    erin = name("erin")
    cli("user", "add", erin, "erin-secret-123")
    policy = tmp_path / "narrow.json"
    policy.write_text(json.dumps(READ_B))

    _, sa, _ = cli("svcacct", "add", erin, "--name", "ci", "--description", "builds", "--expiry", "7d")
    assert sa["parentUser"] == erin and sa["accessKey"] and sa["secretKey"]
    key2 = name("k").replace("-", "")
    _, sa2, _ = cli(
        "svcacct", "add", erin, "--access-key", key2, "--secret-key", "key2-secret-123", "--policy", str(policy)
    )
    assert sa2 == {"accessKey": key2, "secretKey": "key2-secret-123", "parentUser": erin}

    _, accounts, _ = cli("svcacct", "list", erin)
    by_key = {a["accessKey"]: a for a in accounts}
    assert set(by_key) == {sa["accessKey"], key2}
    assert by_key[sa["accessKey"]]["name"] == "ci" and by_key[sa["accessKey"]]["impliedPolicy"] is True
    assert by_key[key2]["impliedPolicy"] is False

    _, info, _ = cli("svcacct", "info", key2)
    assert info["parentUser"] == erin and json.loads(info["policy"])["Statement"] == READ_B["Statement"]
    assert "secretKey" not in info
    cli("svcacct", "disable", key2)
    assert cli("svcacct", "info", key2)[1]["accountStatus"] == "off"
    cli("svcacct", "enable", key2)
    assert cli("svcacct", "info", key2)[1]["accountStatus"] == "on"

    # `key` works on any access key: a service account's or a user's.
    _, got, _ = cli("key", "get", key2)
    assert got["type"] == "service-account" and "secretKey" not in got
    _, got, _ = cli("key", "get", erin)
    assert got["type"] == "user" and got["status"] == "enabled" and "secretKey" not in got

    _, reset, _ = cli("key", "reset", key2)
    new_secret = reset["secretKey"]
    as_key = MinioAdmin(endpoint=server.address, credentials=StaticProvider(key2, new_secret), secure=False)
    assert key2 in [a["accessKey"] for a in json.loads(as_key.list_service_account(""))["accounts"]]

    _, reset, _ = cli("key", "reset", erin)
    as_erin = MinioAdmin(endpoint=server.address, credentials=StaticProvider(erin, reset["secretKey"]), secure=False)
    assert json.loads(as_erin.user_info(erin))["status"] == "enabled"

    cli("key", "disable", erin)
    assert cli("key", "get", erin)[1]["status"] == "disabled"
    cli("key", "enable", erin)
    cli("key", "disable", key2)
    assert cli("key", "get", key2)[1]["accountStatus"] == "off"

    cli("key", "delete", key2)
    code, _, err = cli("key", "get", key2, ok=False)
    assert code == 1 and f"access key {key2} does not exist" in err
    cli("svcacct", "remove", sa["accessKey"])
    assert cli("svcacct", "list", erin)[1] == []
    code, _, err = cli("svcacct", "info", sa["accessKey"], ok=False)
    assert code == 1 and "does not exist" in err
    cli("key", "delete", erin)
    code, _, err = cli("user", "info", erin, ok=False)
    assert code == 1


def test_plain_user_is_refused(cli):
    frank = name("frank")
    cli("user", "add", frank, "frank-secret-1")
    code, _, err = cli("user", "list", ok=False, creds=(frank, "frank-secret-1"))
    assert code == 1 and "access denied" in err
    code, _, err = cli("policy", "attach", "consoleAdmin", "--user", frank, ok=False, creds=(frank, "frank-secret-1"))
    assert code == 1 and "access denied" in err
    code, _, err = cli("user", "list", ok=False, creds=(frank, "wrong-secret-1"))
    assert code == 1 and "secret key is wrong" in err
    # It may manage its own service accounts.
    _, sa, _ = cli("svcacct", "add", frank, creds=(frank, "frank-secret-1"))
    assert [a["accessKey"] for a in cli("svcacct", "list", frank, creds=(frank, "frank-secret-1"))[1]] == [
        sa["accessKey"]
    ]
    cli("user", "remove", frank)


def test_human_output_and_usage(cli):
    gina = name("gina")
    cli("user", "add", gina, "gina-secret-1")
    code, out, _ = cli("user", "list", json_out=False)
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["USER", "STATUS", "POLICIES", "GROUPS"]
    assert any(line.split()[:2] == [gina, "enabled"] for line in lines[1:]), out
    code, out, _ = cli("info", json_out=False)
    assert code == 0 and "Status:     online" in out
    _, info, _ = cli("info")
    assert info["mode"] == "online"
    code, _, err = cli("policy", "attach", "readonly", ok=False)
    assert code == 2 and "--user" in err
    code, _, err = cli("svcacct", "add", "x", "--expiry", "soon", ok=False)
    assert code == 2 and "--expiry" in err


def test_unreachable_server(cli):
    code, _, err = cli("--endpoint", "http://127.0.0.1:1", "user", "list", ok=False)
    assert code == 1 and "cannot reach the server" in err

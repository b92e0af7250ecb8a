"""`chronicle admin ...`: manage users, policies, groups, service accounts, access keys and
notification targets (`config set|get|del`) of a running server through the MinIO admin API (SigV4-signed, madmin-encrypted bodies).

Human-readable tables by default, ``--json`` for scripts. Exit codes: 0 success, 1 the server
refused or could not be reached, 2 bad usage.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import secrets
import sys
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from cli.settings import DEFAULT_ADMIN_ENDPOINT, ChronicleSettings

DEFAULT_ENDPOINT = DEFAULT_ADMIN_ENDPOINT
PREFIX = "/minio/admin/v3/"
JSON_TYPE = "application/octet-stream"


class AdminCLIError(Exception):
    """A failure to report on stderr (exit code 1)."""


class UsageError(Exception):
    """Bad arguments (exit code 2)."""


# ---- the HTTP client ----------------------------------------------------------------------


class ServerError(AdminCLIError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{message} ({code})" if code else message)
        self.status = status
        self.code = code
        self.server_message = message


class AdminClient:
    """Signs requests with botocore's SigV4Auth (service s3) and speaks madmin's encryption."""

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        *,
        insecure: bool = False,
        region: str = "us-east-1",
        region_for_arns: str = "",
    ) -> None:
        import urllib3

        self.endpoint = endpoint.rstrip("/")
        if not re.match(r"^https?://", self.endpoint):
            raise UsageError(f"--endpoint must be an http:// or https:// URL, not {endpoint!r}")
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        # Target ARNs carry a region only when the server was given one (as MinIO).
        self.region_for_arns = region_for_arns
        kwargs: dict[str, Any] = {"retries": False, "timeout": urllib3.Timeout(connect=10, read=120)}
        if insecure:
            kwargs["cert_reqs"] = "CERT_NONE"
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self.http = urllib3.PoolManager(**kwargs)

    def call(
        self,
        method: str,
        command: str,
        query: dict[str, str] | None = None,
        body: bytes | dict[str, Any] | list[Any] | None = None,
        *,
        encrypt: bool = False,
        decrypt: bool = False,
        raw: bool = False,
    ) -> Any:
        """Send one admin command; return the decoded JSON answer (None for an empty one)."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        from api.admin.madmin_crypto import decrypt_data, encrypt_data

        payload = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
        if encrypt:
            payload = encrypt_data(self.secret_key, payload)
        qs = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted((query or {}).items()))
        url = f"{self.endpoint}{PREFIX}{command}" + (f"?{qs}" if qs else "")
        headers = {
            "Content-Type": JSON_TYPE,
            "X-Amz-Content-SHA256": hashlib.sha256(payload).hexdigest(),
            "User-Agent": "chronicle-admin",
        }
        request = AWSRequest(method=method, url=url, data=payload, headers=headers)
        SigV4Auth(Credentials(self.access_key, self.secret_key), "s3", self.region).add_auth(request)
        try:
            resp = self.http.request(method, url, body=payload or None, headers=dict(request.headers.items()))
        except Exception as exc:  # noqa: BLE001 - urllib3's connection errors
            reason = getattr(exc, "reason", None) or exc
            raise AdminCLIError(f"cannot reach the server at {self.endpoint}: {reason}") from None
        data = resp.data
        if resp.status >= 300:
            code, message = "", data.decode(errors="replace").strip() or f"HTTP {resp.status}"
            try:
                err = json.loads(data)
                code, message = err.get("Code", ""), err.get("Message", message)
            except ValueError:
                pass
            raise ServerError(resp.status, code, message)
        if decrypt and data:
            try:
                data = decrypt_data(self.secret_key, data)
            except Exception as exc:  # noqa: BLE001
                raise AdminCLIError(f"could not decrypt the server's answer: {exc}") from None
        if not data:
            return None
        if raw:
            return data.decode(errors="replace")
        try:
            return json.loads(data)
        except ValueError:
            return data.decode(errors="replace")


# ---- helpers ------------------------------------------------------------------------------


def new_secret() -> str:
    return secrets.token_urlsafe(30)[:40]


def parse_expiry(text: str, now: datetime | None = None) -> str:
    """``7d``, ``12h``, ``30m``, ``90s``, ``2w`` or an RFC 3339 time -> RFC 3339 (UTC)."""
    now = now or datetime.now(UTC)
    m = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text)
    if m:
        n, unit = int(m.group(1)), m.group(2)
        seconds = n * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
        if seconds <= 0:
            raise UsageError("--expiry must be in the future")
        return (now + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--expiry: expected a duration such as 7d, 12h, 30m or an RFC 3339 time, not {text!r}"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_json_file(path: str, what: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()  # noqa: SIM115
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{what} {path} is not valid JSON: {exc}") from None


def table(rows: list[list[str]], headers: list[str]) -> str:
    if not rows:
        return "(none)"
    cells = [headers] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def friendly(err: ServerError, *, user: str = "", group: str = "", policy: str = "", key: str = "") -> str:
    """A sentence for the common failures; the server's words otherwise."""
    code = err.code
    if code == "XMinioAdminNoSuchUser":
        return f"user {user} does not exist" if user else err.server_message
    if code == "XMinioAdminNoSuchGroup":
        return f"group {group} does not exist" if group else err.server_message
    if code == "XMinioAdminNoSuchPolicy":
        return f"policy {policy} does not exist" if policy else err.server_message
    if code == "XMinioInvalidIAMCredentials" and err.status == 404:
        return f"service account {key} does not exist" if key else err.server_message
    if code == "AccessDenied":
        return "access denied: these credentials may not perform this operation"
    if code == "InvalidAccessKeyId":
        return "the server does not know this access key (or it is disabled)"
    if code == "SignatureDoesNotMatch":
        return "the secret key is wrong for this access key"
    if code == "XMinioAdminPolicyChangeAlreadyApplied":
        return "nothing to change: the policies are already attached (or already detached)"
    if code == "XMinioAdminGroupNotEmpty":
        return f"group {group} is not empty: remove its members first"
    if code == "XMinioIAMPolicyInUse":
        return f"policy {policy} is attached to users or groups: detach it first ({err.server_message})"
    return f"{err.server_message} ({code})" if code else err.server_message


def _time_text(value: str | None) -> str:
    if not value or value.startswith(("0001-01-01", "1970-01-01")):
        return "-"
    return value


# ---- commands -----------------------------------------------------------------------------


class Commands:
    def __init__(self, client: AdminClient, as_json: bool, out: Any = None) -> None:
        self.c = client
        self.as_json = as_json
        self.out = out or sys.stdout

    def emit(self, data: Any, text: str) -> None:
        if self.as_json:
            print(json.dumps(data, indent=2, sort_keys=False), file=self.out)
        elif text:
            print(text, file=self.out)

    def call(self, *args: Any, about: dict[str, str] | None = None, **kw: Any) -> Any:
        """The client's call, a server error turned into a message that says what to do;
        ``about`` names the user / group / policy / key the message speaks of."""
        try:
            return self.c.call(*args, **kw)
        except ServerError as err:
            raise AdminCLIError(friendly(err, **(about or {}))) from None

    # -- users ------------------------------------------------------------------------------

    def user_add(self, name: str, secret: str | None) -> None:
        generated = secret is None
        secret = secret or new_secret()
        self.call(
            "PUT",
            "add-user",
            {"accessKey": name},
            {"secretKey": secret, "status": "enabled"},
            encrypt=True,
            about={"user": name},
        )
        data: dict[str, Any] = {"accessKey": name, "status": "enabled"}
        text = f"Added user {name}."
        if generated:
            data["secretKey"] = secret
            text += f"\nAccess key: {name}\nSecret key: {secret}\n(the secret key is shown only now)"
        self.emit(data, text)

    def user_remove(self, name: str) -> None:
        self.call("DELETE", "remove-user", {"accessKey": name}, about={"user": name})
        self.emit({"accessKey": name, "removed": True}, f"Removed user {name}.")

    def user_status(self, name: str, status: str) -> None:
        self.call("PUT", "set-user-status", {"accessKey": name, "status": status}, about={"user": name})
        self.emit({"accessKey": name, "status": status}, f"User {name} is {status}.")

    def user_info(self, name: str) -> None:
        info = self.call("GET", "user-info", {"accessKey": name}, about={"user": name})
        data = {"accessKey": name, **info}
        text = "\n".join(
            [
                f"Access key: {name}",
                f"Status:     {info.get('status', '')}",
                f"Policies:   {info.get('policyName') or '-'}",
                f"Groups:     {', '.join(info.get('memberOf') or []) or '-'}",
                f"Updated:    {_time_text(info.get('updatedAt'))}",
            ]
        )
        self.emit(data, text)

    def user_list(self) -> None:
        users = self.call("GET", "list-users", decrypt=True) or {}
        data = [{"accessKey": k, **v} for k, v in sorted(users.items())]
        rows = [
            [u["accessKey"], u.get("status", ""), u.get("policyName") or "-", ", ".join(u.get("memberOf") or []) or "-"]
            for u in data
        ]
        self.emit(data, table(rows, ["USER", "STATUS", "POLICIES", "GROUPS"]))

    # -- policies ---------------------------------------------------------------------------

    def policy_add(self, name: str, path: str) -> None:
        document = read_json_file(path, "policy file")
        self.call("PUT", "add-canned-policy", {"name": name}, json.dumps(document).encode(), about={"policy": name})
        self.emit({"policy": name, "added": True}, f"Added policy {name}.")

    def policy_remove(self, name: str) -> None:
        self.call("DELETE", "remove-canned-policy", {"name": name}, about={"policy": name})
        self.emit({"policy": name, "removed": True}, f"Removed policy {name}.")

    def policy_info(self, name: str) -> None:
        info = self.call("GET", "info-canned-policy", {"name": name, "v": "2"}, about={"policy": name})
        self.emit(info, json.dumps(info.get("Policy", info), indent=2))

    def policy_list(self) -> None:
        policies = self.call("GET", "list-canned-policies") or {}
        if self.as_json:
            self.emit(policies, "")
            return
        builtin = {"readonly", "readwrite", "writeonly", "diagnostics", "consoleAdmin"}
        rows = [
            [n, "built-in" if n in builtin else "custom", str(len(_statements(d)))] for n, d in sorted(policies.items())
        ]
        self.emit(policies, table(rows, ["POLICY", "KIND", "STATEMENTS"]))

    def policy_attach(self, policies: list[str], user: str | None, group: str | None, *, detach: bool) -> None:
        body: dict[str, Any] = {"policies": policies}
        body["user" if user else "group"] = user or group
        command = "idp/builtin/policy/detach" if detach else "idp/builtin/policy/attach"
        try:
            resp = self.c.call("POST", command, body=body, encrypt=True, decrypt=True) or {}
        except ServerError as err:
            missing = next(iter(policies)) if len(policies) == 1 else ", ".join(policies)
            raise AdminCLIError(friendly(err, user=user or "", group=group or "", policy=missing)) from None
        changed = resp.get("policiesDetached" if detach else "policiesAttached", [])
        who = f"user {user}" if user else f"group {group}"
        verb = "Detached" if detach else "Attached"
        self.emit(
            {**resp, "user" if user else "group": user or group},
            f"{verb} {', '.join(changed)} {'from' if detach else 'to'} {who}.",
        )

    # -- groups -----------------------------------------------------------------------------

    def group_add(self, group: str, members: list[str]) -> None:
        try:
            self.c.call("PUT", "update-group-members", body={"group": group, "members": members, "isRemove": False})
        except ServerError as err:
            raise AdminCLIError(friendly(err, user=_missing_user(err, members), group=group)) from None
        self.emit({"group": group, "added": members}, f"Added {', '.join(members) or 'no members'} to group {group}.")

    def group_remove(self, group: str, members: list[str]) -> None:
        try:
            self.c.call("PUT", "update-group-members", body={"group": group, "members": members, "isRemove": True})
        except ServerError as err:
            raise AdminCLIError(friendly(err, user=_missing_user(err, members), group=group)) from None
        if members:
            self.emit({"group": group, "removed": members}, f"Removed {', '.join(members)} from group {group}.")
        else:
            self.emit({"group": group, "removed": True}, f"Removed group {group}.")

    def group_info(self, group: str) -> None:
        info = self.call("GET", "group", {"group": group}, about={"group": group})
        text = "\n".join(
            [
                f"Group:    {info['name']}",
                f"Status:   {info['status']}",
                f"Policies: {info.get('policy') or '-'}",
                f"Members:  {', '.join(info.get('members') or []) or '-'}",
            ]
        )
        self.emit(info, text)

    def group_status(self, group: str, status: str) -> None:
        self.call("PUT", "set-group-status", {"group": group, "status": status}, about={"group": group})
        self.emit({"group": group, "status": status}, f"Group {group} is {status}.")

    def group_list(self) -> None:
        groups = self.call("GET", "groups") or []
        self.emit(groups, table([[g] for g in groups], ["GROUP"]))

    # -- service accounts -------------------------------------------------------------------

    def svcacct_add(
        self,
        user: str,
        *,
        name: str | None,
        description: str | None,
        policy: str | None,
        expiry: str | None,
        access_key: str | None,
        secret_key: str | None,
    ) -> None:
        if secret_key is not None and access_key is None:
            raise UsageError("--secret-key needs --access-key")
        if access_key is not None and secret_key is None:
            secret_key = new_secret()
        body: dict[str, Any] = {"targetUser": user}
        if access_key:
            body["accessKey"], body["secretKey"] = access_key, secret_key
        if name:
            body["name"] = name
        if description:
            body["description"] = description
        if policy:
            body["policy"] = read_json_file(policy, "policy file")
        if expiry:
            body["expiration"] = parse_expiry(expiry)
        resp = self.call("PUT", "add-service-account", body=body, encrypt=True, decrypt=True, about={"user": user})
        creds = resp["credentials"]
        data = {"accessKey": creds["accessKey"], "secretKey": creds["secretKey"], "parentUser": user}
        if expiry:
            data["expiration"] = creds.get("expiration")
        text = f"Added a service account for {user}.\nAccess key: {creds['accessKey']}\nSecret key: {creds['secretKey']}\n(the secret key is shown only now)"
        if expiry:
            text += f"\nExpires:    {creds.get('expiration')}"
        self.emit(data, text)

    def svcacct_list(self, user: str) -> None:
        resp = self.call("GET", "list-service-accounts", {"user": user}, decrypt=True, about={"user": user}) or {}
        accounts = resp.get("accounts") or []
        rows = [
            [
                a["accessKey"],
                _status_word(a.get("accountStatus", "")),
                a.get("name") or "-",
                "implied" if a.get("impliedPolicy") else "embedded",
                _time_text(a.get("expiration")),
            ]
            for a in accounts
        ]
        self.emit(accounts, table(rows, ["ACCESS KEY", "STATUS", "NAME", "POLICY", "EXPIRES"]))

    def _svc_info(self, key: str) -> dict[str, Any]:
        info = self.c.call("GET", "info-service-account", {"accessKey": key}, decrypt=True)
        return {"accessKey": key, "type": "service-account", **info}

    def svcacct_info(self, key: str) -> None:
        try:
            info = self._svc_info(key)
        except ServerError as err:
            raise AdminCLIError(friendly(err, key=key)) from None
        self.emit(info, _svc_text(info))

    def svcacct_status(self, key: str, status: str) -> None:
        self.call(
            "POST",
            "update-service-account",
            {"accessKey": key},
            {"newStatus": "on" if status == "enabled" else "off"},
            encrypt=True,
            about={"key": key},
        )
        self.emit({"accessKey": key, "status": status}, f"Service account {key} is {status}.")

    def svcacct_remove(self, key: str) -> None:
        self.call("DELETE", "delete-service-account", {"accessKey": key}, about={"key": key})
        self.emit({"accessKey": key, "removed": True}, f"Removed service account {key}.")

    # -- any access key ---------------------------------------------------------------------

    def _key_kind(self, key: str) -> tuple[str, dict[str, Any]]:
        """("service", info) or ("user", info) for any access key; an error if it is unknown."""
        try:
            return "service", self._svc_info(key)
        except ServerError as err:
            if err.status != 404:
                raise AdminCLIError(friendly(err, key=key)) from None
        try:
            return "user", self.c.call("GET", "user-info", {"accessKey": key})
        except ServerError as err:
            if err.status == 404:
                raise AdminCLIError(f"access key {key} does not exist") from None
            raise AdminCLIError(friendly(err, user=key)) from None

    def key_get(self, key: str) -> None:
        kind, info = self._key_kind(key)
        if kind == "service":
            self.emit(info, _svc_text(info))
            return
        data = {"accessKey": key, "type": "user", **info}
        self.emit(
            data,
            f"Access key: {key}\nType:       user\nStatus:     {info.get('status')}\nPolicies:   {info.get('policyName') or '-'}",
        )

    def key_status(self, key: str, status: str) -> None:
        kind, _info = self._key_kind(key)
        if kind == "service":
            self.svcacct_status(key, status)
        else:
            self.user_status(key, status)

    def key_delete(self, key: str) -> None:
        kind, _info = self._key_kind(key)
        if kind == "service":
            self.svcacct_remove(key)
        else:
            self.user_remove(key)

    def key_reset(self, key: str) -> None:
        kind, info = self._key_kind(key)
        secret = new_secret()
        try:
            if kind == "service":
                self.c.call(
                    "POST", "update-service-account", {"accessKey": key}, {"newSecretKey": secret}, encrypt=True
                )
            else:
                body = {"secretKey": secret, "status": info.get("status", "enabled")}
                self.c.call("PUT", "add-user", {"accessKey": key}, body, encrypt=True)
        except ServerError as err:
            raise AdminCLIError(friendly(err, user=key, key=key)) from None
        self.emit(
            {"accessKey": key, "secretKey": secret, "type": "service-account" if kind == "service" else "user"},
            f"New secret key for {key}: {secret}\n(the secret key is shown only now)",
        )

    # -- configuration: notification targets ------------------------------------------------

    def config_set(self, target: str, settings: list[str]) -> None:
        pairs = []
        for item in settings:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise UsageError(f"{item!r} is not KEY=VALUE (e.g. address=127.0.0.1:6379)")
            pairs.append(f"{key}={_kv_quote(value)}")
        if not pairs:
            raise UsageError("give at least one KEY=VALUE setting, e.g. address=127.0.0.1:6379 key=events")
        try:
            self.c.call("PUT", "set-config-kv", body=" ".join([target, *pairs]).encode(), encrypt=True)
        except ServerError as err:
            raise AdminCLIError(_config_failure(err, target)) from None
        arn = _target_arn(target, self.c.region_for_arns)
        self.emit(
            {"target": target, "set": True, "arn": arn},
            f"Set {target} (in effect now, on every node)." + (f"\nARN: {arn}" if arn else ""),
        )

    def config_get(self, target: str) -> None:
        try:
            text = self.c.call("GET", "get-config-kv", {"key": target, "subSys": ""}, decrypt=True, raw=True) or ""
        except ServerError as err:
            raise AdminCLIError(_config_failure(err, target)) from None
        if self.as_json:
            self.emit(_parse_listing(text), "")
        else:
            self.emit(None, text.rstrip("\n") or "(no notification targets configured)")

    def config_del(self, target: str) -> None:
        try:
            self.c.call("DELETE", "del-config-kv", body=target.encode(), encrypt=True)
        except ServerError as err:
            raise AdminCLIError(_config_failure(err, target)) from None
        self.emit({"target": target, "removed": True}, f"Removed {target}.")

    def config_help(self, subsystem: str, key: str) -> None:
        doc = self.call("GET", "help-config-kv", {"subSys": subsystem, "key": key})
        rows = [
            [k["key"], k["type"], "" if k["optional"] else "required", k["description"]]
            for k in doc.get("keysHelp", [])
        ]
        title = f"{doc['subSys']}: {doc['description']}" if doc.get("subSys") else "Sub-systems:"
        self.emit(doc, title + "\n" + table(rows, ["KEY", "TYPE", "", "DESCRIPTION"]))

    # -- server -----------------------------------------------------------------------------

    def info(self) -> None:
        info = self.call("GET", "info")
        servers = info.get("servers") or [{}]
        s = servers[0]
        text = "\n".join(
            [
                f"Endpoint:   {self.c.endpoint}",
                f"Status:     {s.get('state', info.get('mode', ''))}",
                f"Version:    {s.get('version', '')}",
                f"Uptime:     {_duration(int(s.get('uptime', 0)))}",
                f"Deployment: {info.get('deploymentID', '')}",
                f"Region:     {info.get('region', '') or '-'}",
                f"Buckets:    {info.get('buckets', {}).get('count', 0)}",
                f"Objects:    {info.get('objects', {}).get('count', 0)}",
                f"Versions:   {info.get('versions', {}).get('count', 0)}"
                f" (delete markers: {info.get('deletemarkers', {}).get('count', 0)})",
                f"Usage:      {info.get('usage', {}).get('size', 0)} bytes",
                "Targets:    " + ("\n" + " " * 12).join(info.get("sqsARN") or ["-"]),
            ]
        )
        self.emit(info, text)


def _kv_quote(value: str) -> str:
    """A value for config KV text: quoted when it holds spaces (the server strips quotes)."""
    if not any(c.isspace() for c in value):
        return value
    return f"'{value}'" if '"' in value else f'"{value}"'


def _config_failure(err: ServerError, target: str) -> str:
    if err.code == "XMinioConfigNotFoundError":
        return f"{target} is not configured"
    if err.code in ("XMinioConfigError", "XMinioAdminConfigBadJSON"):
        return err.server_message
    return friendly(err)


def _target_arn(target: str, region: str) -> str:
    """The ARN bucket rules use for ``notify_redis:1`` (empty if the name is not one)."""
    from workers.targets import config_class

    subsystem, _, target_id = target.partition(":")
    try:
        return f"arn:minio:sqs:{region}:{target_id or '_'}:{config_class(subsystem).TYPE}"
    except ValueError:
        return ""


def _parse_listing(text: str) -> list[dict[str, Any]]:
    """get-config-kv text → [{"target", "settings", "env"}] for --json."""
    from api.notify.config import _tokens

    out: list[dict[str, Any]] = []
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# "):
            name, _, value = line[2:].partition("=")
            env[name] = value
            continue
        tokens = _tokens(line)
        if not tokens:
            continue
        head = tokens[0] if ":" in tokens[0] else tokens[0] + ":_"
        settings = dict(t.partition("=")[::2] for t in tokens[1:])
        settings.setdefault("enable", "on")
        out.append({"target": head, "settings": settings, "env": env})
        env = {}
    return out


def _statements(doc: Any) -> list[Any]:
    stmts = doc.get("Statement", []) if isinstance(doc, dict) else []
    return stmts if isinstance(stmts, list) else [stmts]


def _status_word(value: str) -> str:
    return {"on": "enabled", "off": "disabled"}.get(value, value)


def _svc_text(info: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"Access key:  {info['accessKey']}",
            "Type:        service account",
            f"Parent user: {info.get('parentUser', '')}",
            f"Status:      {_status_word(info.get('accountStatus', ''))}",
            f"Name:        {info.get('name') or '-'}",
            f"Description: {info.get('description') or '-'}",
            f"Expires:     {_time_text(info.get('expiration'))}",
            f"Policy:      {'implied (the parent user' + chr(39) + 's)' if info.get('impliedPolicy') else 'embedded'}",
            info.get("policy", ""),
        ]
    )


def _duration(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if days or hours:
        parts.append(f"{hours}h")
    parts += [f"{minutes}m", f"{secs}s"] if not days else [f"{minutes}m"]
    return " ".join(parts)


def _missing_user(err: ServerError, members: list[str]) -> str:
    for m in members:
        if m in err.server_message:
            return m
    return members[0] if len(members) == 1 else ""


# ---- argument parsing ---------------------------------------------------------------------


def common_options(*, keys: bool = True) -> argparse.ArgumentParser:
    """Connection options, accepted before or after the subcommand."""
    p = argparse.ArgumentParser(add_help=False)
    S = argparse.SUPPRESS
    p.add_argument(
        "--endpoint", default=S, help=f"server URL (or CHRONICLE_ADMIN_ENDPOINT; default {DEFAULT_ENDPOINT})"
    )
    if keys:
        p.add_argument(
            "--access-key",
            dest="admin_access_key",
            metavar="KEY",
            default=S,
            help="access key to sign with (or CHRONICLE_ADMIN_ACCESS_KEY, else CHRONICLE_ROOT_USER)",
        )
        p.add_argument(
            "--secret-key",
            dest="admin_secret_key",
            metavar="SECRET",
            default=S,
            help="its secret key (or CHRONICLE_ADMIN_SECRET_KEY, else CHRONICLE_ROOT_PASSWORD)",
        )
    p.add_argument("--json", action="store_true", default=S, help="print JSON for scripts")
    p.add_argument("--insecure", action="store_true", default=S, help="do not verify the server's TLS certificate")
    return p


def add_admin_parser(sub: Any) -> None:
    """Add `chronicle admin ...` to the top-level subparsers."""
    common = common_options()
    admin = sub.add_parser(
        "admin",
        parents=[common],
        help="manage users, policies, groups, service accounts and keys of a running server",
        description="Manage a running Chronicle server through the MinIO admin API.",
    )
    admin.set_defaults(func=run, admin_action=None)
    areas = admin.add_subparsers(dest="admin_area", metavar="AREA")

    def leaf(parent: Any, name: str, action: str, help_text: str, *, keys: bool = True) -> argparse.ArgumentParser:
        p = parent.add_parser(name, parents=[common if keys else common_options(keys=False)], help=help_text)
        p.set_defaults(admin_action=action)
        return p

    user = areas.add_parser("user", help="users").add_subparsers(dest="admin_sub", metavar="COMMAND")
    p = leaf(user, "add", "user_add", "create a user (prints a generated secret when SECRET is omitted)")
    p.add_argument("name")
    p.add_argument("secret", nargs="?")
    for cmd, text in (
        ("remove", "delete a user"),
        ("enable", "enable a user"),
        ("disable", "disable a user"),
        ("info", "show a user"),
    ):
        leaf(user, cmd, f"user_{cmd}", text).add_argument("name")
    leaf(user, "list", "user_list", "list users")

    policy = areas.add_parser("policy", help="policies").add_subparsers(dest="admin_sub", metavar="COMMAND")
    p = leaf(policy, "add", "policy_add", "create or replace a policy from a JSON file ('-' = stdin)")
    p.add_argument("name")
    p.add_argument("file")
    leaf(policy, "remove", "policy_remove", "delete a policy").add_argument("name")
    leaf(policy, "info", "policy_info", "show a policy").add_argument("name")
    leaf(policy, "list", "policy_list", "list policies")
    for cmd, text in (
        ("attach", "attach policies to a user or group"),
        ("detach", "detach policies from a user or group"),
    ):
        p = leaf(policy, cmd, f"policy_{cmd}", text)
        p.add_argument("policies", nargs="+", metavar="POLICY")
        who = p.add_mutually_exclusive_group(required=True)
        who.add_argument("--user")
        who.add_argument("--group")

    group = areas.add_parser("group", help="groups").add_subparsers(dest="admin_sub", metavar="COMMAND")
    p = leaf(group, "add", "group_add", "add members to a group (creating it)")
    p.add_argument("group")
    p.add_argument("members", nargs="+", metavar="MEMBER")
    p = leaf(group, "remove", "group_remove", "remove members, or the (empty) group itself")
    p.add_argument("group")
    p.add_argument("members", nargs="*", metavar="MEMBER")
    for cmd, text in (("info", "show a group"), ("enable", "enable a group"), ("disable", "disable a group")):
        leaf(group, cmd, f"group_{cmd}", text).add_argument("group")
    leaf(group, "list", "group_list", "list groups")

    svc = areas.add_parser("svcacct", help="service accounts").add_subparsers(dest="admin_sub", metavar="COMMAND")
    # Its --access-key/--secret-key are the new account's: give the caller's before `svcacct`.
    p = leaf(svc, "add", "svcacct_add", "create a service account for USER (prints its secret once)", keys=False)
    p.add_argument("user")
    p.add_argument("--name")
    p.add_argument("--description")
    p.add_argument("--policy", metavar="FILE", help="embedded policy (JSON file) that narrows the parent's rights")
    p.add_argument("--expiry", help="e.g. 7d, 12h, 30m, or an RFC 3339 time")
    p.add_argument(
        "--access-key", dest="svc_access_key", metavar="KEY", help="the new account's access key (default: generated)"
    )
    p.add_argument(
        "--secret-key",
        dest="svc_secret_key",
        metavar="SECRET",
        help="the new account's secret key (default: generated)",
    )
    leaf(svc, "list", "svcacct_list", "list a user's service accounts").add_argument("user")
    for cmd, text in (
        ("info", "show a service account"),
        ("remove", "delete a service account"),
        ("enable", "enable a service account"),
        ("disable", "disable a service account"),
    ):
        leaf(svc, cmd, f"svcacct_{cmd}", text).add_argument("key")

    key = areas.add_parser("key", help="any access key (a user's or a service account's)").add_subparsers(
        dest="admin_sub", metavar="COMMAND"
    )
    for cmd, text in (
        ("get", "show an access key (never its secret)"),
        ("enable", "enable an access key"),
        ("disable", "disable an access key"),
        ("reset", "give an access key a new secret (printed once)"),
        ("delete", "delete an access key"),
    ):
        leaf(key, cmd, f"key_{cmd}", text).add_argument("key")

    config = areas.add_parser("config", help="notification targets (MinIO's config KV)").add_subparsers(
        dest="admin_sub", metavar="COMMAND"
    )
    p = leaf(
        config,
        "set",
        "config_set",
        "set a target's settings, e.g. notify_redis:1 address=127.0.0.1:6379 key=events format=namespace",
    )
    p.add_argument("target", metavar="TARGET", help="notify_<type>:<id>, e.g. notify_redis:1")
    p.add_argument("settings", nargs="+", metavar="KEY=VALUE")
    p = leaf(config, "get", "config_get", "show targets' settings (secrets are never shown)")
    p.add_argument(
        "target", nargs="?", default="", metavar="TARGET", help="notify_redis:1, notify_redis, or nothing for all"
    )
    leaf(config, "del", "config_del", "remove a target").add_argument("target", metavar="TARGET")
    p = leaf(config, "help", "config_help", "the keys a target type takes, with what they mean")
    p.add_argument(
        "subsystem",
        nargs="?",
        default="",
        metavar="SUBSYS",
        help="notify_redis, notify_postgres, ... (nothing lists them)",
    )
    p.add_argument("key", nargs="?", default="", metavar="KEY", help="one key only")

    leaf(areas, "info", "info", "server information (with the notification target ARNs)")
    __import__("cli.anonymous", fromlist=["register"]).register(areas)  # anonymous set|get (cli/anonymous.py)
    __import__("cli.targets", fromlist=["register"]).register(areas)  # targets, prometheus (cli/targets.py)


def admin_client(args: argparse.Namespace) -> AdminClient:
    settings: ChronicleSettings = args.settings
    endpoint = getattr(args, "endpoint", None) or settings.admin_endpoint
    access = getattr(args, "admin_access_key", None) or settings.admin_access_key or settings.root_user
    secret = getattr(args, "admin_secret_key", None) or settings.admin_secret_key or settings.root_password
    if not access or not secret:
        raise UsageError(
            "no credentials: pass --access-key and --secret-key, or set CHRONICLE_ADMIN_ACCESS_KEY and "
            "CHRONICLE_ADMIN_SECRET_KEY (or CHRONICLE_ROOT_USER and CHRONICLE_ROOT_PASSWORD)"
        )
    return AdminClient(
        endpoint,
        access,
        secret,
        insecure=bool(getattr(args, "insecure", False)),
        region=settings.client_region,
        region_for_arns=settings.region,
    )


def _dispatch(cmds: Commands, action: str, a: argparse.Namespace) -> None:
    if action == "user_add":
        cmds.user_add(a.name, a.secret)
    elif action == "user_remove":
        cmds.user_remove(a.name)
    elif action in ("user_enable", "user_disable"):
        cmds.user_status(a.name, action[5:] + "d")
    elif action == "user_info":
        cmds.user_info(a.name)
    elif action == "user_list":
        cmds.user_list()
    elif action == "policy_add":
        cmds.policy_add(a.name, a.file)
    elif action == "policy_remove":
        cmds.policy_remove(a.name)
    elif action == "policy_info":
        cmds.policy_info(a.name)
    elif action == "policy_list":
        cmds.policy_list()
    elif action in ("policy_attach", "policy_detach"):
        cmds.policy_attach(a.policies, a.user, a.group, detach=action == "policy_detach")
    elif action == "group_add":
        cmds.group_add(a.group, a.members)
    elif action == "group_remove":
        cmds.group_remove(a.group, a.members)
    elif action == "group_info":
        cmds.group_info(a.group)
    elif action in ("group_enable", "group_disable"):
        cmds.group_status(a.group, action[6:] + "d")
    elif action == "group_list":
        cmds.group_list()
    elif action == "svcacct_add":
        cmds.svcacct_add(
            a.user,
            name=a.name,
            description=a.description,
            policy=a.policy,
            expiry=a.expiry,
            access_key=a.svc_access_key,
            secret_key=a.svc_secret_key,
        )
    elif action == "svcacct_list":
        cmds.svcacct_list(a.user)
    elif action == "svcacct_info":
        cmds.svcacct_info(a.key)
    elif action == "svcacct_remove":
        cmds.svcacct_remove(a.key)
    elif action in ("svcacct_enable", "svcacct_disable"):
        cmds.svcacct_status(a.key, action[8:] + "d")
    elif action == "key_get":
        cmds.key_get(a.key)
    elif action in ("key_enable", "key_disable"):
        cmds.key_status(a.key, action[4:] + "d")
    elif action == "key_reset":
        cmds.key_reset(a.key)
    elif action == "key_delete":
        cmds.key_delete(a.key)
    elif action == "config_set":
        cmds.config_set(a.target, a.settings)
    elif action == "config_get":
        cmds.config_get(a.target)
    elif action == "config_del":
        cmds.config_del(a.target)
    elif action == "config_help":
        cmds.config_help(a.subsystem, a.key)
    elif action == "info":
        cmds.info()
    else:  # pragma: no cover - the parser only produces the actions above
        raise UsageError(f"unknown admin command {action}")


def run(args: argparse.Namespace) -> int:
    action = getattr(args, "admin_action", None)
    if not action:
        print(
            "usage: chronicle admin [--endpoint URL] [--access-key KEY --secret-key SECRET] [--json] [--insecure]\n"
            "                       {user,policy,group,svcacct,key,config,info} ...\n"
            "run `chronicle admin AREA --help` for the commands of an area",
            file=sys.stderr,
        )
        return 2
    try:
        cmds = Commands(admin_client(args), bool(getattr(args, "json", False)))
        _dispatch(cmds, action, args)
    except UsageError as exc:
        print(f"chronicle admin: {exc}", file=sys.stderr)
        return 2
    except AdminCLIError as exc:
        print(f"chronicle admin: {exc}", file=sys.stderr)
        return 1
    return 0

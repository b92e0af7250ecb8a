"""The commands of `chronicle admin` (users, policies, groups, service accounts, keys,
notification targets, server info), each one admin API call or a few, and their output."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cli.admin_client import AdminClient, AdminCLIError, ServerError, UsageError, admin_client
from cli.admin_format import (
    config_failure,
    duration,
    friendly,
    kv_quote,
    missing_user,
    new_secret,
    parse_expiry,
    parse_listing,
    read_json_file,
    statements,
    status_word,
    svc_text,
    table,
    target_arn,
    time_text,
)


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
                f"Updated:    {time_text(info.get('updatedAt'))}",
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
            [n, "built-in" if n in builtin else "custom", str(len(statements(d)))] for n, d in sorted(policies.items())
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
            raise AdminCLIError(friendly(err, user=missing_user(err, members), group=group)) from None
        self.emit({"group": group, "added": members}, f"Added {', '.join(members) or 'no members'} to group {group}.")

    def group_remove(self, group: str, members: list[str]) -> None:
        try:
            self.c.call("PUT", "update-group-members", body={"group": group, "members": members, "isRemove": True})
        except ServerError as err:
            raise AdminCLIError(friendly(err, user=missing_user(err, members), group=group)) from None
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
        text = (
            f"Added a service account for {user}.\nAccess key: {creds['accessKey']}\n"
            f"Secret key: {creds['secretKey']}\n(the secret key is shown only now)"
        )
        if expiry:
            text += f"\nExpires:    {creds.get('expiration')}"
        self.emit(data, text)

    def svcacct_list(self, user: str) -> None:
        resp = self.call("GET", "list-service-accounts", {"user": user}, decrypt=True, about={"user": user}) or {}
        accounts = resp.get("accounts") or []
        rows = [
            [
                a["accessKey"],
                status_word(a.get("accountStatus", "")),
                a.get("name") or "-",
                "implied" if a.get("impliedPolicy") else "embedded",
                time_text(a.get("expiration")),
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
        self.emit(info, svc_text(info))

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
            self.emit(info, svc_text(info))
            return
        data = {"accessKey": key, "type": "user", **info}
        self.emit(
            data,
            f"Access key: {key}\nType:       user\nStatus:     {info.get('status')}\n"
            f"Policies:   {info.get('policyName') or '-'}",
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
            pairs.append(f"{key}={kv_quote(value)}")
        if not pairs:
            raise UsageError("give at least one KEY=VALUE setting, e.g. address=127.0.0.1:6379 key=events")
        try:
            self.c.call("PUT", "set-config-kv", body=" ".join([target, *pairs]).encode(), encrypt=True)
        except ServerError as err:
            raise AdminCLIError(config_failure(err, target)) from None
        arn = target_arn(target, self.c.region_for_arns)
        self.emit(
            {"target": target, "set": True, "arn": arn},
            f"Set {target} (in effect now, on every node)." + (f"\nARN: {arn}" if arn else ""),
        )

    def config_get(self, target: str) -> None:
        try:
            text = self.c.call("GET", "get-config-kv", {"key": target, "subSys": ""}, decrypt=True, raw=True) or ""
        except ServerError as err:
            raise AdminCLIError(config_failure(err, target)) from None
        if self.as_json:
            self.emit(parse_listing(text), "")
        else:
            self.emit(None, text.rstrip("\n") or "(nothing configured)")

    def config_del(self, target: str) -> None:
        try:
            self.c.call("DELETE", "del-config-kv", body=target.encode(), encrypt=True)
        except ServerError as err:
            raise AdminCLIError(config_failure(err, target)) from None
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
                f"Uptime:     {duration(int(s.get('uptime', 0)))}",
                f"Deployment: {info.get('deploymentID', '')}",
                f"Region:     {info.get('region', '') or '-'}",
                f"Buckets:    {info.get('buckets', {}).get('count', 0)}",
                f"Objects:    {info.get('objects', {}).get('count', 0)}",
                f"Versions:   {info.get('versions', {}).get('count', 0)}"
                f" (delete markers: {info.get('deletemarkers', {}).get('count', 0)})",
                f"Usage:      {info.get('usage', {}).get('size', 0)} bytes",
                "Targets:    " + ("\n" + " " * 12).join(info.get("sqsARN") or ["-"]),
                "Chain key:  " + (info.get("chainPublicKey") or {}).get("pem", "- (not made yet)").strip(),
            ]
        )
        self.emit(info, text)


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

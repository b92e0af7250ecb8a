"""`chronicle admin ...`: manage users, policies, groups, service accounts, access keys and
notification targets and audit webhooks (`config set|get|del`) of a running server through the MinIO admin API
(SigV4-signed, madmin-encrypted bodies).

Human-readable tables by default, ``--json`` for scripts. Exit codes: 0 success, 1 the server
refused or could not be reached, 2 bad usage.
"""

from __future__ import annotations

import argparse
from typing import Any

from cli import anonymous, bucket_quota, bucket_retention, targets
from cli.admin_client import common_options
from cli.admin_commands import run


class AdminParser:
    """Builds `chronicle admin AREA COMMAND`: each command a leaf naming its action."""

    def __init__(self, areas: Any, common: argparse.ArgumentParser) -> None:
        self.areas = areas
        self.common = common

    def leaf(
        self, parent: Any, name: str, action: str, help_text: str, *, keys: bool = True
    ) -> argparse.ArgumentParser:
        p = parent.add_parser(name, parents=[self.common if keys else common_options(keys=False)], help=help_text)
        p.set_defaults(admin_action=action)
        return p

    def area(self, name: str, help_text: str) -> Any:
        return self.areas.add_parser(name, help=help_text).add_subparsers(dest="admin_sub", metavar="COMMAND")

    def users(self) -> None:
        user = self.area("user", "users")
        p = self.leaf(user, "add", "user_add", "create a user (prints a generated secret when SECRET is omitted)")
        p.add_argument("name")
        p.add_argument("secret", nargs="?")
        for cmd, text in (
            ("remove", "delete a user"),
            ("enable", "enable a user"),
            ("disable", "disable a user"),
            ("info", "show a user"),
        ):
            self.leaf(user, cmd, f"user_{cmd}", text).add_argument("name")
        self.leaf(user, "list", "user_list", "list users")

    def policies(self) -> None:
        policy = self.area("policy", "policies")
        p = self.leaf(policy, "add", "policy_add", "create or replace a policy from a JSON file ('-' = stdin)")
        p.add_argument("name")
        p.add_argument("file")
        self.leaf(policy, "remove", "policy_remove", "delete a policy").add_argument("name")
        self.leaf(policy, "info", "policy_info", "show a policy").add_argument("name")
        self.leaf(policy, "list", "policy_list", "list policies")
        for cmd, text in (
            ("attach", "attach policies to a user or group"),
            ("detach", "detach policies from a user or group"),
        ):
            p = self.leaf(policy, cmd, f"policy_{cmd}", text)
            p.add_argument("policies", nargs="+", metavar="POLICY")
            who = p.add_mutually_exclusive_group(required=True)
            who.add_argument("--user")
            who.add_argument("--group")

    def groups(self) -> None:
        group = self.area("group", "groups")
        p = self.leaf(group, "add", "group_add", "add members to a group (creating it)")
        p.add_argument("group")
        p.add_argument("members", nargs="+", metavar="MEMBER")
        p = self.leaf(group, "remove", "group_remove", "remove members, or the (empty) group itself")
        p.add_argument("group")
        p.add_argument("members", nargs="*", metavar="MEMBER")
        for cmd, text in (("info", "show a group"), ("enable", "enable a group"), ("disable", "disable a group")):
            self.leaf(group, cmd, f"group_{cmd}", text).add_argument("group")
        self.leaf(group, "list", "group_list", "list groups")

    def service_accounts(self) -> None:
        svc = self.area("svcacct", "service accounts")
        # Its --access-key/--secret-key are the new account's: give the caller's before `svcacct`.
        p = self.leaf(
            svc, "add", "svcacct_add", "create a service account for USER (prints its secret once)", keys=False
        )
        p.add_argument("user")
        p.add_argument("--name")
        p.add_argument("--description")
        p.add_argument("--policy", metavar="FILE", help="embedded policy (JSON file) that narrows the parent's rights")
        p.add_argument("--expiry", help="e.g. 7d, 12h, 30m, or an RFC 3339 time")
        p.add_argument(
            "--access-key",
            dest="svc_access_key",
            metavar="KEY",
            help="the new account's access key (default: generated)",
        )
        p.add_argument(
            "--secret-key",
            dest="svc_secret_key",
            metavar="SECRET",
            help="the new account's secret key (default: generated)",
        )
        self.leaf(svc, "list", "svcacct_list", "list a user's service accounts").add_argument("user")
        for cmd, text in (
            ("info", "show a service account"),
            ("remove", "delete a service account"),
            ("enable", "enable a service account"),
            ("disable", "disable a service account"),
        ):
            self.leaf(svc, cmd, f"svcacct_{cmd}", text).add_argument("key")

    def keys(self) -> None:
        key = self.area("key", "any access key (a user's or a service account's)")
        for cmd, text in (
            ("get", "show an access key (never its secret)"),
            ("enable", "enable an access key"),
            ("disable", "disable an access key"),
            ("reset", "give an access key a new secret (printed once)"),
            ("delete", "delete an access key"),
        ):
            self.leaf(key, cmd, f"key_{cmd}", text).add_argument("key")

    def config(self) -> None:
        config = self.area("config", "notification targets and audit webhooks (MinIO's config KV)")
        p = self.leaf(
            config,
            "set",
            "config_set",
            "set a target's settings, e.g. notify_redis:1 address=127.0.0.1:6379 key=events format=namespace",
        )
        p.add_argument("target", metavar="TARGET", help="notify_<type>:<id> or audit_webhook:<id>, e.g. notify_redis:1")
        p.add_argument("settings", nargs="+", metavar="KEY=VALUE")
        p = self.leaf(config, "get", "config_get", "show targets' settings (secrets are never shown)")
        p.add_argument(
            "target", nargs="?", default="", metavar="TARGET", help="notify_redis:1, notify_redis, or nothing for all"
        )
        self.leaf(config, "del", "config_del", "remove a target").add_argument("target", metavar="TARGET")
        p = self.leaf(config, "help", "config_help", "the keys a target type takes, with what they mean")
        p.add_argument(
            "subsystem",
            nargs="?",
            default="",
            metavar="SUBSYS",
            help="notify_redis, notify_postgres, ..., audit_webhook (nothing lists them)",
        )
        p.add_argument("key", nargs="?", default="", metavar="KEY", help="one key only")


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
    parser = AdminParser(areas, common)
    for add_area in (parser.users, parser.policies, parser.groups, parser.service_accounts, parser.keys, parser.config):
        add_area()
    parser.leaf(areas, "info", "info", "server information (with the notification target ARNs)")
    anonymous.register(areas)  # anonymous set|get (cli/anonymous.py)
    targets.register(areas)  # targets, prometheus (cli/targets.py)
    bucket_settings = bucket_retention.register(areas)  # bucket retention set|get|clear (cli/bucket_retention.py)
    bucket_quota.register(bucket_settings)  # bucket quota set|get|clear (cli/bucket_quota.py)

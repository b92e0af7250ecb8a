"""Every MinIO admin API command Chronicle serves, one row each: its endpoint (method, path
and wire shapes, from api.admin.endpoints), its handler and the admin action(s) that allow
it. The admin router dispatches by this table alone; a handler authorizes with its row
(AdminCall.authorize), and skips that only where MinIO lets a caller act on itself."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from api.admin import (
    audit,
    bucket_retention,
    config_kv,
    groups,
    policies,
    quota,
    server,
    service_accounts,
    targets,
    users,
)
from api.admin.endpoints import ENDPOINTS, Endpoint

if TYPE_CHECKING:
    from api.admin.call import AdminCall
    from api.response import Response


@dataclass(frozen=True)
class AdminOperation:
    """`actions`: the admin actions that allow the command, any one of them (MinIO's newer
    action first, then the one older policies name)."""

    endpoint: Endpoint
    handler: Callable[[AdminCall], Awaitable[Response]]
    actions: tuple[str, ...]

    @property
    def command(self) -> str:
        return self.endpoint.command

    @property
    def method(self) -> str:
        return self.endpoint.method


def _op(command: str, handler: Callable[[AdminCall], Awaitable[Response]], *actions: str) -> AdminOperation:
    return AdminOperation(ENDPOINTS[command], handler, actions)


_ROWS: tuple[AdminOperation, ...] = (
    _op("chronicle/targets", targets.list_targets, "admin:ServerInfo"),
    _op("chronicle/audit", audit.audit_query, "admin:ServerTrace"),
    # How long a bucket's past stays readable is server configuration refined per bucket: the
    # right to change the server's configuration (MinIO has no action of its own for it).
    _op("chronicle/set-bucket-retention", bucket_retention.set_retention, "admin:ConfigUpdate"),
    _op("chronicle/get-bucket-retention", bucket_retention.get_retention, "admin:ConfigUpdate"),
    _op("chronicle/clear-bucket-retention", bucket_retention.clear_retention, "admin:ConfigUpdate"),
    _op("add-user", users.add_user, "admin:CreateUser"),
    _op("remove-user", users.remove_user, "admin:DeleteUser"),
    _op("list-users", users.list_users, "admin:ListUsers"),
    _op("user-info", users.user_info, "admin:GetUser"),
    _op("set-user-status", users.set_user_status, "admin:EnableUser"),
    _op("add-canned-policy", policies.add_canned_policy, "admin:CreatePolicy"),
    _op("remove-canned-policy", policies.remove_canned_policy, "admin:DeletePolicy"),
    _op("list-canned-policies", policies.list_canned_policies, "admin:ListUserPolicies"),
    _op("info-canned-policy", policies.info_canned_policy, "admin:GetPolicy"),
    _op("set-user-or-group-policy", policies.set_user_or_group_policy, "admin:AttachUserOrGroupPolicy"),
    _op(
        "idp/builtin/policy/attach",
        policies.attach_policy,
        "admin:UpdatePolicyAssociation",
        "admin:AttachUserOrGroupPolicy",
    ),
    _op(
        "idp/builtin/policy/detach",
        policies.detach_policy,
        "admin:UpdatePolicyAssociation",
        "admin:AttachUserOrGroupPolicy",
    ),
    _op("update-group-members", groups.update_group_members, "admin:AddUserToGroup"),
    _op("groups", groups.list_groups, "admin:ListGroups"),
    _op("group", groups.group_info, "admin:GetGroup"),
    _op("set-group-status", groups.set_group_status, "admin:EnableGroup"),
    _op("add-service-account", service_accounts.add_service_account, "admin:CreateServiceAccount"),
    _op("update-service-account", service_accounts.update_service_account, "admin:UpdateServiceAccount"),
    _op("delete-service-account", service_accounts.delete_service_account, "admin:RemoveServiceAccount"),
    _op("list-service-accounts", service_accounts.list_service_accounts, "admin:ListServiceAccounts"),
    _op("info-service-account", service_accounts.info_service_account, "admin:ListServiceAccounts"),
    _op("set-config-kv", config_kv.set_config_kv, "admin:ConfigUpdate"),
    _op("get-config-kv", config_kv.get_config_kv, "admin:ConfigUpdate"),
    _op("del-config-kv", config_kv.del_config_kv, "admin:ConfigUpdate"),
    _op("help-config-kv", config_kv.help_config_kv, "admin:ConfigUpdate"),
    _op("info", server.server_info, "admin:ServerInfo"),
    _op("set-bucket-quota", quota.set_bucket_quota, "admin:SetBucketQuota"),
    _op("get-bucket-quota", quota.get_bucket_quota, "admin:GetBucketQuota"),
)

ADMIN_OPERATIONS: dict[str, AdminOperation] = {row.command: row for row in _ROWS}

"""Every action of the STS and IAM query APIs, one row each: the service it belongs to, its
handler and the IAM action authorization asks for. The S3 operation table
(api.s3.operations) hands every query-API request here (its "QueryAPI" row); the entry
(api.iam.query_api) picks the row by (service, Action) and the handler authorizes with the
row's action (api.iam.call.Call.authorize)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from api.iam import api as users
from api.iam import groups, inline_policies, managed, oidc, roles, sts

if TYPE_CHECKING:
    from api.iam.call import Call
    from api.response import Response


@dataclass(frozen=True)
class QueryOperation:
    """One query-API action: `name` is its Action= value, `action` the IAM action a caller's
    policies must allow (STS's are decided by the handler: trust policies, chaining)."""

    service: str
    name: str
    handler: Callable[[Call], Awaitable[Response]]
    action: str


def _sts(name: str, handler: Callable[[Call], Awaitable[Response]]) -> QueryOperation:
    return QueryOperation("sts", name, handler, f"sts:{name}")


def _iam(name: str, handler: Callable[[Call], Awaitable[Response]]) -> QueryOperation:
    return QueryOperation("iam", name, handler, f"iam:{name}")


_ROWS: tuple[QueryOperation, ...] = (
    _sts("AssumeRole", sts.assume_role),
    _sts("GetSessionToken", sts.get_session_token),
    _sts("GetCallerIdentity", sts.get_caller_identity),
    _iam("CreateUser", users.create_user),
    _iam("GetUser", users.get_user),
    _iam("ListUsers", users.list_users),
    _iam("UpdateUser", users.update_user),
    _iam("DeleteUser", users.delete_user),
    _iam("CreateAccessKey", users.create_access_key),
    _iam("ListAccessKeys", users.list_access_keys),
    _iam("UpdateAccessKey", users.update_access_key),
    _iam("DeleteAccessKey", users.delete_access_key),
    _iam("PutUserPolicy", inline_policies.put_handler("user")),
    _iam("GetUserPolicy", inline_policies.get_handler("user")),
    _iam("ListUserPolicies", inline_policies.list_handler("user")),
    _iam("DeleteUserPolicy", inline_policies.delete_handler("user")),
    _iam("GetAccountSummary", users.get_account_summary),
    _iam("CreateRole", roles.create_role),
    _iam("GetRole", roles.get_role),
    _iam("ListRoles", roles.list_roles),
    _iam("UpdateRole", roles.update_role),
    _iam("DeleteRole", roles.delete_role),
    _iam("PutRolePolicy", inline_policies.put_handler("role")),
    _iam("GetRolePolicy", inline_policies.get_handler("role")),
    _iam("ListRolePolicies", inline_policies.list_handler("role")),
    _iam("DeleteRolePolicy", inline_policies.delete_handler("role")),
    _iam("CreateGroup", groups.create_group),
    _iam("GetGroup", groups.get_group),
    _iam("ListGroups", groups.list_groups),
    _iam("ListGroupsForUser", groups.list_groups_for_user),
    _iam("UpdateGroup", groups.update_group),
    _iam("DeleteGroup", groups.delete_group),
    _iam("AddUserToGroup", groups.add_user_to_group),
    _iam("RemoveUserFromGroup", groups.remove_user_from_group),
    _iam("PutGroupPolicy", inline_policies.put_handler("group")),
    _iam("GetGroupPolicy", inline_policies.get_handler("group")),
    _iam("ListGroupPolicies", inline_policies.list_handler("group")),
    _iam("DeleteGroupPolicy", inline_policies.delete_handler("group")),
    _iam("AttachUserPolicy", managed.attach_handler("user", detach=False)),
    _iam("DetachUserPolicy", managed.attach_handler("user", detach=True)),
    _iam("ListAttachedUserPolicies", managed.list_handler("user")),
    _iam("AttachGroupPolicy", managed.attach_handler("group", detach=False)),
    _iam("DetachGroupPolicy", managed.attach_handler("group", detach=True)),
    _iam("ListAttachedGroupPolicies", managed.list_handler("group")),
    _iam("AttachRolePolicy", managed.attach_handler("role", detach=False)),
    _iam("DetachRolePolicy", managed.attach_handler("role", detach=True)),
    _iam("ListAttachedRolePolicies", managed.list_handler("role")),
    _iam("CreateOpenIDConnectProvider", oidc.create_provider),
    _iam("GetOpenIDConnectProvider", oidc.get_provider),
    _iam("ListOpenIDConnectProviders", oidc.list_providers),
    _iam("DeleteOpenIDConnectProvider", oidc.delete_provider),
    _iam("AddClientIDToOpenIDConnectProvider", oidc.add_client_id),
    _iam("RemoveClientIDFromOpenIDConnectProvider", oidc.remove_client_id),
    _iam("UpdateOpenIDConnectProviderThumbprint", oidc.update_thumbprints),
)

QUERY_OPERATIONS: dict[tuple[str, str], QueryOperation] = {(row.service, row.name): row for row in _ROWS}

"""Admin API bodies: canned policies and their attachment (madmin-go policy-commands.go)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, NotRequired, TypedDict

from api.admin.shapes.common import go_time, json_object, opt_str, split_policy_names


class PolicyInfo(TypedDict):
    """madmin ``PolicyInfo`` (info-canned-policy with ``v=2``).

    Go field names as keys (no json tags): ``PolicyName``, ``Policy`` (the
    document, inline), ``CreateDate``/``UpdateDate`` — both dropped when both are zero.
    """

    PolicyName: str
    Policy: Any
    CreateDate: NotRequired[str]
    UpdateDate: NotRequired[str]


def policy_info(
    name: str,
    document: Mapping[str, Any],
    *,
    created: datetime | None = None,
    updated: datetime | None = None,
) -> PolicyInfo:
    info: dict[str, Any] = {"PolicyName": name, "Policy": dict(document)}
    if created is not None or updated is not None:
        info["CreateDate"] = go_time(created)
        info["UpdateDate"] = go_time(updated)
    return info  # type: ignore[return-value]


def info_canned_policy_response(
    name: str,
    document: Mapping[str, Any],
    *,
    version: str | None,
    created: datetime | None = None,
    updated: datetime | None = None,
) -> Any:
    """The raw document without ``v`` (minio-py's policy_info), PolicyInfo with ``v=2`` (mc)."""
    if version == "2":
        return policy_info(name, document, created=created, updated=updated)
    return dict(document)


def list_canned_policies_response(policies: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """list-canned-policies body: ``{name: policy document}`` (madmin: map[string]json.RawMessage)."""
    return {name: dict(doc) for name, doc in policies.items()}


class PolicyAssociationReq(TypedDict):
    """madmin ``PolicyAssociationReq``: idp/builtin/policy/attach|detach body (encrypted).

    JSON: ``policies``, ``user`` (omitempty), ``group`` (omitempty), ``configName`` (LDAP only).
    madmin's ``IsValid``: at least one non-empty policy name; exactly one of user/group.
    """

    policies: list[str]
    user: NotRequired[str]
    group: NotRequired[str]


def parse_policy_association_request(body: bytes | str | Mapping[str, Any]) -> PolicyAssociationReq:
    obj = json_object(body)
    raw = obj.get("policies")
    if not isinstance(raw, list) or not raw:
        raise ValueError("no policy names were given")
    if any(not isinstance(p, str) or p == "" for p in raw):
        raise ValueError("an empty policy name was given")
    user, group = opt_str(obj, "user"), opt_str(obj, "group")
    if not user and not group:
        raise ValueError("no user or group association was given")
    if user and group:
        raise ValueError("either a group or a user can be given, not both")
    result: PolicyAssociationReq = {"policies": split_policy_names(raw)}
    if user:
        result["user"] = user
    else:
        result["group"] = group
    return result


class PolicyAssociationResp(TypedDict):
    """madmin ``PolicyAssociationResp`` (encrypted attach/detach response).

    JSON: ``policiesAttached`` (omitempty), ``policiesDetached`` (omitempty), ``updatedAt``.
    """

    policiesAttached: NotRequired[list[str]]
    policiesDetached: NotRequired[list[str]]
    updatedAt: str


def policy_association_response(
    *, attached: Iterable[str] = (), detached: Iterable[str] = (), updated_at: datetime | None
) -> PolicyAssociationResp:
    resp: dict[str, Any] = {}
    attached, detached = list(attached), list(detached)
    if attached:
        resp["policiesAttached"] = attached
    if detached:
        resp["policiesDetached"] = detached
    resp["updatedAt"] = go_time(updated_at)
    return resp  # type: ignore[return-value]


class PolicyEntitiesResult(TypedDict):
    """madmin ``PolicyEntitiesResult`` (idp/builtin/policy-entities, encrypted)."""

    timestamp: str
    userMappings: NotRequired[list[dict[str, Any]]]  # {user, policies, memberOfMappings?}
    groupMappings: NotRequired[list[dict[str, Any]]]  # {group, policies}
    policyMappings: NotRequired[list[dict[str, Any]]]  # {policy, users, groups}

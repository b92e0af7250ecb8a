"""Admin API bodies: users (madmin-go user-commands.go)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, NotRequired, TypedDict

from api.admin.shapes.common import STATUS_ENABLED, STATUSES, Status, go_time, json_object, opt_str


class AddOrUpdateUserReq(TypedDict):
    """madmin ``AddOrUpdateUserReq``: add-user body (encrypted).

    JSON: ``secretKey`` (omitempty), ``policy`` (omitempty), ``status``.
    """

    secretKey: str
    policy: NotRequired[str]
    status: Status


def parse_add_user_request(body: bytes | str | Mapping[str, Any]) -> AddOrUpdateUserReq:
    """Decrypted add-user body → normalised request; status defaults to enabled."""
    obj = json_object(body)
    secret = opt_str(obj, "secretKey")
    status = opt_str(obj, "status") or STATUS_ENABLED
    if status not in STATUSES:
        raise ValueError("status must be enabled or disabled")
    result: AddOrUpdateUserReq = {"secretKey": secret, "status": status}  # type: ignore[typeddict-item]
    policy = opt_str(obj, "policy")
    if policy:
        result["policy"] = policy
    return result


class UserInfo(TypedDict):
    """madmin ``UserInfo`` (user-info response, list-users values).

    JSON: ``userAuthInfo`` (omitempty; {"type":"builtin"}), ``secretKey``
    (omitempty — never sent by Chronicle), ``policyName`` (omitempty, comma-joined),
    ``status``, ``memberOf`` (omitempty), ``updatedAt`` (always present).
    """

    policyName: NotRequired[str]
    status: Status
    memberOf: NotRequired[list[str]]
    updatedAt: str


def user_info(
    *,
    status: str,
    policies: Iterable[str] = (),
    member_of: Iterable[str] = (),
    updated_at: datetime | None = None,
) -> UserInfo:
    """UserInfo for one user (the same dict goes into list-users)."""
    if status not in STATUSES:
        raise ValueError("status must be enabled or disabled")
    info: dict[str, Any] = {}
    names = ",".join(policies)
    if names:
        info["policyName"] = names
    info["status"] = status
    groups = list(member_of)
    if groups:
        info["memberOf"] = groups
    info["updatedAt"] = go_time(updated_at)
    return info  # type: ignore[return-value]


def list_users_response(users: Mapping[str, UserInfo]) -> dict[str, UserInfo]:
    """list-users body before encryption: ``{accessKey: UserInfo}`` (root not included)."""
    return dict(users)

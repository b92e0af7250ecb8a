"""Admin API bodies: groups (madmin-go group-commands.go)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, TypedDict

from api.admin.shapes.common import STATUSES, Status, go_time, json_object, opt_str


class GroupAddRemove(TypedDict):
    """madmin ``GroupAddRemove``: update-group-members body (plain JSON, not encrypted).

    JSON: ``group``, ``members`` ([]string), ``groupStatus`` (note: not
    "status"), ``isRemove``. minio-py's group_add/group_remove send no
    groupStatus and pass ``members`` through as given (a list, or a string).
    """

    group: str
    members: list[str]
    groupStatus: str
    isRemove: bool


def parse_group_add_remove(body: bytes | str | Mapping[str, Any]) -> GroupAddRemove:
    """Normalise: ``members`` may be missing/null (→ []), a list, or a comma-separated string."""
    obj = json_object(body)
    group = opt_str(obj, "group")
    if not group:
        raise ValueError("group name is required")
    raw = obj.get("members")
    if raw is None:
        members: list[str] = []
    elif isinstance(raw, str):
        members = [m.strip() for m in raw.split(",") if m.strip()]
    elif isinstance(raw, list) and all(isinstance(m, str) for m in raw):
        members = [m for m in raw if m]
    else:
        raise ValueError("members must be a list of strings")
    status = opt_str(obj, "groupStatus")
    if status and status not in STATUSES:
        raise ValueError("groupStatus must be enabled or disabled")
    is_remove = obj.get("isRemove", False)
    if not isinstance(is_remove, bool):
        raise ValueError("isRemove must be a boolean")
    return {"group": group, "members": members, "groupStatus": status, "isRemove": is_remove}


class GroupDesc(TypedDict):
    """madmin ``GroupDesc`` (group?group= response, plain JSON).

    JSON: ``name``, ``status``, ``members``, ``policy`` (comma-joined names), ``updatedAt``.
    """

    name: str
    status: Status
    members: list[str]
    policy: str
    updatedAt: str


def group_desc(
    name: str,
    *,
    status: str,
    members: Iterable[str],
    policies: Iterable[str] = (),
    updated_at: datetime | None = None,
) -> GroupDesc:
    if status not in STATUSES:
        raise ValueError("status must be enabled or disabled")
    return {
        "name": name,
        "status": status,  # type: ignore[typeddict-item]
        "members": list(members),
        "policy": ",".join(policies),
        "updatedAt": go_time(updated_at),
    }


def list_groups_response(names: Iterable[str]) -> list[str]:
    """groups body: a JSON array of names (``[]`` when there are none, never null)."""
    return list(names)

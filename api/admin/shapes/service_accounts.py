"""Admin API bodies: service accounts (madmin-go user-commands.go)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, NotRequired, TypedDict

from api.admin.shapes.common import (
    STATUS_DISABLED,
    STATUS_ENABLED,
    STATUSES,
    TIME_SENTINEL,
    go_time,
    json_object,
    opt_str,
    parse_go_time,
    policy_document,
)


class AddServiceAccountReq(TypedDict, total=False):
    """madmin ``AddServiceAccountReq``: add-service-account body (encrypted).

    JSON (all omitempty): ``policy`` (inline policy object), ``targetUser``,
    ``accessKey``, ``secretKey``, ``name``, ``description``, ``expiration``
    (RFC 3339), ``configName``. minio-py also sends ``status``
    ("enabled" by default) and sends ``accessKey``/``secretKey`` as null when
    the server should generate them.
    """

    policy: dict[str, Any] | None
    targetUser: str
    accessKey: str
    secretKey: str
    name: str
    description: str
    expiration: datetime | None
    status: str


def parse_add_service_account_request(
    body: bytes | str | Mapping[str, Any],
) -> AddServiceAccountReq:
    """Normalised request: strings default to "", policy/expiration to None, status to enabled.

    Applies madmin's client-side validation too (name ≤ 32 chars, starts with a
    letter, then letters/digits/_/-; description ≤ 256 bytes).
    """
    obj = json_object(body)
    req: AddServiceAccountReq = {
        "policy": policy_document(obj.get("policy"), "policy"),
        "targetUser": opt_str(obj, "targetUser"),
        "accessKey": opt_str(obj, "accessKey"),
        "secretKey": opt_str(obj, "secretKey"),
        "name": opt_str(obj, "name"),
        "description": opt_str(obj, "description"),
        "expiration": expiration(obj.get("expiration"), "expiration"),
        "status": opt_str(obj, "status") or STATUS_ENABLED,
    }
    if req["status"] not in STATUSES:
        raise ValueError("status must be enabled or disabled")
    validate_name_description(req["name"], req["description"])
    return req


def expiration(value: Any, key: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} must be an RFC 3339 time")
    parsed = parse_go_time(value)
    if parsed is None or parsed == TIME_SENTINEL:
        return None
    return parsed


def validate_name_description(name: str, description: str) -> None:
    if name:
        if len(name) > 32:
            raise ValueError("name must not be longer than 32 characters")
        if not (name[0].isascii() and name[0].isalpha()) or not all(
            c.isascii() and (c.isalnum() or c in "_-") for c in name
        ):
            raise ValueError(
                "name must contain only ASCII letters, digits, underscores and hyphens and must start with a letter"
            )
    if len(description.encode()) > 256:
        raise ValueError("description must be at most 256 bytes long")


class UpdateServiceAccountReq(TypedDict, total=False):
    """madmin ``UpdateServiceAccountReq``: update-service-account body (encrypted).

    JSON (all omitempty): ``newPolicy`` (inline object; ``{}`` or a policy with
    no statements resets to the implied policy), ``newSecretKey``,
    ``newStatus``, ``newName``, ``newDescription``, ``newExpiration``. A key
    that is absent means "unchanged"; the parser leaves it out.
    """

    newPolicy: dict[str, Any] | None
    newSecretKey: str
    newStatus: str
    newName: str
    newDescription: str
    newExpiration: datetime | None


def parse_update_service_account_request(
    body: bytes | str | Mapping[str, Any],
) -> UpdateServiceAccountReq:
    obj = json_object(body)
    req: UpdateServiceAccountReq = {}
    if "newPolicy" in obj and obj["newPolicy"] is not None:
        # Present but empty ({} or no Statement) → None: drop the embedded policy.
        doc = policy_document(obj["newPolicy"], "newPolicy")
        req["newPolicy"] = doc if doc and doc.get("Statement") else None
    for key in ("newSecretKey", "newStatus", "newName", "newDescription"):
        value = opt_str(obj, key)
        if value:
            req[key] = value  # type: ignore[literal-required]
    if req.get("newStatus") and req["newStatus"] not in ("on", "off", *STATUSES):
        raise ValueError("newStatus must be enabled or disabled")
    if obj.get("newExpiration"):
        req["newExpiration"] = expiration(obj["newExpiration"], "newExpiration")
    validate_name_description(req.get("newName", ""), req.get("newDescription", ""))
    return req


class Credentials(TypedDict):
    """madmin ``Credentials`` (JSON, all omitempty but ``expiration`` is a struct → always present)."""

    accessKey: str
    secretKey: str
    sessionToken: NotRequired[str]
    expiration: str


def add_service_account_response(
    access_key: str, secret_key: str, *, expiration: datetime | None = None
) -> dict[str, Credentials]:
    """madmin ``AddServiceAccountResp``: ``{"credentials": Credentials}`` (encrypted).

    mc reads ``credentials.accessKey``/``secretKey``; minio-py returns the text.
    """
    creds: dict[str, Any] = {"accessKey": access_key, "secretKey": secret_key}
    creds["expiration"] = go_time(expiration)
    return {"credentials": creds}  # type: ignore[dict-item]


class ServiceAccountInfo(TypedDict):
    """madmin ``ServiceAccountInfo`` (list-service-accounts items).

    JSON: ``parentUser``, ``accountStatus`` (MinIO sends its stored "on"/"off";
    mc prints it verbatim), ``impliedPolicy``,
    ``accessKey``, ``name``/``description`` (omitempty), ``expiration`` (pointer,
    MinIO always sets it; the no-expiry sentinel is 1970-01-01T00:00:00Z).
    """

    parentUser: str
    accountStatus: str
    impliedPolicy: bool
    accessKey: str
    name: NotRequired[str]
    description: NotRequired[str]
    expiration: NotRequired[str]


def service_account_info(
    access_key: str,
    *,
    parent_user: str,
    status: str,
    implied_policy: bool,
    name: str = "",
    description: str = "",
    expiration: datetime | None = None,
) -> ServiceAccountInfo:
    info: dict[str, Any] = {
        "parentUser": parent_user,
        "accountStatus": account_status(status),
        "impliedPolicy": implied_policy,
        "accessKey": access_key,
    }
    if name:
        info["name"] = name
    if description:
        info["description"] = description
    info["expiration"] = go_time(expiration if expiration is not None else TIME_SENTINEL)
    return info  # type: ignore[return-value]


def list_service_accounts_response(accounts: Iterable[ServiceAccountInfo]) -> dict[str, Any]:
    """madmin ``ListServiceAccountsResp``: ``{"accounts": [...]}`` (encrypted; null when none in Go,
    ``[]`` here — both decode to an empty slice)."""
    return {"accounts": list(accounts)}


class InfoServiceAccountResp(TypedDict):
    """madmin ``InfoServiceAccountResp`` (info-service-account, encrypted).

    JSON: ``parentUser``, ``parentUserStatus`` (omitempty), ``accountStatus``,
    ``impliedPolicy``, ``policy`` (a *string*: indented JSON of the embedded
    policy, or of the parent's combined policy when implied), ``name``,
    ``description``, ``expiration`` (omitempty; omitted for no-expiry).
    """

    parentUser: str
    accountStatus: str
    impliedPolicy: bool
    policy: str
    name: NotRequired[str]
    description: NotRequired[str]
    expiration: NotRequired[str]


def info_service_account_response(
    *,
    parent_user: str,
    status: str,
    implied_policy: bool,
    policy: Mapping[str, Any],
    name: str = "",
    description: str = "",
    expiration: datetime | None = None,
) -> InfoServiceAccountResp:
    info: dict[str, Any] = {
        "parentUser": parent_user,
        "accountStatus": account_status(status),
        "impliedPolicy": implied_policy,
        "policy": json.dumps(policy, indent=1),
    }
    if name:
        info["name"] = name
    if description:
        info["description"] = description
    if expiration is not None and expiration != TIME_SENTINEL:
        info["expiration"] = go_time(expiration)
    return info  # type: ignore[return-value]


def account_status(status: str) -> str:
    """MinIO reports service-account status as its stored "on"/"off"."""
    if status in ("on", STATUS_ENABLED):
        return "on"
    if status in ("off", STATUS_DISABLED):
        return "off"
    raise ValueError("status must be enabled or disabled")

"""JSON bodies of the MinIO admin API v3, as madmin-go and minio-py read and write them.

Each TypedDict mirrors a madmin-go type (named in its docstring) with its JSON
key names; builder functions produce response dicts with Go's ``omitempty``
behaviour, parser functions validate and normalise request bodies (raising
``ValueError`` on a bad shape — answer it with ``XMinioAdminConfigBadJSON`` /
``XMinioAdminInvalidArgument``). Times use Go's RFC 3339 (nano) text.

Two Go quirks that matter to clients:

* ``omitempty`` never omits a struct, so a non-pointer ``time.Time`` with
  ``omitempty`` (UserInfo.updatedAt, GroupDesc.updatedAt,
  PolicyAssociationResp.updatedAt) is always present; the zero time reads
  ``0001-01-01T00:00:00Z``. Pointer times (``expiration``) are omitted when nil.
* A service account without expiry carries MinIO's "time sentinel"
  ``1970-01-01T00:00:00Z`` in list-service-accounts; info-service-account omits
  ``expiration`` for it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal, NotRequired, TypedDict

ZERO_TIME = "0001-01-01T00:00:00Z"
TIME_SENTINEL = datetime(1970, 1, 1, tzinfo=UTC)  # MinIO's "no expiry"
STATUS_ENABLED = "enabled"
STATUS_DISABLED = "disabled"
STATUSES = (STATUS_ENABLED, STATUS_DISABLED)

Status = Literal["enabled", "disabled"]


# ---- time ---------------------------------------------------------------------------------


def go_time(value: datetime | None) -> str:
    """Go's ``time.Time`` JSON (RFC 3339, fraction without trailing zeros); None → zero time."""
    if value is None:
        return ZERO_TIME
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += ("." + f"{value.microsecond:06d}").rstrip("0")
    return text + "Z"


def parse_go_time(text: str | None) -> datetime | None:
    """RFC 3339 text (any fraction length, ``Z`` or an offset) → aware datetime; zero/None → None."""
    if text is None or text == "" or text.startswith("0001-01-01T00:00:00"):
        return None
    if not isinstance(text, str):
        raise ValueError("time must be an RFC 3339 string")
    body = text.strip()
    if body.endswith(("Z", "z")):
        body = body[:-1] + "+00:00"
    if "." in body:  # Python takes at most 6 fractional digits; Go sends up to 9
        head, _, rest = body.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        body = f"{head}.{(digits + '000000')[:6]}{rest}"
    try:
        value = datetime.fromisoformat(body)
    except ValueError:
        raise ValueError(f"invalid RFC 3339 time {text!r}") from None
    if value.tzinfo is None:
        raise ValueError(f"RFC 3339 time without offset {text!r}")
    return value.astimezone(UTC)


def _json_object(body: bytes | str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(body, Mapping):
        return dict(body)
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("body is not JSON") from None
    if not isinstance(value, dict):
        raise ValueError("body is not a JSON object")
    return value


def _opt_str(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value


def _policy_document(value: Any, key: str) -> dict[str, Any] | None:
    """madmin's ``json.RawMessage`` policy: an object (or, leniently, JSON text); empty → None."""
    if value is None or value == "" or value == {}:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(f"{key} is not a JSON policy") from None
    if not isinstance(value, dict):
        raise ValueError(f"{key} must be a JSON object")
    return value or None


def split_policy_names(text: str | Iterable[str]) -> list[str]:
    """``"readwrite, diagnostics"`` → ``["readwrite", "diagnostics"]`` (MinIO's comma lists)."""
    items = text.split(",") if isinstance(text, str) else list(text)
    names: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError("policy names must be strings")
        item = item.strip()
        if item and item not in names:
            names.append(item)
    return names


# ---- users --------------------------------------------------------------------------------


class AddOrUpdateUserReq(TypedDict):
    """madmin ``AddOrUpdateUserReq``: add-user body (encrypted).

    JSON: ``secretKey`` (omitempty), ``policy`` (omitempty), ``status``.
    """

    secretKey: str
    policy: NotRequired[str]
    status: Status


def parse_add_user_request(body: bytes | str | Mapping[str, Any]) -> AddOrUpdateUserReq:
    """Decrypted add-user body → normalised request; status defaults to enabled."""
    obj = _json_object(body)
    secret = _opt_str(obj, "secretKey")
    status = _opt_str(obj, "status") or STATUS_ENABLED
    if status not in STATUSES:
        raise ValueError("status must be enabled or disabled")
    result: AddOrUpdateUserReq = {"secretKey": secret, "status": status}  # type: ignore[typeddict-item]
    policy = _opt_str(obj, "policy")
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


# ---- policies -----------------------------------------------------------------------------


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
    obj = _json_object(body)
    raw = obj.get("policies")
    if not isinstance(raw, list) or not raw:
        raise ValueError("no policy names were given")
    if any(not isinstance(p, str) or p == "" for p in raw):
        raise ValueError("an empty policy name was given")
    user, group = _opt_str(obj, "user"), _opt_str(obj, "group")
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


# ---- groups -------------------------------------------------------------------------------


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
    obj = _json_object(body)
    group = _opt_str(obj, "group")
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
    status = _opt_str(obj, "groupStatus")
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


# ---- service accounts ---------------------------------------------------------------------


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
    obj = _json_object(body)
    req: AddServiceAccountReq = {
        "policy": _policy_document(obj.get("policy"), "policy"),
        "targetUser": _opt_str(obj, "targetUser"),
        "accessKey": _opt_str(obj, "accessKey"),
        "secretKey": _opt_str(obj, "secretKey"),
        "name": _opt_str(obj, "name"),
        "description": _opt_str(obj, "description"),
        "expiration": _expiration(obj.get("expiration"), "expiration"),
        "status": _opt_str(obj, "status") or STATUS_ENABLED,
    }
    if req["status"] not in STATUSES:
        raise ValueError("status must be enabled or disabled")
    _validate_name_description(req["name"], req["description"])
    return req


def _expiration(value: Any, key: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} must be an RFC 3339 time")
    parsed = parse_go_time(value)
    if parsed is None or parsed == TIME_SENTINEL:
        return None
    return parsed


def _validate_name_description(name: str, description: str) -> None:
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
    obj = _json_object(body)
    req: UpdateServiceAccountReq = {}
    if "newPolicy" in obj and obj["newPolicy"] is not None:
        # Present but empty ({} or no Statement) → None: drop the embedded policy.
        doc = _policy_document(obj["newPolicy"], "newPolicy")
        req["newPolicy"] = doc if doc and doc.get("Statement") else None
    for key in ("newSecretKey", "newStatus", "newName", "newDescription"):
        value = _opt_str(obj, key)
        if value:
            req[key] = value  # type: ignore[literal-required]
    if req.get("newStatus") and req["newStatus"] not in ("on", "off", *STATUSES):
        raise ValueError("newStatus must be enabled or disabled")
    if obj.get("newExpiration"):
        req["newExpiration"] = _expiration(obj["newExpiration"], "newExpiration")
    _validate_name_description(req.get("newName", ""), req.get("newDescription", ""))
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


# ---- server info --------------------------------------------------------------------------


def info_message(
    *,
    deployment_id: str,
    endpoint: str,
    version: str,
    uptime_seconds: int,
    buckets: int,
    objects: int,
    versions: int = 0,
    delete_markers: int = 0,
    usage_bytes: int = 0,
    region: str = "",
    sqs_arns: Iterable[str] = (),
    drives: Iterable[Mapping[str, Any]] = (),
    state: str = "online",
    mode: str = "online",
    commit_id: str = "",
) -> dict[str, Any]:
    """madmin ``InfoMessage`` with the fields ``mc admin info`` prints.

    ``mode`` ("online"), ``deploymentID``, ``region``, ``sqsARN``, counts under
    ``buckets``/``objects``/``versions``/``deletemarkers`` ({"count"}),
    ``usage`` ({"size"}), ``backend`` (backendType "Erasure"/"FS"; mc prints
    drive counts for Erasure), ``servers`` (ServerProperties: ``state``,
    ``endpoint``, ``uptime`` seconds, ``version``, ``commitID``, ``network``
    {endpoint: "online"}, ``drives`` [Disk], ``edition``, ``mem_stats``).
    """
    drives = [dict(d) for d in drives]
    server: dict[str, Any] = {
        "state": state,
        "endpoint": endpoint,
        "scheme": "http",
        "uptime": int(uptime_seconds),
        "version": version,
        "commitID": commit_id,
        "network": {endpoint: "online"},
        "drives": drives,
        "poolNumber": 1,
        "poolNumbers": [1],
        "mem_stats": {"Alloc": 0, "TotalAlloc": 0, "Mallocs": 0, "Frees": 0, "HeapAlloc": 0},
        "edition": "",
        "is_leader": True,
        "ilm_expiry_in_progress": False,
        "api_version": {"backend": {k: {"major": 0, "minor": 0, "patch": 0} for k in ("current", "max", "min")}},
    }
    message: dict[str, Any] = {"mode": mode, "deploymentID": deployment_id}
    if region:
        message["region"] = region
    arns = list(sqs_arns)
    if arns:
        message["sqsARN"] = arns
    message.update(
        {
            "buckets": {"count": buckets},
            "objects": {"count": objects},
            "versions": {"count": versions},
            "deletemarkers": {"count": delete_markers},
            "usage": {"size": usage_bytes},
            "services": {},
            "backend": {
                "backendType": "FS",
                "onlineDisks": len(drives),
                "offlineDisks": 0,
                "standardSCParity": 0,
                "rrSCParity": 0,
                "totalSets": [1],
                "totalDrivesPerSet": [len(drives)],
            },
            "servers": [server],
        }
    )
    return message


def drive(endpoint: str, *, path: str, total: int, used: int, available: int, uuid: str = "") -> dict[str, Any]:
    """madmin ``Disk`` with what mc shows (state "ok", space figures)."""
    disk: dict[str, Any] = {
        "endpoint": endpoint,
        "path": path,
        "state": "ok",
        "major": 0,
        "minor": 0,
        "totalspace": total,
        "usedspace": used,
        "availspace": available,
        "used_inodes": 0,
        "local": True,
        "pool_index": 0,
        "set_index": 0,
        "disk_index": 0,
    }
    if uuid:
        disk["uuid"] = uuid
    return disk


# ---- errors -------------------------------------------------------------------------------


def error_response(code: str, message: str, *, resource: str = "", request_id: str = "") -> dict[str, str]:
    """The JSON error body MinIO's writeErrorResponseJSON sends (madmin ``ErrorResponse``)."""
    return {
        "Code": code,
        "Message": message,
        "Resource": resource,
        "RequestId": request_id,
        "HostId": "",
    }

"""The MinIO admin API v3 handlers: users, canned policies, groups, service accounts, info.

One small async function per command, taking an ``AdminCall`` (the request, the server
context, the caller's identity) and returning a ``Response``. Failures raise ``AdminError``,
which the admin router renders as MinIO's JSON error body. The permission checks follow
MinIO's ``cmd/admin-handlers-users.go``: an ``admin:*`` action decided by
``api.auth.authz.authorize_admin``, with the exemptions MinIO makes for a caller acting on
itself (reading its own user info, creating, listing, reading and deleting its own service
accounts). Secrets are never returned, except a service account's at its creation.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

from api.admin import shapes
from api.admin.endpoints import Endpoint
from api.admin.madmin_crypto import decrypt_async, encrypt_async
from api.admin.targets import list_targets
from api.auth.authz import authorize_admin
from api.errors import S3Error
from api.iam import service as iam_service
from api.notify import config as notify_config
from api.response import Response
from domain.errors import DomainError
from domain.policy import CANNED_POLICY_NAMES, canned_policy_document, parse_policy
from projections.iam import queries as iam_queries
from projections.namespace.queries import list_buckets, namespace_usage

if TYPE_CHECKING:
    from api.auth.identity import Identity
    from api.context import ServerContext
    from api.request import S3Request

JSON_TYPE = "application/json"
MAX_CONFIG_BYTES = 256 * 1024  # MinIO's maxEConfigJSONSize
MAX_POLICY_BYTES = 20 * 1024
DERIVED_KINDS = ("service", "iam")  # keys that list-service-accounts and friends manage


# ---- errors -------------------------------------------------------------------------------


class AdminError(Exception):
    """A MinIO admin API error: JSON ``{"Code","Message","Resource","RequestId"}``."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def no_such_user(name: str) -> AdminError:
    return AdminError(
        "XMinioAdminNoSuchUser", f"The specified user does not exist. (Specified user {name} does not exist)", 404
    )


def no_such_group(name: str) -> AdminError:
    return AdminError(
        "XMinioAdminNoSuchGroup", f"The specified group does not exist. (Specified group {name} does not exist)", 404
    )


def no_such_policy(name: str) -> AdminError:
    return AdminError(
        "XMinioAdminNoSuchPolicy", f"The canned policy does not exist. (Specified policy {name} does not exist)", 404
    )


def no_such_service_account(key: str) -> AdminError:
    return AdminError("XMinioInvalidIAMCredentials", f"The specified service account is not found ({key})", 404)


def access_denied() -> AdminError:
    return AdminError("AccessDenied", "Access Denied.", 403)


def not_allowed(message: str = "Specified IAM action is not allowed") -> AdminError:
    return AdminError("XMinioIAMActionNotAllowed", message, 403)


def invalid_argument(message: str = "Invalid arguments specified.") -> AdminError:
    return AdminError("XMinioAdminInvalidArgument", message, 400)


def bad_json(message: str = "JSON configuration provided is of incorrect format") -> AdminError:
    return AdminError("XMinioAdminConfigBadJSON", message, 400)


def malformed_json(detail: str = "") -> AdminError:
    msg = "The JSON you provided was not well-formed or did not validate against our published format."
    return AdminError("XMinioMalformedJSON", f"{msg} ({detail})" if detail else msg, 400)


def malformed_policy(message: str) -> AdminError:
    return AdminError("XMinioMalformedIAMPolicy", message, 400)


def from_s3_error(err: S3Error) -> AdminError:
    """An S3Error raised below (authentication, iam_service) in MinIO's admin vocabulary."""
    code = err.extra.get("Code") if err.extra else None
    if code:
        return AdminError(code, err.message, err.status)
    if err.code == "InvalidArgument":
        return invalid_argument(err.message)
    if err.code == "NoSuchEntity":
        return AdminError("XMinioAdminNoSuchEntity", err.message, 404)
    if err.code == "MaxMessageLengthExceeded":
        return AdminError(
            "XMinioAdminConfigTooLarge",
            f"Configuration data provided exceeds the allowed maximum of {MAX_CONFIG_BYTES} bytes",
            400,
        )
    return AdminError(err.code, err.message, err.status)


def from_domain_error(err: DomainError) -> AdminError:
    if err.code in ("MalformedPolicyDocument", "MalformedPolicy"):
        return malformed_policy(err.message)
    return AdminError(err.code, err.message, 400)


# ---- the call -----------------------------------------------------------------------------


@dataclass
class AdminCall:
    req: S3Request
    ctx: ServerContext
    endpoint: Endpoint
    _secret: str | None = field(default=None, repr=False)

    @property
    def identity(self) -> Identity:
        return self.req.identity

    @property
    def me(self) -> str:
        """The user whose account the caller acts for (a service account's parent)."""
        return self.identity.user

    @property
    def is_root(self) -> bool:
        return self.identity.is_root

    def q(self, name: str) -> str:
        return self.req.query.get(name, "")

    def actor(self) -> dict[str, str]:
        actor = self.req.actor()
        actor["parent_user"] = self.identity.user
        return actor

    async def read(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await self.ctx.read(fn, *args)

    # -- authorization ----------------------------------------------------------------------

    async def allow(self, action: str) -> None:
        """AccessDenied unless root or an identity policy allows the admin action."""
        try:
            await authorize_admin(self.req, self.ctx, action)
        except S3Error as err:
            if err.code == "AccessDenied":
                raise access_denied() from None
            raise

    async def allowed(self, action: str) -> bool:
        try:
            await self.allow(action)
        except AdminError as err:
            if err.code == "AccessDenied":
                return False
            raise
        return True

    # -- bodies -----------------------------------------------------------------------------

    async def secret(self) -> str:
        """The secret key of the credential that signed the request (madmin's password)."""
        if self._secret is None:
            token = self.req.headers.get("x-amz-security-token") or self.req.query.get("X-Amz-Security-Token")
            self._secret, _ = await self.ctx.identities.resolve(self.identity.access_key, token)
        return self._secret

    async def body(self, limit: int = MAX_CONFIG_BYTES) -> bytes:
        return await self.req.read_all(limit=limit, object_checksums=False)

    async def decrypted_body(self) -> bytes:
        payload = await self.body()
        try:
            return await decrypt_async(await self.secret(), payload)
        except Exception as exc:  # noqa: BLE001 - any decryption failure is a bad body
            raise bad_json(
                f"JSON configuration provided is of incorrect format ({exc or 'authentication failed'})"
            ) from None

    def json(self, obj: Any, status: int = 200) -> Response:
        return Response(status, {"content-type": JSON_TYPE}, _dumps(obj))

    async def encrypted(self, obj: Any, status: int = 200) -> Response:
        data = await encrypt_async(await self.secret(), _dumps(obj))
        return Response(status, {"content-type": JSON_TYPE}, data)

    def ok(self) -> Response:
        status = self.endpoint.success_status
        return Response(status, {"content-type": JSON_TYPE} if status != 204 else {}, b"")


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _time(us: int | None) -> datetime | None:
    if not us:
        return None
    return datetime.fromtimestamp(us / 1_000_000, UTC)


def _now() -> datetime:
    return datetime.now(UTC)


def _ordered(document: Any) -> Any:
    """A policy document with MinIO's key order (Version, Id, Statement) for display."""
    if not isinstance(document, dict):
        return document
    head = {k: document[k] for k in ("Version", "Id", "Statement") if k in document}
    head.update((k, v) for k, v in document.items() if k not in head)
    return head


def _space_at_ends(name: str) -> bool:
    return name != name.strip()


def _resource_invalid() -> AdminError:
    return AdminError(
        "XMinioInvalidResource",
        "Policy, user or group names are not allowed to begin or end with space characters",
        400,
    )


async def _require_user(call: AdminCall, name: str) -> dict[str, Any]:
    user = await call.read(iam_queries.user, name) if name else None
    if user is None:
        raise no_such_user(name)
    return user


async def _require_group(call: AdminCall, name: str) -> dict[str, Any]:
    group = await call.read(iam_queries.group, name) if name else None
    if group is None:
        raise no_such_group(name)
    return group


async def _policy_document(
    call: AdminCall, name: str
) -> tuple[dict[str, Any], datetime | None, datetime | None] | None:
    if name in CANNED_POLICY_NAMES:
        return canned_policy_document(name), None, None
    row = await call.read(iam_queries.managed_policy, name)
    if row is None:
        return None
    return _ordered(row["document"]), _time(row.get("created_us")), _time(row.get("updated_us"))


async def _require_policies(call: AdminCall, names: list[str]) -> None:
    for name in names:
        if await _policy_document(call, name) is None:
            raise no_such_policy(name)


def _validated_policy(text: bytes | str | dict[str, Any], kind: str = "identity") -> dict[str, Any]:
    try:
        policy = parse_policy(text, kind=kind)  # type: ignore[arg-type]
    except DomainError as err:
        raise malformed_policy(err.message) from None
    return dict(policy.document)


# ---- users --------------------------------------------------------------------------------


async def add_user(call: AdminCall) -> Response:
    name = call.q("accessKey")
    ident = call.identity
    if name != ident.access_key:  # changing one's own secret needs no admin:CreateUser
        await call.allow("admin:CreateUser")
    if name == call.ctx.settings.root_user:
        raise AdminError("XMinioInvalidIAMCredentials", "Credential is not allowed to be same as admin access key", 403)
    existing = await call.read(iam_queries.key, name) if name else None
    if existing is not None and existing["kind"] != "user":
        raise AdminError(
            "XMinioInvalidIAMCredentials", "The access key belongs to a service account or temporary credentials.", 403
        )
    if ident.kind != "user" and not ident.is_root and ident.user == name:
        raise AdminError("XMinioInvalidIAMCredentials", "A derived credential cannot change its parent user.", 403)
    if existing is None and _space_at_ends(name):
        raise _resource_invalid()
    try:
        request = shapes.parse_add_user_request(await call.decrypted_body())
    except ValueError as exc:
        raise bad_json(f"JSON configuration provided is of incorrect format ({exc})") from None
    _check_access_key(name)
    _check_secret_key(request["secretKey"])
    policies = shapes.split_policy_names(request.get("policy", ""))
    if policies:
        await _require_policies(call, policies)
    await iam_service.add_user(call.ctx, call.actor(), name, request["secretKey"], request["status"])
    if policies:
        await iam_service.set_user_policies(call.ctx, call.actor(), name, policies)
    return call.ok()


def _check_access_key(key: str) -> None:
    if not 3 <= len(key) <= 128 or any(c in key for c in "=,/ ") or not key.isprintable():
        raise AdminError(
            "XMinioAdminInvalidAccessKey",
            "The access key is invalid: 3 to 128 characters, without '=', ',', '/' or spaces.",
            400,
        )


def _check_secret_key(secret: str) -> None:
    if not 8 <= len(secret) <= 128:
        raise AdminError("XMinioAdminInvalidSecretKey", "The secret key is invalid: 8 to 128 characters.", 400)


async def remove_user(call: AdminCall) -> Response:
    await call.allow("admin:DeleteUser")
    name = call.q("accessKey")
    key = await call.read(iam_queries.key, name) if name else None
    if key is not None and key["kind"] != "user":
        raise not_allowed(
            "Only users can be removed with this call; delete service accounts with delete-service-account."
        )
    if name in (call.ctx.settings.root_user, call.identity.access_key, call.me):
        raise not_allowed("The root user and the caller itself cannot be removed.")
    await _require_user(call, name)
    await iam_service.remove_user(call.ctx, call.actor(), name)
    return call.ok()


def _user_info(row: dict[str, Any]) -> shapes.UserInfo:
    return shapes.user_info(
        status=row["status"],
        policies=row["policies"],
        member_of=row["groups"],
        updated_at=_time(row.get("updated_us")),
    )


async def list_users(call: AdminCall) -> Response:
    await call.allow("admin:ListUsers")
    rows = await call.read(iam_queries.list_users)
    return await call.encrypted(shapes.list_users_response({r["name"]: _user_info(r) for r in rows}))


async def user_info(call: AdminCall) -> Response:
    name = call.q("accessKey")
    if name not in (call.identity.access_key, call.me):
        await call.allow("admin:GetUser")
    return call.json(_user_info(await _require_user(call, name)))


async def set_user_status(call: AdminCall) -> Response:
    await call.allow("admin:EnableUser")
    name, status = call.q("accessKey"), call.q("status")
    if name in (call.identity.access_key, call.me):
        raise invalid_argument("You cannot enable or disable yourself.")
    if status not in shapes.STATUSES:
        raise invalid_argument("status must be enabled or disabled")
    await _require_user(call, name)
    await iam_service.set_user_status(call.ctx, call.actor(), name, status)
    return call.ok()


# ---- canned policies ----------------------------------------------------------------------


async def add_canned_policy(call: AdminCall) -> Response:
    await call.allow("admin:CreatePolicy")
    name = call.q("name")
    if not name or _space_at_ends(name):
        raise _resource_invalid()
    if "," in name:
        raise AdminError("PolicyInvalidName", "Policy name may not contain comma", 400)
    if name in CANNED_POLICY_NAMES:
        raise invalid_argument(f"{name} is a built-in policy and cannot be replaced.")
    declared = call.req.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_POLICY_BYTES:
        raise AdminError("EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.", 400)
    body = await call.body(limit=MAX_POLICY_BYTES * 2)
    if not body:
        raise AdminError("MissingContentLength", "You must provide the Content-Length HTTP header.", 411)
    if len(body) > MAX_POLICY_BYTES:
        raise AdminError("EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.", 400)
    document = _validated_policy(body)
    if not document.get("Version"):
        raise AdminError("MalformedPolicy", "The policy must contain a valid version string", 400)
    await iam_service.put_policy(call.ctx, call.actor(), name, document)
    return call.ok()


async def remove_canned_policy(call: AdminCall) -> Response:
    await call.allow("admin:DeletePolicy")
    name = call.q("name")
    if not name:
        raise invalid_argument("A policy name is required.")
    if name in CANNED_POLICY_NAMES:
        raise invalid_argument(f"{name} is a built-in policy and cannot be removed.")
    if await call.read(iam_queries.managed_policy, name) is None:
        raise no_such_policy(name)
    users = [u["name"] for u in await call.read(iam_queries.list_users) if name in u["policies"]]
    groups = []
    for group_name in await call.read(iam_queries.list_groups):
        group = await call.read(iam_queries.group, group_name)
        if group is not None and name in group["policies"]:
            groups.append(group_name)
    if users or groups:
        who = ", ".join([f"user {u}" for u in users] + [f"group {g}" for g in groups])
        raise AdminError(
            "XMinioIAMPolicyInUse", f"The policy cannot be removed, as it is in use (attached to {who})", 400
        )
    await iam_service.remove_policy(call.ctx, call.actor(), name)
    return call.ok()


async def list_canned_policies(call: AdminCall) -> Response:
    await call.allow("admin:ListUserPolicies")
    policies: dict[str, Any] = {name: canned_policy_document(name) for name in CANNED_POLICY_NAMES}
    for row in await call.read(iam_queries.managed_policies):
        policies[row["name"]] = _ordered(row["document"])
    return call.json(shapes.list_canned_policies_response(dict(sorted(policies.items()))))


async def info_canned_policy(call: AdminCall) -> Response:
    await call.allow("admin:GetPolicy")
    name = call.q("name")
    if "," in name:
        raise AdminError("XMinioAdminInvalidRequest", "Only a single policy may be specified here.", 400)
    version = call.q("v")
    if version not in ("", "2"):
        raise invalid_argument("invalid version parameter 'v' supplied")
    found = await _policy_document(call, name)
    if found is None:
        raise no_such_policy(name)
    document, created, updated = found
    info = shapes.info_canned_policy_response(name, document, version=version or None, created=created, updated=updated)
    return Response(200, {"content-type": JSON_TYPE}, json.dumps(info, indent=1).encode())


# ---- policy attachment --------------------------------------------------------------------


async def _entity(call: AdminCall, name: str, is_group: bool) -> dict[str, Any]:
    if is_group:
        return await _require_group(call, name)
    if name == call.ctx.settings.root_user:
        raise not_allowed("Policies cannot be attached to the root user.")
    key = await call.read(iam_queries.key, name) if name else None
    if key is not None and key["kind"] == "sts":
        raise not_allowed("Policies cannot be attached to temporary credentials.")
    return await _require_user(call, name)


async def set_user_or_group_policy(call: AdminCall) -> Response:
    await call.allow("admin:AttachUserOrGroupPolicy")
    name = call.q("userOrGroup")
    is_group = call.q("isGroup") == "true"
    policies = shapes.split_policy_names(call.q("policyName"))
    await _entity(call, name, is_group)
    await _require_policies(call, policies)
    await iam_service.set_user_policies(call.ctx, call.actor(), name, policies, is_group=is_group)
    return call.ok()


async def _attach_detach(call: AdminCall, *, attach: bool) -> Response:
    if not await call.allowed("admin:UpdatePolicyAssociation"):
        await call.allow("admin:AttachUserOrGroupPolicy")
    if call.req.headers.get("content-type", "").split(";")[0].strip() != "application/octet-stream":
        raise AdminError("BadRequest", "400 BadRequest (the body must be sent as application/octet-stream)", 400)
    try:
        request = shapes.parse_policy_association_request(await call.decrypted_body())
    except ValueError as exc:
        raise invalid_argument(str(exc)) from None
    is_group = "group" in request
    name = request["group"] if is_group else request["user"]
    entity = await _entity(call, name, is_group)
    if is_group and entity["status"] == "disabled":
        raise AdminError("XMinioAdminGroupDisabled", "The specified group is disabled.", 400)
    current: list[str] = list(entity["policies"])
    wanted = request["policies"]
    if attach:
        changed = [p for p in wanted if p not in current]
        await _require_policies(call, changed)
        new = current + changed
    else:
        changed = [p for p in wanted if p in current]
        new = [p for p in current if p not in changed]
    if not changed:
        raise AdminError(
            "XMinioAdminPolicyChangeAlreadyApplied", "The specified policy change is already in effect.", 400
        )
    await iam_service.set_user_policies(call.ctx, call.actor(), name, new, is_group=is_group)
    resp = shapes.policy_association_response(
        attached=changed if attach else (), detached=() if attach else changed, updated_at=_now()
    )
    return await call.encrypted(resp)


async def attach_policy(call: AdminCall) -> Response:
    return await _attach_detach(call, attach=True)


async def detach_policy(call: AdminCall) -> Response:
    return await _attach_detach(call, attach=False)


# ---- groups -------------------------------------------------------------------------------


async def update_group_members(call: AdminCall) -> Response:
    await call.allow("admin:AddUserToGroup")
    try:
        request = shapes.parse_group_add_remove(await call.body())
    except ValueError as exc:
        raise malformed_json(str(exc)) from None
    name, members = request["group"], request["members"]
    for member in members:
        if member == call.ctx.settings.root_user:
            raise not_allowed("The root user cannot be a group member.")
        key = await call.read(iam_queries.key, member)
        if key is not None and key["kind"] != "user":
            raise not_allowed(f"{member} is not a user: only users can be group members.")
        await _require_user(call, member)
    if request["isRemove"]:
        group = await _require_group(call, name)
        if not members and group["members"]:
            raise AdminError("XMinioAdminGroupNotEmpty", "The specified group is not empty - cannot remove it.", 400)
        await iam_service.update_group_members(call.ctx, call.actor(), name, members, remove=True)
        return call.ok()
    if _space_at_ends(name) and await call.read(iam_queries.group, name) is None:
        raise _resource_invalid()
    await iam_service.update_group_members(call.ctx, call.actor(), name, members, remove=False)
    if request["groupStatus"]:
        await iam_service.set_group_status(call.ctx, call.actor(), name, request["groupStatus"])
    return call.ok()


async def list_groups(call: AdminCall) -> Response:
    await call.allow("admin:ListGroups")
    return call.json(shapes.list_groups_response(await call.read(iam_queries.list_groups)))


async def group_info(call: AdminCall) -> Response:
    await call.allow("admin:GetGroup")
    group = await _require_group(call, call.q("group"))
    return call.json(
        shapes.group_desc(
            group["name"],
            status=group["status"],
            members=group["members"],
            policies=group["policies"],
            updated_at=_time(group.get("updated_us")),
        )
    )


async def set_group_status(call: AdminCall) -> Response:
    await call.allow("admin:EnableGroup")
    name, status = call.q("group"), call.q("status")
    if status not in shapes.STATUSES:
        raise invalid_argument("status must be enabled or disabled")
    await _require_group(call, name)
    await iam_service.set_group_status(call.ctx, call.actor(), name, status)
    return call.ok()


# ---- service accounts ---------------------------------------------------------------------


async def _service_account(call: AdminCall, access_key: str) -> dict[str, Any]:
    row = await call.read(iam_queries.key, access_key) if access_key else None
    if row is None or row["kind"] not in DERIVED_KINDS:
        raise no_such_service_account(access_key)
    return row


def _expiration_us(value: datetime | None) -> int | None:
    if value is None:
        return None
    return int(value.replace(microsecond=0).timestamp()) * 1_000_000  # MinIO truncates to seconds


async def add_service_account(call: AdminCall) -> Response:
    try:
        request = shapes.parse_add_service_account_request(await call.decrypted_body())
    except ValueError as exc:
        raise AdminError("XMinioInvalidResource", str(exc), 400) from None
    ident, root = call.identity, call.ctx.settings.root_user
    target = request["targetUser"] or ident.access_key
    for_self = target in (ident.access_key, ident.user)
    if for_self:
        target = ident.user  # a derived credential creates keys for its parent
    else:
        await call.allow("admin:CreateServiceAccount")
        if target != root and await call.read(iam_queries.user, target) is None:
            raise AdminError("XMinioAdminNoSuchUser", f"Specified target user {target} does not exist", 404)
    if ident.kind == "sts" and for_self and not ident.user:
        raise not_allowed("service accounts cannot be generated for temporary credentials without parent")
    access_key, secret_key = request["accessKey"], request["secretKey"]
    if access_key and not secret_key:
        raise AdminError("XMinioAdminNoSecretKey", "No secret key was specified.", 400)
    if secret_key and not access_key:
        raise AdminError("XMinioAdminNoAccessKey", "No access key was specified.", 400)
    if access_key:
        if access_key == root:
            raise AdminError(
                "XMinioInvalidIAMCredentials", "Credential is not allowed to be same as admin access key", 403
            )
        if _space_at_ends(access_key):
            raise _resource_invalid()
        _check_access_key(access_key)
        _check_secret_key(secret_key)
        if await call.read(iam_queries.key, access_key) is not None:
            raise AdminError("XMinioAdminServiceAccountExists", f"The access key {access_key} is already in use.", 409)
    policy = _validated_policy(request["policy"], "session") if request.get("policy") else None
    expiration = request.get("expiration")
    if expiration is not None and expiration.timestamp() <= call.ctx.clock():
        raise invalid_argument("The expiration time must be in the future.")
    existing = await call.read(iam_queries.keys_of, target)
    if len(existing) >= iam_service.MAX_SERVICE_ACCOUNTS:
        raise invalid_argument(f"A user may have at most {iam_service.MAX_SERVICE_ACCOUNTS} service accounts.")
    access_key, secret_key = await iam_service.add_access_key(
        call.ctx,
        call.actor(),
        target,
        kind="service",
        access_key=access_key or None,
        secret_key=secret_key or None,
        policy=policy,
        name=request.get("name", ""),
        description=request.get("description", ""),
        expiration_us=_expiration_us(expiration),
    )
    if request.get("status") == shapes.STATUS_DISABLED:
        await iam_service.update_access_key(call.ctx, call.actor(), access_key, {"status": "disabled"})
    return await call.encrypted(
        shapes.add_service_account_response(
            access_key, secret_key, expiration=_time(_expiration_us(expiration)) or shapes.TIME_SENTINEL
        )
    )


def _status(value: str) -> str:
    return shapes.STATUS_ENABLED if value in ("on", shapes.STATUS_ENABLED) else shapes.STATUS_DISABLED


async def update_service_account(call: AdminCall) -> Response:
    access_key = call.q("accessKey")
    if not access_key:
        raise AdminError("InvalidRequest", "Invalid Request (accessKey is required)", 400)
    await call.allow("admin:UpdateServiceAccount")
    await _service_account(call, access_key)
    try:
        request = shapes.parse_update_service_account_request(await call.decrypted_body())
    except ValueError as exc:
        raise AdminError("XMinioInvalidResource", str(exc), 400) from None
    changes: dict[str, Any] = {}
    if "newSecretKey" in request:
        _check_secret_key(request["newSecretKey"])
        changes["secret_key"] = request["newSecretKey"]
    if "newStatus" in request:
        changes["status"] = _status(request["newStatus"])
    if "newPolicy" in request:
        doc = request["newPolicy"]
        changes["policy"] = _validated_policy(doc, "session") if doc else None
    if "newName" in request:
        changes["name"] = request["newName"]
    if "newDescription" in request:
        changes["description"] = request["newDescription"]
    if "newExpiration" in request:
        expiration = request["newExpiration"]
        if expiration is not None and expiration.timestamp() <= call.ctx.clock():
            raise invalid_argument("The expiration time must be in the future.")
        changes["expiration_us"] = _expiration_us(expiration) or 0
    if changes:
        await iam_service.update_access_key(call.ctx, call.actor(), access_key, changes)
    return call.ok()


async def delete_service_account(call: AdminCall) -> Response:
    access_key = call.q("accessKey")
    if not access_key:
        raise invalid_argument("accessKey is required")
    row = await call.read(iam_queries.key, access_key)
    if row is None or row["kind"] not in DERIVED_KINDS:
        raise no_such_service_account(access_key)
    if row["parent_user"] != call.me and not await call.allowed("admin:RemoveServiceAccount"):
        raise no_such_service_account(access_key)  # another user's key: as if it did not exist
    await iam_service.delete_access_key(call.ctx, call.actor(), access_key)
    return call.ok()


def _sa_info(row: dict[str, Any]) -> shapes.ServiceAccountInfo:
    return shapes.service_account_info(
        row["access_key"],
        parent_user=row["parent_user"],
        status=row["status"],
        implied_policy=not row["policy"],
        name=row["name"],
        description=row["description"],
        expiration=_time(row["expiration_us"]),
    )


async def list_service_accounts(call: AdminCall) -> Response:
    user = call.q("user")
    if user and user not in (call.identity.access_key, call.me):
        await call.allow("admin:ListServiceAccounts")
        target = user
    else:
        target = call.me
    if target != call.ctx.settings.root_user and await call.read(iam_queries.user, target) is None:
        raise no_such_user(target)
    rows = await call.read(iam_queries.keys_of, target, DERIVED_KINDS)
    return await call.encrypted(shapes.list_service_accounts_response(_sa_info(r) for r in rows))


async def _combined_policy(call: AdminCall, user: str) -> dict[str, Any]:
    """The parent's effective policy: the statements of every policy that applies to it."""
    if user == call.ctx.settings.root_user:
        names, documents, inline = ["consoleAdmin"], {}, []
    else:
        sources = await call.read(iam_queries.policy_sources, user)
        names, documents, inline = sources["names"], sources["documents"], sources["inline"]
    statements: list[Any] = []
    for name in names:
        doc = documents.get(name)
        if doc is None and name in CANNED_POLICY_NAMES:
            doc = canned_policy_document(name)
        if doc is not None:
            statements.extend(_statements(doc))
    for doc in inline:
        statements.extend(_statements(doc))
    return {"Version": "2012-10-17", "Statement": statements}


def _statements(doc: Any) -> list[Any]:
    stmts = doc.get("Statement", []) if isinstance(doc, dict) else []
    return stmts if isinstance(stmts, list) else [stmts]


async def info_service_account(call: AdminCall) -> Response:
    access_key = call.q("accessKey")
    if not access_key:
        raise AdminError("InvalidRequest", "Invalid Request (accessKey is required)", 400)
    row = await _service_account(call, access_key)
    if row["parent_user"] != call.me and not await call.allowed("admin:ListServiceAccounts"):
        raise access_denied()
    if row["policy"]:
        policy, implied = _ordered(json.loads(row["policy"])), False
    else:
        policy, implied = await _combined_policy(call, row["parent_user"]), True
    return await call.encrypted(
        shapes.info_service_account_response(
            parent_user=row["parent_user"],
            status=row["status"],
            implied_policy=implied,
            policy=policy,
            name=row["name"],
            description=row["description"],
            expiration=_time(row["expiration_us"]),
        )
    )


# ---- configuration: notification targets --------------------------------------------------


def _config_error(err: Exception, *, deleting: bool = False) -> AdminError:
    if isinstance(err, notify_config.ConfigInvalid):
        return AdminError("XMinioAdminConfigBadJSON", str(err), 400)
    if isinstance(err, notify_config.TargetNotFound):
        if deleting:
            return AdminError("XMinioConfigNotFoundError", str(err), 404)
        return AdminError("XMinioConfigError", str(err), 400)
    return AdminError("XMinioConfigError", str(err), 400)


_CONFIG_ERRORS = (notify_config.ConfigSyntaxError, notify_config.ConfigInvalid, notify_config.TargetNotFound)


async def _config_text(call: AdminCall) -> str:
    try:
        return (await call.decrypted_body()).decode("utf-8")
    except UnicodeDecodeError:
        raise bad_json("the configuration must be UTF-8 text") from None


async def set_config_kv(call: AdminCall) -> Response:
    await call.allow("admin:ConfigUpdate")
    text = await _config_text(call)
    try:
        await notify_config.set_target(call.ctx, call.actor(), text)
    except _CONFIG_ERRORS as err:
        raise _config_error(err) from None
    # Applied at once on every node (MinIO answers this header for dynamic sub-systems).
    return Response(200, {"content-type": JSON_TYPE, "x-minio-config-applied": "true"}, b"")


async def get_config_kv(call: AdminCall) -> Response:
    await call.allow("admin:ConfigUpdate")  # as MinIO: reading the config is a config right
    key = call.q("key")
    try:
        text = await call.read(lambda tx: notify_config.listing_text(call.ctx, tx, key))
    except _CONFIG_ERRORS as err:
        raise _config_error(err) from None
    data = await encrypt_async(await call.secret(), text.encode())
    return Response(200, {"content-type": JSON_TYPE}, data)


async def del_config_kv(call: AdminCall) -> Response:
    await call.allow("admin:ConfigUpdate")
    text = await _config_text(call)
    try:
        await notify_config.remove_target(call.ctx, call.actor(), text)
    except _CONFIG_ERRORS as err:
        raise _config_error(err, deleting=True) from None
    return Response(200, {"content-type": JSON_TYPE, "x-minio-config-applied": "true"}, b"")


async def help_config_kv(call: AdminCall) -> Response:
    """madmin Help (plain JSON, as MinIO answers it): what ``mc admin config set ALIAS
    notify_redis`` prints when given no keys."""
    await call.allow("admin:ConfigUpdate")
    from workers.targets.config_help import all_help, subsystem_help

    subsystem = call.q("subSys")
    try:
        doc = subsystem_help(subsystem, call.q("key")) if subsystem else all_help()
    except ValueError as err:  # ConfigError: unknown sub-system or key
        raise AdminError("XMinioConfigError", str(err), 400) from None
    return Response(200, {"content-type": JSON_TYPE}, _dumps(doc))


# ---- server -------------------------------------------------------------------------------


def _version() -> str:
    try:
        return version("chronicle-s3")
    except Exception:  # noqa: BLE001 - not installed as a distribution
        return "0.1.0"


async def server_info(call: AdminCall) -> Response:
    await call.allow("admin:ServerInfo")
    buckets = await call.read(list_buckets)
    usage = await call.read(namespace_usage)
    host = call.req.headers.get("host", "")
    settings = call.ctx.settings
    return call.json(
        shapes.info_message(
            deployment_id=call.ctx.deployment_id,
            endpoint=host,
            version=_version(),
            uptime_seconds=int(time.monotonic() - call.ctx.started_monotonic),
            buckets=len(buckets),
            objects=usage["objects"],
            versions=usage["versions"],
            delete_markers=usage["delete_markers"],
            usage_bytes=usage["size"],
            region=settings.region,
            sqs_arns=(await call.ctx.current_targets()).arns(),
        )
    )


def _list_targets(call: AdminCall) -> Awaitable[Response]:
    return list_targets(call)


HANDLERS: dict[str, Callable[[AdminCall], Awaitable[Response]]] = {
    "chronicle/targets": _list_targets,
    "add-user": add_user,
    "remove-user": remove_user,
    "list-users": list_users,
    "user-info": user_info,
    "set-user-status": set_user_status,
    "add-canned-policy": add_canned_policy,
    "remove-canned-policy": remove_canned_policy,
    "list-canned-policies": list_canned_policies,
    "info-canned-policy": info_canned_policy,
    "set-user-or-group-policy": set_user_or_group_policy,
    "idp/builtin/policy/attach": attach_policy,
    "idp/builtin/policy/detach": detach_policy,
    "update-group-members": update_group_members,
    "groups": list_groups,
    "group": group_info,
    "set-group-status": set_group_status,
    "add-service-account": add_service_account,
    "update-service-account": update_service_account,
    "delete-service-account": delete_service_account,
    "list-service-accounts": list_service_accounts,
    "info-service-account": info_service_account,
    "set-config-kv": set_config_kv,
    "get-config-kv": get_config_kv,
    "del-config-kv": del_config_kv,
    "help-config-kv": help_config_kv,
    "info": server_info,
}

"""Admin API: service accounts (add, update, delete, list, info). As MinIO, a caller acting
on its own service accounts needs no admin action."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from api.admin import shapes
from api.iam import service as iam_service
from api.response import Response
from domain.policy import CANNED_POLICY_NAMES, canned_policy_document
from projections.iam import queries as iam_queries

if TYPE_CHECKING:
    pass
from api.admin.call import (
    DERIVED_KINDS,
    AdminCall,
    check_access_key,
    check_secret_key,
    ordered,
    resource_invalid,
    space_at_ends,
    time_of,
    validated_policy,
)
from api.admin.errors import (
    AdminError,
    access_denied,
    invalid_argument,
    no_such_service_account,
    no_such_user,
    not_allowed,
)


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
        await call.authorize()
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
        if space_at_ends(access_key):
            raise resource_invalid()
        check_access_key(access_key)
        check_secret_key(secret_key)
        if await call.read(iam_queries.key, access_key) is not None:
            raise AdminError("XMinioAdminServiceAccountExists", f"The access key {access_key} is already in use.", 409)
    policy = validated_policy(request["policy"], "session") if request.get("policy") else None
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
            access_key, secret_key, expiration=time_of(_expiration_us(expiration)) or shapes.TIME_SENTINEL
        )
    )


def _status(value: str) -> str:
    return shapes.STATUS_ENABLED if value in ("on", shapes.STATUS_ENABLED) else shapes.STATUS_DISABLED


async def update_service_account(call: AdminCall) -> Response:
    access_key = call.q("accessKey")
    if not access_key:
        raise AdminError("InvalidRequest", "Invalid Request (accessKey is required)", 400)
    await call.authorize()
    await _service_account(call, access_key)
    try:
        request = shapes.parse_update_service_account_request(await call.decrypted_body())
    except ValueError as exc:
        raise AdminError("XMinioInvalidResource", str(exc), 400) from None
    changes: dict[str, Any] = {}
    if "newSecretKey" in request:
        check_secret_key(request["newSecretKey"])
        changes["secret_key"] = request["newSecretKey"]
    if "newStatus" in request:
        changes["status"] = _status(request["newStatus"])
    if "newPolicy" in request:
        doc = request["newPolicy"]
        changes["policy"] = validated_policy(doc, "session") if doc else None
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
    if row["parent_user"] != call.me and not await call.authorized():
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
        expiration=time_of(row["expiration_us"]),
    )


async def list_service_accounts(call: AdminCall) -> Response:
    user = call.q("user")
    if user and user not in (call.identity.access_key, call.me):
        await call.authorize()
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
    if row["parent_user"] != call.me and not await call.authorized():
        raise access_denied()
    if row["policy"]:
        policy, implied = ordered(json.loads(row["policy"])), False
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
            expiration=time_of(row["expiration_us"]),
        )
    )

"""Admin API: users (add, remove, list, info, enable / disable)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from api.admin import shapes
from api.iam import service as iam_service
from api.response import Response
from projections.iam import queries as iam_queries

if TYPE_CHECKING:
    pass
from api.admin.call import (
    AdminCall,
    check_access_key,
    check_secret_key,
    require_policies,
    require_user,
    resource_invalid,
    space_at_ends,
    time_of,
)
from api.admin.errors import AdminError, bad_json, invalid_argument, not_allowed


async def add_user(call: AdminCall) -> Response:
    name = call.q("accessKey")
    ident = call.identity
    if name != ident.access_key:  # changing one's own secret needs no admin:CreateUser
        await call.authorize()
    if name == call.ctx.settings.root_user:
        raise AdminError("XMinioInvalidIAMCredentials", "Credential is not allowed to be same as admin access key", 403)
    existing = await call.read(iam_queries.key, name) if name else None
    if existing is not None and existing["kind"] != "user":
        raise AdminError(
            "XMinioInvalidIAMCredentials", "The access key belongs to a service account or temporary credentials.", 403
        )
    if ident.kind != "user" and not ident.is_root and ident.user == name:
        raise AdminError("XMinioInvalidIAMCredentials", "A derived credential cannot change its parent user.", 403)
    if existing is None and space_at_ends(name):
        raise resource_invalid()
    try:
        request = shapes.parse_add_user_request(await call.decrypted_body())
    except ValueError as exc:
        raise bad_json(f"JSON configuration provided is of incorrect format ({exc})") from None
    check_access_key(name)
    check_secret_key(request["secretKey"])
    policies = shapes.split_policy_names(request.get("policy", ""))
    if policies:
        await require_policies(call, policies)
    await iam_service.add_user(call.ctx, call.actor(), name, request["secretKey"], request["status"])
    if policies:
        await iam_service.set_user_policies(call.ctx, call.actor(), name, policies)
    return call.ok()


async def remove_user(call: AdminCall) -> Response:
    await call.authorize()
    name = call.q("accessKey")
    key = await call.read(iam_queries.key, name) if name else None
    if key is not None and key["kind"] != "user":
        raise not_allowed(
            "Only users can be removed with this call; delete service accounts with delete-service-account."
        )
    if name in (call.ctx.settings.root_user, call.identity.access_key, call.me):
        raise not_allowed("The root user and the caller itself cannot be removed.")
    await require_user(call, name)
    await iam_service.remove_user(call.ctx, call.actor(), name)
    return call.ok()


def _user_info(row: dict[str, Any]) -> shapes.UserInfo:
    return shapes.user_info(
        status=row["status"],
        policies=row["policies"],
        member_of=row["groups"],
        updated_at=time_of(row.get("updated_us")),
    )


async def list_users(call: AdminCall) -> Response:
    await call.authorize()
    rows = await call.read(iam_queries.list_users)
    return await call.encrypted(shapes.list_users_response({r["name"]: _user_info(r) for r in rows}))


async def user_info(call: AdminCall) -> Response:
    name = call.q("accessKey")
    if name not in (call.identity.access_key, call.me):
        await call.authorize()
    return call.json(_user_info(await require_user(call, name)))


async def set_user_status(call: AdminCall) -> Response:
    await call.authorize()
    name, status = call.q("accessKey"), call.q("status")
    if name in (call.identity.access_key, call.me):
        raise invalid_argument("You cannot enable or disable yourself.")
    if status not in shapes.STATUSES:
        raise invalid_argument("status must be enabled or disabled")
    await require_user(call, name)
    await iam_service.set_user_status(call.ctx, call.actor(), name, status)
    return call.ok()

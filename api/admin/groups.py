"""Admin API: groups (members, list, info, enable / disable)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from api.admin import shapes
from api.iam import service as iam_service
from api.response import Response
from projections.iam import queries as iam_queries

if TYPE_CHECKING:
    pass
from api.admin.call import AdminCall, require_group, require_user, resource_invalid, space_at_ends, time_of
from api.admin.errors import AdminError, invalid_argument, malformed_json, not_allowed


async def update_group_members(call: AdminCall) -> Response:
    await call.authorize()
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
        await require_user(call, member)
    if request["isRemove"]:
        group = await require_group(call, name)
        if not members and group["members"]:
            raise AdminError("XMinioAdminGroupNotEmpty", "The specified group is not empty - cannot remove it.", 400)
        await iam_service.update_group_members(call.ctx, call.actor(), name, members, remove=True)
        return call.ok()
    if space_at_ends(name) and await call.read(iam_queries.group, name) is None:
        raise resource_invalid()
    await iam_service.update_group_members(call.ctx, call.actor(), name, members, remove=False)
    if request["groupStatus"]:
        await iam_service.set_group_status(call.ctx, call.actor(), name, request["groupStatus"])
    return call.ok()


async def list_groups(call: AdminCall) -> Response:
    await call.authorize()
    return call.json(shapes.list_groups_response(await call.read(iam_queries.list_groups)))


async def group_info(call: AdminCall) -> Response:
    await call.authorize()
    group = await require_group(call, call.q("group"))
    return call.json(
        shapes.group_desc(
            group["name"],
            status=group["status"],
            members=group["members"],
            policies=group["policies"],
            updated_at=time_of(group.get("updated_us")),
        )
    )


async def set_group_status(call: AdminCall) -> Response:
    await call.authorize()
    name, status = call.q("group"), call.q("status")
    if status not in shapes.STATUSES:
        raise invalid_argument("status must be enabled or disabled")
    await require_group(call, name)
    await iam_service.set_group_status(call.ctx, call.actor(), name, status)
    return call.ok()

"""IAM query API: groups (CreateGroup, GetGroup, ListGroups, UpdateGroup, DeleteGroup,
membership, ListGroupsForUser); their inline policies are in api.iam.inline_policies. The same
groups MinIO's admin API manages; a member gets the group's policies while the group is enabled."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from api.errors import S3Error
from api.iam import query_service
from api.iam.api import user_xml
from api.iam.call import (
    GROUP_NAME,
    Call,
    arn,
    by_name,
    leaf_xml,
    no_such,
)
from api.iam.protocol import iso8601, unique_id
from projections.iam import queries as iam_queries

if TYPE_CHECKING:
    from api.response import Response


def group_xml(row: dict[str, Any]) -> str:
    name = row["name"]
    return (
        leaf_xml("Path", row["path"])
        + leaf_xml("GroupName", name)
        + leaf_xml("GroupId", unique_id("AGPA", row))
        + leaf_xml("Arn", arn("group", name, row["path"]))
        + leaf_xml("CreateDate", _iso(row["created_us"] or row["updated_us"]))
    )


def _iso(us: int) -> str:
    return iso8601(us / 1_000_000)


async def create_group(call: Call) -> Response:
    name = call.need("GroupName", GROUP_NAME)
    path = call.path()
    await call.authorize(arn("group", name, path))
    await query_service.create_group(call.ctx, call.actor(), name, path=path)
    return call.respond(f"<Group>{group_xml(await call.ctx.read(iam_queries.group, name))}</Group>")


async def get_group(call: Call) -> Response:
    _name, row = await call.entity("group")
    users = [u for u in await call.ctx.read(iam_queries.list_users) if u["name"] in row["members"]]
    page, tail = call.page(users, by_name)
    items = "".join(f"<member>{user_xml(u)}</member>" for u in page)
    return call.respond(f"<Group>{group_xml(row)}</Group><Users>{items}</Users>{tail}")


async def list_groups(call: Call) -> Response:
    await call.authorize(arn("group", "*"))
    rows = call.with_path_prefix(await call.ctx.read(iam_queries.group_rows))
    page, tail = call.page(rows, by_name)
    return call.respond("<Groups>" + "".join(f"<member>{group_xml(r)}</member>" for r in page) + "</Groups>" + tail)


async def list_groups_for_user(call: Call) -> Response:
    name = await call.user_param()
    row = await call.ctx.read(iam_queries.user, name)
    await call.authorize_user(name, row)
    if row is None:
        raise no_such("user", name)
    page, tail = call.page(await call.ctx.read(iam_queries.groups_of, name), by_name)
    return call.respond("<Groups>" + "".join(f"<member>{group_xml(r)}</member>" for r in page) + "</Groups>" + tail)


async def update_group(call: Call) -> Response:
    name, row = await call.entity("group")
    new_name = call.get("NewGroupName")
    if new_name is not None and new_name != name:
        # Groups are keyed by name in the log and in every policy that names them.
        raise validation_error_rename()
    if call.get("NewPath") is not None:
        path = call.path("NewPath")
        if path != row["path"]:
            await query_service.set_path(call.ctx, call.actor(), "group", name, path)
    return call.respond()


def validation_error_rename() -> S3Error:
    return S3Error("ValidationError", "Renaming is not supported by this server.", status=400)


async def delete_group(call: Call) -> Response:
    name, _row = await call.entity("group")
    await query_service.delete_group(call.ctx, call.actor(), name)
    return call.respond()


async def add_user_to_group(call: Call) -> Response:
    group, _row = await call.entity("group")
    name = await call.user_param()
    if await call.ctx.read(iam_queries.user, name) is None:
        raise no_such("user", name)
    await query_service.add_user_to_group(call.ctx, call.actor(), group, name)
    return call.respond()


async def remove_user_from_group(call: Call) -> Response:
    group, _row = await call.entity("group")
    name = await call.user_param()
    if await call.ctx.read(iam_queries.user, name) is None:
        raise no_such("user", name)
    await query_service.remove_user_from_group(call.ctx, call.actor(), group, name)
    return call.respond()

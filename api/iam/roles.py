"""IAM query API: roles (CreateRole, GetRole, ListRoles, UpdateRole, DeleteRole); their inline
policies are in api.iam.inline_policies. STS AssumeRole (api.iam.sts) hands out sessions
holding a role's policies to the callers its trust policy names."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from api.iam import query_service
from api.iam.call import (
    ENTITY_NAME,
    Call,
    by_name,
    encoded,
    leaf_xml,
    parse,
    role_arn,
)
from api.iam.protocol import iso8601, unique_id, validation_error
from projections.iam import queries as iam_queries

if TYPE_CHECKING:
    from api.response import Response


def role_xml(row: dict[str, Any]) -> str:
    name = row["name"]
    return (
        leaf_xml("Path", row["path"])
        + leaf_xml("RoleName", name)
        + leaf_xml("RoleId", unique_id("AROA", row))
        + leaf_xml("Arn", role_arn(name, row["path"]))
        + leaf_xml("CreateDate", iso8601(row["created_us"] / 1_000_000))
        + leaf_xml("AssumeRolePolicyDocument", encoded(row["trust_policy"]))
        + (leaf_xml("Description", row["description"]) if row["description"] else "")
        + leaf_xml("MaxSessionDuration", row["max_session_seconds"])
    )


def _description(call: Call) -> str:
    description = call.get("Description", "") or ""
    if len(description) > 1000:
        raise validation_error(
            "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have "
            "length less than or equal to 1000"
        )
    return description


def _max_session(call: Call, default: int) -> int:
    raw = call.get("MaxSessionDuration", str(default)) or str(default)
    try:
        value = int(raw)
    except ValueError:
        raise validation_error(
            f"1 validation error detected: Value '{raw}' at 'maxSessionDuration' failed to satisfy constraint: Member "
            "must be a number"
        ) from None
    if not 3600 <= value <= 43200:
        raise validation_error(
            f"1 validation error detected: Value '{value}' at 'maxSessionDuration' failed to satisfy constraint: "
            "Member must have value between 3600 and 43200"
        )
    return value


async def create_role(call: Call) -> Response:
    name = call.need("RoleName", ENTITY_NAME)
    text = call.need("AssumeRolePolicyDocument")
    path = call.path()
    await call.authorize(role_arn(name, path))
    trust = parse(text, "trust")
    description = _description(call)
    max_session = _max_session(call, 3600)
    await query_service.create_role(
        call.ctx,
        call.actor(),
        name,
        trust,
        description=description,
        max_session_seconds=max_session,
        path=path,
    )
    return call.respond(f"<Role>{role_xml(await call.ctx.read(iam_queries.role, name))}</Role>")


async def get_role(call: Call) -> Response:
    _name, row = await call.entity("role")
    return call.respond(f"<Role>{role_xml(row)}</Role>")


async def list_roles(call: Call) -> Response:
    await call.authorize(role_arn("*"))
    rows = call.with_path_prefix(await call.ctx.read(iam_queries.list_roles))
    page, tail = call.page(rows, by_name)
    return call.respond("<Roles>" + "".join(f"<member>{role_xml(r)}</member>" for r in page) + "</Roles>" + tail)


async def update_role(call: Call) -> Response:
    name, row = await call.entity("role")
    description = _description(call) if call.get("Description") is not None else row["description"]
    max_session = _max_session(call, row["max_session_seconds"])
    await query_service.update_role(
        call.ctx, call.actor(), name, description=description, max_session_seconds=max_session
    )
    return call.respond("")  # an empty <UpdateRoleResult/>, which the SDKs look for


async def delete_role(call: Call) -> Response:
    name, _row = await call.entity("role")
    await query_service.delete_role(call.ctx, call.actor(), name)
    return call.respond()

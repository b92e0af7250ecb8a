"""IAM query API: roles (CreateRole, GetRole, ListRoles, UpdateRole, DeleteRole) and their
inline policies. STS AssumeRole (api.iam.sts) hands out sessions holding a role's policies to the
callers its trust policy names."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from api.iam import query_service
from api.iam.call import (
    ENTITY_NAME,
    POLICY_NAME,
    Call,
    by_name,
    encoded,
    inline_policy_names_response,
    inline_policy_response,
    leaf_xml,
    no_such,
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


def _role_policy(text: str) -> dict[str, Any]:
    """A role's permission policy. Ceph accepts (and its clients send) a wildcard Principal in
    them; it names nobody beyond the role's sessions, so it is dropped before validation.
    Any other Principal is still MalformedPolicyDocument."""
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        return parse(text, "identity")
    statements = doc.get("Statement") if isinstance(doc, dict) else None
    items = statements if isinstance(statements, list) else [statements]
    changed = False
    for st in items:
        if isinstance(st, dict) and st.get("Principal") in ("*", {"AWS": "*"}):
            del st["Principal"]
            changed = True
    return parse(orjson.dumps(doc).decode() if changed else text, "identity")


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


async def _role(call: Call) -> tuple[str, dict[str, Any]]:
    """The role RoleName names, authorized on its ARN; NoSuchEntity when there is none."""
    name = await call.stored("role", call.need("RoleName", ENTITY_NAME))
    row = await call.ctx.read(iam_queries.role, name)
    await call.authorize(role_arn(name, row["path"] if row else "/"))
    if row is None:
        raise no_such("role", name)
    return name, row


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
    _name, row = await _role(call)
    return call.respond(f"<Role>{role_xml(row)}</Role>")


async def list_roles(call: Call) -> Response:
    await call.authorize(role_arn("*"))
    rows = call.with_path_prefix(await call.ctx.read(iam_queries.list_roles))
    page, tail = call.page(rows, by_name)
    return call.respond("<Roles>" + "".join(f"<member>{role_xml(r)}</member>" for r in page) + "</Roles>" + tail)


async def update_role(call: Call) -> Response:
    name, row = await _role(call)
    description = _description(call) if call.get("Description") is not None else row["description"]
    max_session = _max_session(call, row["max_session_seconds"])
    await query_service.update_role(
        call.ctx, call.actor(), name, description=description, max_session_seconds=max_session
    )
    return call.respond("")  # an empty <UpdateRoleResult/>, which the SDKs look for


async def delete_role(call: Call) -> Response:
    name, _row = await _role(call)
    await query_service.delete_role(call.ctx, call.actor(), name)
    return call.respond()


async def put_role_policy(call: Call) -> Response:
    policy_name = call.need("PolicyName", POLICY_NAME)
    text = call.need("PolicyDocument")
    name, _row = await _role(call)
    document = _role_policy(text)
    await query_service.put_role_policy(call.ctx, call.actor(), name, policy_name, document)
    return call.respond()


async def get_role_policy(call: Call) -> Response:
    policy_name = call.need("PolicyName", POLICY_NAME)
    name, _row = await _role(call)
    return await inline_policy_response(call, "role", name, policy_name)


async def list_role_policies(call: Call) -> Response:
    name, _row = await _role(call)
    return await inline_policy_names_response(call, "role", name)


async def delete_role_policy(call: Call) -> Response:
    policy_name = call.need("PolicyName", POLICY_NAME)
    name, _row = await _role(call)
    await query_service.delete_role_policy(call.ctx, call.actor(), name, policy_name)
    return call.respond()

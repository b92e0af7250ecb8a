"""Admin API: canned policies (add, remove, list, info) and attaching them to users and groups."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from api.admin import shapes
from api.iam import service as iam_service
from api.response import Response
from domain.policy import CANNED_POLICY_NAMES, canned_policy_document
from projections.iam import queries as iam_queries

if TYPE_CHECKING:
    pass
from api.admin.call import (
    JSON_TYPE,
    MAX_POLICY_BYTES,
    AdminCall,
    ordered,
    policy_document,
    require_group,
    require_policies,
    require_user,
    resource_invalid,
    space_at_ends,
    utc_now,
    validated_policy,
)
from api.admin.errors import AdminError, invalid_argument, no_such_policy, not_allowed


async def add_canned_policy(call: AdminCall) -> Response:
    await call.authorize()
    name = call.q("name")
    if not name or space_at_ends(name):
        raise resource_invalid()
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
    document = validated_policy(body)
    if not document.get("Version"):
        raise AdminError("MalformedPolicy", "The policy must contain a valid version string", 400)
    await iam_service.put_policy(call.ctx, call.actor(), name, document)
    return call.ok()


async def remove_canned_policy(call: AdminCall) -> Response:
    await call.authorize()
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
    await call.authorize()
    policies: dict[str, Any] = {name: canned_policy_document(name) for name in CANNED_POLICY_NAMES}
    for row in await call.read(iam_queries.managed_policies):
        policies[row["name"]] = ordered(row["document"])
    return call.json(shapes.list_canned_policies_response(dict(sorted(policies.items()))))


async def info_canned_policy(call: AdminCall) -> Response:
    await call.authorize()
    name = call.q("name")
    if "," in name:
        raise AdminError("XMinioAdminInvalidRequest", "Only a single policy may be specified here.", 400)
    version = call.q("v")
    if version not in ("", "2"):
        raise invalid_argument("invalid version parameter 'v' supplied")
    found = await policy_document(call, name)
    if found is None:
        raise no_such_policy(name)
    document, created, updated = found
    info = shapes.info_canned_policy_response(name, document, version=version or None, created=created, updated=updated)
    return Response(200, {"content-type": JSON_TYPE}, json.dumps(info, indent=1).encode())


async def _entity(call: AdminCall, name: str, is_group: bool) -> dict[str, Any]:
    if is_group:
        return await require_group(call, name)
    if name == call.ctx.settings.root_user:
        raise not_allowed("Policies cannot be attached to the root user.")
    key = await call.read(iam_queries.key, name) if name else None
    if key is not None and key["kind"] == "sts":
        raise not_allowed("Policies cannot be attached to temporary credentials.")
    return await require_user(call, name)


async def set_user_or_group_policy(call: AdminCall) -> Response:
    await call.authorize()
    name = call.q("userOrGroup")
    is_group = call.q("isGroup") == "true"
    policies = shapes.split_policy_names(call.q("policyName"))
    await _entity(call, name, is_group)
    await require_policies(call, policies)
    await iam_service.set_user_policies(call.ctx, call.actor(), name, policies, is_group=is_group)
    return call.ok()


async def _attach_detach(call: AdminCall, *, attach: bool) -> Response:
    await call.authorize()
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
        await require_policies(call, changed)
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
        attached=changed if attach else (), detached=() if attach else changed, updated_at=utc_now()
    )
    return await call.encrypted(resp)


async def attach_policy(call: AdminCall) -> Response:
    return await _attach_detach(call, attach=True)


async def detach_policy(call: AdminCall) -> Response:
    return await _attach_detach(call, attach=False)

"""Inline policies of users, groups and roles through the IAM query API
(Put/Get/List/Delete{User,Group,Role}Policy): one handler per action, made for an entity kind.
The entity is named and authorized as every other action on it (api.iam.call.Call.entity):
a caller not allowed to ask is refused before it learns whether the entity exists."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson

from api.errors import S3Error
from api.iam import query_service
from api.iam.call import POLICY_NAME, Call, encoded, leaf_xml, members, parse
from projections.iam import queries as iam_queries

if TYPE_CHECKING:
    from api.response import Response

Handler = Callable[[Call], Awaitable["Response"]]


def _document(kind: str, text: str) -> dict[str, Any]:
    """The policy document a Put{User,Group,Role}Policy carries, validated as an identity policy."""
    return _role_policy(text) if kind == "role" else parse(text, "identity")


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


def put_handler(kind: str) -> Handler:
    """Put{User,Group,Role}Policy: add the policy, or replace the one of that name."""

    async def handler(call: Call) -> Response:
        policy_name = call.need("PolicyName", POLICY_NAME)
        text = call.need("PolicyDocument")
        name, _row = await call.entity(kind)
        document = _document(kind, text)
        await query_service.put_inline_policy(call.ctx, call.actor(), kind, name, policy_name, document)
        return call.respond()

    return handler


def get_handler(kind: str) -> Handler:
    """Get{User,Group,Role}Policy: the owner's name, the policy's, its document."""

    async def handler(call: Call) -> Response:
        policy_name = call.need("PolicyName", POLICY_NAME)
        name, _row = await call.entity(kind)
        document = await call.ctx.read(iam_queries.inline_policy, kind, name, policy_name)
        if document is None:
            raise S3Error("NoSuchEntity", f"The {kind} policy with name {policy_name} cannot be found.", status=404)
        return call.respond(
            leaf_xml(f"{kind.capitalize()}Name", name)
            + leaf_xml("PolicyName", policy_name)
            + leaf_xml("PolicyDocument", encoded(document))
        )

    return handler


def list_handler(kind: str) -> Handler:
    """List{User,Group,Role}Policies: the policies' names, paged."""

    async def handler(call: Call) -> Response:
        name, _row = await call.entity(kind)
        names, tail = call.page_names(await call.ctx.read(iam_queries.inline_policy_names, kind, name))
        return call.respond(members("PolicyNames", names) + tail)

    return handler


def delete_handler(kind: str) -> Handler:
    """Delete{User,Group,Role}Policy: NoSuchEntity when there is no policy of that name."""

    async def handler(call: Call) -> Response:
        policy_name = call.need("PolicyName", POLICY_NAME)
        name, _row = await call.entity(kind)
        await query_service.delete_inline_policy(call.ctx, call.actor(), kind, name, policy_name)
        return call.respond()

    return handler

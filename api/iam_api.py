"""The AWS IAM query API subset (POST / with Action=..., SigV4 service "iam"), so `aws iam` and
the SDKs can manage users, access keys, inline policies, roles and groups. Answers in AWS's
XML (namespace https://iam.amazonaws.com/doc/2010-05-08/); errors NoSuchEntity,
EntityAlreadyExists, DeleteConflict, LimitExceeded, MalformedPolicyDocument, ValidationError and
AccessDenied as <ErrorResponse> (rendered by api.sts.query_api).

Authorization: root, or an identity policy allowing iam:<Action> on the entity's ARN
(arn:aws:iam::<account>:user/<name>, role/<name>, group/<name>). A user created here exists
without a usable secret (a random one nobody is told) until CreateAccessKey gives it keys.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from xml.sax.saxutils import escape

from api import iam_service
from api.authz import ACCOUNT, decide
from api.errors import S3Error
from api.sts import caller_arn, entity_id, iso8601, leaf, query_response, validation_error
from domain.policy import parse_policy
from projections import iam_queries

if TYPE_CHECKING:
    from api.context import ServerContext
    from api.request import S3Request
    from api.response import Response

ENTITY_NAME = re.compile(r"[\w+=,.@-]{1,64}")
GROUP_NAME = re.compile(r"[\w+=,.@-]{1,128}")
POLICY_NAME = re.compile(r"[\w+=,.@-]{1,128}")
MAX_ACCESS_KEYS = 2
CANONICAL_ID = re.compile(r"[0-9a-f]{64}")  # AWS's AccessKeysPerUser quota


class Call:
    """One IAM request: its parameters, caller and the helpers every action uses."""

    def __init__(self, req: S3Request, ctx: ServerContext, action: str, params: dict[str, str]) -> None:
        self.req = req
        self.ctx = ctx
        self.action = action
        self.params = params
        self.identity = req.identity
        self.root_user = ctx.settings.root_user

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.params.get(name)
        return default if value is None or value == "" else value

    def need(self, name: str, pattern: re.Pattern[str] | None = None) -> str:
        value = self.params.get(name)
        if value is None or value == "":
            raise validation_error(f"1 validation error detected: Value null at '{name[:1].lower() + name[1:]}' failed to satisfy constraint: Member must not be null")
        if pattern is not None and not pattern.fullmatch(value):
            raise validation_error(
                f"1 validation error detected: Value '{value}' at '{name[:1].lower() + name[1:]}' failed to satisfy constraint: "
                f"Member must satisfy regular expression pattern: {pattern.pattern}"
            )
        return value

    def caller_user(self) -> str:
        """UserName defaults to the caller (its parent user for keys and sessions)."""
        name = self.get("UserName")
        if name is not None and not ENTITY_NAME.fullmatch(name) and name != self.root_user:
            self.need("UserName", ENTITY_NAME)
        return name or self.identity.user

    async def user_param(self) -> str:
        """UserName, which may also be given as the user's canonical id (the id ACLs, owners
        and S3 clients such as Ceph's s3-tests know a user by): the user's name either way."""
        name = self.need("UserName", ENTITY_NAME)
        if CANONICAL_ID.fullmatch(name) and await self.ctx.read(iam_queries.user, name) is None:
            from api.handlers.buckets import canonical_id

            for row in await self.ctx.read(iam_queries.list_users):
                if canonical_id(row["name"]) == name:
                    return str(row["name"])
        return name

    async def authorize(self, resource: str) -> None:
        if self.identity.is_root:
            return
        allowed, _reason, _row = await decide(self.ctx, self.req, f"iam:{self.action}", resource, None)
        if not allowed:
            raise S3Error(
                "AccessDenied",
                f"User: {caller_arn(self.identity, self.root_user)} is not authorized to perform: iam:{self.action} on resource: {resource}",
                status=403,
            )

    def respond(self, result: str | None = None) -> Response:
        return query_response(self.req, "iam", self.action, result)

    def actor(self) -> dict[str, str]:
        return self.req.actor()


def arn(kind: str, name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:{kind}/{name}"


def role_arn(name: str) -> str:
    """Roles are account-less ("arn:aws:iam:::role/<name>"), as MinIO's and Ceph's role ARNs;
    AssumeRole takes this form and the one with the account id alike."""
    return f"arn:aws:iam:::role/{name}"


def _role_policy(text: str) -> dict[str, Any]:
    """A role's permission policy. Ceph accepts (and its clients send) a wildcard Principal in
    them; it names nobody beyond the role's sessions, so it is dropped before validation.
    Any other Principal is still MalformedPolicyDocument."""
    import orjson

    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        return _parse(text, "identity")
    statements = doc.get("Statement") if isinstance(doc, dict) else None
    items = statements if isinstance(statements, list) else [statements]
    changed = False
    for st in items:
        if isinstance(st, dict) and st.get("Principal") in ("*", {"AWS": "*"}):
            del st["Principal"]
            changed = True
    return _parse(orjson.dumps(doc).decode() if changed else text, "identity")


def encoded(document: Any) -> str:
    """Policy documents travel URL-encoded (botocore decodes them)."""
    import orjson

    text = document if isinstance(document, str) else orjson.dumps(document).decode()
    return quote(text, safe="")


def members(tag: str, items: list[str]) -> str:
    return f"<{tag}>" + "".join(f"<member>{escape(item)}</member>" for item in items) + f"</{tag}>"


def no_such(kind: str, name: str) -> S3Error:
    return S3Error("NoSuchEntity", f"The {kind} with name {name} cannot be found.", status=404)


def _parse(document: str, kind: str) -> dict[str, Any]:
    return parse_policy(document, kind=kind).document  # type: ignore[arg-type]  # DomainError: MalformedPolicyDocument


# -- users --------------------------------------------------------------------------------


def user_xml(row: dict[str, Any]) -> str:
    name = row["name"]
    return (
        leaf("Path", "/") + leaf("UserName", name) + leaf("UserId", entity_id("AIDA", name))
        + leaf("Arn", arn("user", name)) + leaf("CreateDate", iso8601(row["created_us"] / 1_000_000))
    )


async def _user_row(call: Call, name: str) -> dict[str, Any]:
    row = await call.ctx.read(iam_queries.user, name)
    if row is None:
        raise no_such("user", name)
    return row


async def create_user(call: Call) -> Response:
    name = call.need("UserName", ENTITY_NAME)
    await call.authorize(arn("user", name))
    if name == call.root_user:
        raise S3Error("EntityAlreadyExists", f"User with name {name} already exists.", status=409)
    try:
        await iam_service.add_user(call.ctx, call.actor(), name, iam_service.new_secret_key(), exclusive=True)
    except S3Error as err:
        if err.code == "InvalidArgument":
            if "already" in err.message:
                raise S3Error("EntityAlreadyExists", f"User with name {name} already exists.", status=409) from None
            raise validation_error(err.message) from None
        raise
    return call.respond(f"<User>{user_xml(await _user_row(call, name))}</User>")


async def get_user(call: Call) -> Response:
    name = call.caller_user()
    await call.authorize(arn("user", name))
    if name == call.root_user:
        root = leaf("UserId", ACCOUNT) + leaf("Arn", f"arn:aws:iam::{ACCOUNT}:root") + leaf("CreateDate", iso8601(0))
        return call.respond(f"<User>{root}</User>")
    return call.respond(f"<User>{user_xml(await _user_row(call, name))}</User>")


def _page(call: Call, names: list[str]) -> tuple[list[str], str]:
    """Marker / MaxItems paging over sorted names: (page, IsTruncated + Marker XML)."""
    marker = call.get("Marker")
    if marker is not None:
        names = [n for n in names if n > marker]
    raw = call.get("MaxItems", "100") or "100"
    try:
        limit = int(raw)
    except ValueError:
        raise validation_error(f"1 validation error detected: Value '{raw}' at 'maxItems' failed to satisfy constraint: Member must be a number") from None
    if not 1 <= limit <= 1000:
        raise validation_error(f"1 validation error detected: Value '{limit}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000")
    page = names[:limit]
    if len(names) > limit:
        return page, leaf("IsTruncated", True) + leaf("Marker", page[-1])
    return page, leaf("IsTruncated", False)


async def list_users(call: Call) -> Response:
    await call.authorize(arn("user", "*"))
    rows = {r["name"]: r for r in await call.ctx.read(iam_queries.list_users)}
    page, tail = _page(call, sorted(rows))
    users = "".join(f"<member>{user_xml(rows[n])}</member>" for n in page)
    return call.respond(f"<Users>{users}</Users>{tail}")


def _user_conflicts(tx: Any, name: str) -> str | None:
    if iam_queries.keys_of(tx, name, ("iam",)):
        return "Cannot delete entity, must delete access keys first."
    if iam_queries.inline_policy_names(tx, "user", name):
        return "Cannot delete entity, must delete policies first."
    row = iam_queries.user(tx, name)
    if row is not None and row["groups"]:
        return "Cannot delete entity, must remove users from group first."
    return None


async def delete_user(call: Call) -> Response:
    name = call.need("UserName", ENTITY_NAME)
    await call.authorize(arn("user", name))
    await _user_row(call, name)
    conflict = await call.ctx.read(_user_conflicts, name)
    if conflict:
        raise S3Error("DeleteConflict", conflict, status=409)
    await iam_service.remove_user(call.ctx, call.actor(), name)
    return call.respond()


# -- access keys --------------------------------------------------------------------------


def _status(value: str) -> str:
    return "Active" if value == "enabled" else "Inactive"


async def _target_user(call: Call) -> str:
    name = call.caller_user()
    await call.authorize(arn("user", name))
    if name != call.root_user:
        await _user_row(call, name)
    return name


async def create_access_key(call: Call) -> Response:
    name = await _target_user(call)
    existing = await call.ctx.read(iam_queries.keys_of, name, ("iam",))
    if len(existing) >= MAX_ACCESS_KEYS:
        raise S3Error("LimitExceeded", f"Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS}", status=409)
    access_key, secret_key = await iam_service.add_access_key(call.ctx, call.actor(), name, kind="iam")
    row = await call.ctx.read(iam_queries.key, access_key)
    created = row["created_us"] / 1_000_000 if row else call.ctx.clock()
    key = (
        leaf("UserName", name) + leaf("AccessKeyId", access_key) + leaf("Status", "Active")
        + leaf("SecretAccessKey", secret_key) + leaf("CreateDate", iso8601(created))
    )
    return call.respond(f"<AccessKey>{key}</AccessKey>")


async def list_access_keys(call: Call) -> Response:
    name = await _target_user(call)
    rows = await call.ctx.read(iam_queries.keys_of, name, ("iam",))
    items = "".join(
        "<member>" + leaf("UserName", name) + leaf("AccessKeyId", r["access_key"]) + leaf("Status", _status(r["status"]))
        + leaf("CreateDate", iso8601(r["created_us"] / 1_000_000)) + "</member>"
        for r in rows
    )
    return call.respond(f"<AccessKeyMetadata>{items}</AccessKeyMetadata>" + leaf("IsTruncated", False))


async def _own_key(call: Call, name: str) -> str:
    access_key = call.need("AccessKeyId")
    row = await call.ctx.read(iam_queries.key, access_key)
    if row is None or row["kind"] != "iam" or row["parent_user"] != name:
        raise S3Error("NoSuchEntity", f"The Access Key with id {access_key} cannot be found.", status=404)
    return access_key


async def update_access_key(call: Call) -> Response:
    name = await _target_user(call)
    access_key = await _own_key(call, name)
    status = call.need("Status")
    if status not in ("Active", "Inactive"):
        raise validation_error(f"1 validation error detected: Value '{status}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]")
    await iam_service.update_access_key(call.ctx, call.actor(), access_key, {"status": "enabled" if status == "Active" else "disabled"})
    return call.respond()


async def delete_access_key(call: Call) -> Response:
    name = await _target_user(call)
    access_key = await _own_key(call, name)
    await iam_service.delete_access_key(call.ctx, call.actor(), access_key)
    return call.respond()


# -- inline policies of users -------------------------------------------------------------


async def put_user_policy(call: Call) -> Response:
    name = await call.user_param()
    policy_name = call.need("PolicyName", POLICY_NAME)
    text = call.need("PolicyDocument")
    await call.authorize(arn("user", name))
    document = _parse(text, "identity")
    await _user_row(call, name)
    await iam_service.put_user_inline_policy(call.ctx, call.actor(), name, policy_name, document)
    return call.respond()


async def _inline(call: Call, owner_kind: str, owner: str, policy_name: str) -> Any:
    document = await call.ctx.read(iam_queries.inline_policy, owner_kind, owner, policy_name)
    if document is None:
        raise S3Error("NoSuchEntity", f"The {owner_kind} policy with name {policy_name} cannot be found.", status=404)
    return document


async def get_user_policy(call: Call) -> Response:
    name = await call.user_param()
    policy_name = call.need("PolicyName", POLICY_NAME)
    await call.authorize(arn("user", name))
    await _user_row(call, name)
    document = await _inline(call, "user", name, policy_name)
    return call.respond(leaf("UserName", name) + leaf("PolicyName", policy_name) + leaf("PolicyDocument", encoded(document)))


async def list_user_policies(call: Call) -> Response:
    name = await call.user_param()
    await call.authorize(arn("user", name))
    await _user_row(call, name)
    names, tail = _page(call, await call.ctx.read(iam_queries.inline_policy_names, "user", name))
    return call.respond(members("PolicyNames", names) + tail)


async def delete_user_policy(call: Call) -> Response:
    name = await call.user_param()
    policy_name = call.need("PolicyName", POLICY_NAME)
    await call.authorize(arn("user", name))
    await _user_row(call, name)
    await iam_service.delete_user_inline_policy(call.ctx, call.actor(), name, policy_name)
    return call.respond()


# -- roles --------------------------------------------------------------------------------


def role_xml(row: dict[str, Any]) -> str:
    name = row["name"]
    return (
        leaf("Path", "/") + leaf("RoleName", name) + leaf("RoleId", entity_id("AROA", name))
        + leaf("Arn", role_arn(name)) + leaf("CreateDate", iso8601(row["created_us"] / 1_000_000))
        + leaf("AssumeRolePolicyDocument", encoded(row["trust_policy"]))
        + (leaf("Description", row["description"]) if row["description"] else "")
        + leaf("MaxSessionDuration", row["max_session_seconds"])
    )


async def _role_row(call: Call, name: str) -> dict[str, Any]:
    row = await call.ctx.read(iam_queries.role, name)
    if row is None:
        raise no_such("role", name)
    return row


async def create_role(call: Call) -> Response:
    name = call.need("RoleName", ENTITY_NAME)
    text = call.need("AssumeRolePolicyDocument")
    await call.authorize(arn("role", name))
    trust = _parse(text, "trust")
    description = call.get("Description", "") or ""
    if len(description) > 1000:
        raise validation_error("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 1000")
    raw = call.get("MaxSessionDuration", "3600") or "3600"
    try:
        max_session = int(raw)
    except ValueError:
        raise validation_error(f"1 validation error detected: Value '{raw}' at 'maxSessionDuration' failed to satisfy constraint: Member must be a number") from None
    if not 3600 <= max_session <= 43200:
        raise validation_error(f"1 validation error detected: Value '{max_session}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value between 3600 and 43200")
    await iam_service.create_role(call.ctx, call.actor(), name, trust, description=description, max_session_seconds=max_session)
    return call.respond(f"<Role>{role_xml(await _role_row(call, name))}</Role>")


async def get_role(call: Call) -> Response:
    name = call.need("RoleName", ENTITY_NAME)
    await call.authorize(arn("role", name))
    return call.respond(f"<Role>{role_xml(await _role_row(call, name))}</Role>")


async def list_roles(call: Call) -> Response:
    await call.authorize(arn("role", "*"))
    rows = {r["name"]: r for r in await call.ctx.read(iam_queries.list_roles)}
    page, tail = _page(call, sorted(rows))
    return call.respond("<Roles>" + "".join(f"<member>{role_xml(rows[n])}</member>" for n in page) + "</Roles>" + tail)


async def delete_role(call: Call) -> Response:
    name = call.need("RoleName", ENTITY_NAME)
    await call.authorize(arn("role", name))
    await _role_row(call, name)
    await iam_service.delete_role(call.ctx, call.actor(), name)
    return call.respond()


async def put_role_policy(call: Call) -> Response:
    name = call.need("RoleName", ENTITY_NAME)
    policy_name = call.need("PolicyName", POLICY_NAME)
    text = call.need("PolicyDocument")
    await call.authorize(arn("role", name))
    document = _role_policy(text)
    await _role_row(call, name)
    await iam_service.put_role_policy(call.ctx, call.actor(), name, policy_name, document)
    return call.respond()


async def get_role_policy(call: Call) -> Response:
    name = call.need("RoleName", ENTITY_NAME)
    policy_name = call.need("PolicyName", POLICY_NAME)
    await call.authorize(arn("role", name))
    await _role_row(call, name)
    document = await _inline(call, "role", name, policy_name)
    return call.respond(leaf("RoleName", name) + leaf("PolicyName", policy_name) + leaf("PolicyDocument", encoded(document)))


async def list_role_policies(call: Call) -> Response:
    name = call.need("RoleName", ENTITY_NAME)
    await call.authorize(arn("role", name))
    await _role_row(call, name)
    names, tail = _page(call, await call.ctx.read(iam_queries.inline_policy_names, "role", name))
    return call.respond(members("PolicyNames", names) + tail)


async def delete_role_policy(call: Call) -> Response:
    name = call.need("RoleName", ENTITY_NAME)
    policy_name = call.need("PolicyName", POLICY_NAME)
    await call.authorize(arn("role", name))
    await _role_row(call, name)
    await iam_service.delete_role_policy(call.ctx, call.actor(), name, policy_name)
    return call.respond()


# -- groups -------------------------------------------------------------------------------


async def create_group(call: Call) -> Response:
    name = call.need("GroupName", GROUP_NAME)
    await call.authorize(arn("group", name))
    await iam_service.create_group(call.ctx, call.actor(), name)
    row = await call.ctx.read(iam_queries.group, name)
    created = row["updated_us"] / 1_000_000 if row else call.ctx.clock()
    group = (
        leaf("Path", "/") + leaf("GroupName", name) + leaf("GroupId", entity_id("AGPA", name))
        + leaf("Arn", arn("group", name)) + leaf("CreateDate", iso8601(created))
    )
    return call.respond(f"<Group>{group}</Group>")


async def add_user_to_group(call: Call) -> Response:
    group = call.need("GroupName", GROUP_NAME)
    name = call.need("UserName", ENTITY_NAME)
    await call.authorize(arn("group", group))
    await _user_row(call, name)
    await iam_service.add_user_to_group(call.ctx, call.actor(), group, name)
    return call.respond()


async def put_group_policy(call: Call) -> Response:
    group = call.need("GroupName", GROUP_NAME)
    policy_name = call.need("PolicyName", POLICY_NAME)
    text = call.need("PolicyDocument")
    await call.authorize(arn("group", group))
    document = _parse(text, "identity")
    await iam_service.put_group_policy(call.ctx, call.actor(), group, policy_name, document)
    return call.respond()


ACTIONS: dict[str, Callable[[Call], Awaitable[Response]]] = {
    "CreateUser": create_user,
    "GetUser": get_user,
    "ListUsers": list_users,
    "DeleteUser": delete_user,
    "CreateAccessKey": create_access_key,
    "ListAccessKeys": list_access_keys,
    "UpdateAccessKey": update_access_key,
    "DeleteAccessKey": delete_access_key,
    "PutUserPolicy": put_user_policy,
    "GetUserPolicy": get_user_policy,
    "ListUserPolicies": list_user_policies,
    "DeleteUserPolicy": delete_user_policy,
    "CreateRole": create_role,
    "GetRole": get_role,
    "ListRoles": list_roles,
    "DeleteRole": delete_role,
    "PutRolePolicy": put_role_policy,
    "GetRolePolicy": get_role_policy,
    "ListRolePolicies": list_role_policies,
    "DeleteRolePolicy": delete_role_policy,
    "CreateGroup": create_group,
    "AddUserToGroup": add_user_to_group,
    "PutGroupPolicy": put_group_policy,
}


async def dispatch(req: S3Request, ctx: ServerContext, action: str, params: dict[str, str]) -> Response:
    handler = ACTIONS.get(action)
    if handler is None:
        raise S3Error("InvalidAction", f"Could not find operation {action} for version 2010-05-08", status=400)
    return await handler(Call(req, ctx, action, params))

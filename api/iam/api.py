"""The AWS IAM query API subset (POST / with Action=..., SigV4 service "iam"), so `aws iam` and
the SDKs can manage users, access keys, inline and managed policies, roles and groups. Answers
in AWS's XML (namespace https://iam.amazonaws.com/doc/2010-05-08/); errors NoSuchEntity,
EntityAlreadyExists, DeleteConflict, LimitExceeded, MalformedPolicyDocument, ValidationError and
AccessDenied as <ErrorResponse> (rendered by api.iam.query_api).

This module: users, their access keys, GetAccountSummary; groups (api.iam.groups), roles
(api.iam.roles), inline policies of all three (api.iam.inline_policies), managed policy
attachments (api.iam.managed) and OpenID Connect providers (api.iam.oidc) beside it, sharing
api.iam.call. Every action is a row
of api.iam.operations.

Authorization: root, or an identity policy allowing iam:<Action> on the entity's ARN
(arn:aws:iam::<account>:user/<path>/<name>, role/..., group/...). A user created here exists
without a usable secret (a random one nobody is told) until CreateAccessKey gives it keys.
Names are unique regardless of case, as IAM's: "bob" finds the user "Bob".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from api.errors import S3Error
from api.iam import query_service
from api.iam import service as iam_service
from api.iam.call import (
    ENTITY_NAME,
    MAX_ACCESS_KEYS,
    Call,
    arn,
    by_name,
    leaf_xml,
)
from api.iam.protocol import iso8601, unique_id, validation_error
from domain.ownership import ACCOUNT
from projections.iam import queries as iam_queries

if TYPE_CHECKING:
    from api.response import Response

leaf = leaf_xml


# -- users --------------------------------------------------------------------------------


def user_xml(row: dict[str, Any]) -> str:
    name = row["name"]
    return (
        leaf("Path", row["path"])
        + leaf("UserName", name)
        + leaf("UserId", unique_id("AIDA", row))
        + leaf("Arn", arn("user", name, row["path"]))
        + leaf("CreateDate", iso8601(row["created_us"] / 1_000_000))
    )


async def create_user(call: Call) -> Response:
    name = call.need("UserName", ENTITY_NAME)
    path = call.path()
    await call.authorize(arn("user", name, path))
    if name.lower() == call.root_user.lower():
        raise S3Error("EntityAlreadyExists", f"User with name {name} already exists.", status=409)
    try:
        await iam_service.add_user(
            call.ctx, call.actor(), name, iam_service.new_secret_key(), exclusive=True, path=path
        )
    except S3Error as err:
        if err.code == "InvalidArgument":
            if "already" in err.message:
                raise S3Error("EntityAlreadyExists", f"User with name {name} already exists.", status=409) from None
            raise validation_error(err.message) from None
        raise
    return call.respond(f"<User>{user_xml(await call.ctx.read(iam_queries.user, name))}</User>")


async def get_user(call: Call) -> Response:
    name = call.caller_user()
    if name == call.root_user:
        await call.authorize(f"arn:aws:iam::{ACCOUNT}:root")
        root = leaf("UserId", ACCOUNT) + leaf("Arn", f"arn:aws:iam::{ACCOUNT}:root") + leaf("CreateDate", iso8601(0))
        return call.respond(f"<User>{root}</User>")
    return call.respond(f"<User>{user_xml(await call.found('user', await call.stored('user', name)))}</User>")


async def list_users(call: Call) -> Response:
    await call.authorize(arn("user", "*"))
    rows = call.with_path_prefix(await call.ctx.read(iam_queries.list_users))
    page, tail = call.page(rows, by_name)
    users = "".join(f"<member>{user_xml(r)}</member>" for r in page)
    return call.respond(f"<Users>{users}</Users>{tail}")


async def update_user(call: Call) -> Response:
    name = await call.user_param()
    row = await call.found("user", name)
    new_name = call.get("NewUserName")
    if new_name is not None and new_name != name:
        # A user's name is its MinIO access key and the owner recorded on its buckets and objects.
        raise S3Error("ValidationError", "Renaming users is not supported by this server.", status=400)
    if call.get("NewPath") is not None:
        path = call.path("NewPath")
        if path != row["path"]:
            await query_service.set_path(call.ctx, call.actor(), "user", name, path)
    return call.respond()


def _user_conflicts(tx: Any, name: str) -> str | None:
    if iam_queries.keys_of(tx, name, ("iam",)):
        return "Cannot delete entity, must delete access keys first."
    if iam_queries.inline_policy_names(tx, "user", name):
        return "Cannot delete entity, must delete policies first."
    row = iam_queries.user(tx, name)
    if row is not None and row["policies"]:
        return "Cannot delete entity, must detach all policies first."
    if row is not None and row["groups"]:
        return "Cannot delete entity, must remove users from group first."
    return None


async def delete_user(call: Call) -> Response:
    name = await call.user_param()
    await call.found("user", name)
    conflict = await call.ctx.read(_user_conflicts, name)
    if conflict:
        raise S3Error("DeleteConflict", conflict, status=409)
    await iam_service.remove_user(call.ctx, call.actor(), name)
    return call.respond()


# -- access keys --------------------------------------------------------------------------


def _status(value: str) -> str:
    return "Active" if value == "enabled" else "Inactive"


async def _target_user(call: Call) -> str:
    """UserName, or the caller itself (root included) when it is left out."""
    name = call.caller_user()
    if name == call.root_user:
        await call.authorize(f"arn:aws:iam::{ACCOUNT}:root")
        return name
    name = await call.stored("user", name)
    await call.found("user", name)
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
        leaf("UserName", name)
        + leaf("AccessKeyId", access_key)
        + leaf("Status", "Active")
        + leaf("SecretAccessKey", secret_key)
        + leaf("CreateDate", iso8601(created))
    )
    return call.respond(f"<AccessKey>{key}</AccessKey>")


async def list_access_keys(call: Call) -> Response:
    name = await _target_user(call)
    rows = [dict(r, name=r["access_key"]) for r in await call.ctx.read(iam_queries.keys_of, name, ("iam",))]
    page, tail = call.page(rows, lambda r: r["access_key"])
    items = "".join(
        "<member>"
        + leaf("UserName", name)
        + leaf("AccessKeyId", r["access_key"])
        + leaf("Status", _status(r["status"]))
        + leaf("CreateDate", iso8601(r["created_us"] / 1_000_000))
        + "</member>"
        for r in page
    )
    return call.respond(f"<AccessKeyMetadata>{items}</AccessKeyMetadata>" + tail)


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
        raise validation_error(
            f"1 validation error detected: Value '{status}' at 'status' failed to satisfy constraint: Member must "
            "satisfy enum value set: [Active, Inactive]"
        )
    await iam_service.update_access_key(
        call.ctx, call.actor(), access_key, {"status": "enabled" if status == "Active" else "disabled"}
    )
    return call.respond()


async def delete_access_key(call: Call) -> Response:
    name = await _target_user(call)
    access_key = await _own_key(call, name)
    await iam_service.delete_access_key(call.ctx, call.actor(), access_key)
    return call.respond()


# -- the account --------------------------------------------------------------------------


def _summary(tx: Any) -> dict[str, int]:
    def count(sql: str) -> int:
        return int(tx.scalar(sql) or 0)

    return {
        "Users": count("SELECT COUNT(*) FROM iam_users"),
        "UsersQuota": 5000,
        "Groups": count("SELECT COUNT(*) FROM iam_groups"),
        "GroupsQuota": 300,
        "Roles": count("SELECT COUNT(*) FROM iam_roles"),
        "RolesQuota": 1000,
        "Policies": count("SELECT COUNT(*) FROM iam_policies"),
        "PoliciesQuota": 1500,
        "AccessKeysPerUserQuota": MAX_ACCESS_KEYS,
        "GroupsPerUserQuota": 10,
        "AttachedPoliciesPerUserQuota": 10,
        "AttachedPoliciesPerGroupQuota": 10,
        "AttachedPoliciesPerRoleQuota": 10,
        "PolicySizeQuota": 6144,
        "UserPolicySizeQuota": 2048,
        "GroupPolicySizeQuota": 5120,
    }


async def get_account_summary(call: Call) -> Response:
    await call.authorize("*")
    entries = "".join(
        f"<entry>{leaf('key', k)}{leaf('value', v)}</entry>" for k, v in (await call.ctx.read(_summary)).items()
    )
    return call.respond(f"<SummaryMap>{entries}</SummaryMap>")

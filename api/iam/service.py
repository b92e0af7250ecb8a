"""IAM commands: thin service functions that build IAM aggregates' events (secrets sealed
first) and commit them; shared by the MinIO admin API, the IAM query API, STS and the CLI."""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from api.auth.identity import token_hash
from api.context import ServerContext
from api.errors import S3Error
from domain.iam import AccessKey, Group, ManagedPolicy, StsSession, User, iam_id
from domain.preconditions import (
    AccessKeyIsUsers,
    NameIsFree,
    Precondition,
    ServiceAccountAllowed,
)
from domain.write_plan import WritePlan
from projections.iam import queries as iam_queries

CANNED_POLICY_NAMES = ("readonly", "readwrite", "writeonly", "diagnostics", "consoleAdmin")
MAX_SERVICE_ACCOUNTS = 100
_KEY_ALPHABET = string.ascii_uppercase + string.digits


def new_access_key(length: int = 20) -> str:
    return "".join(secrets.choice(_KEY_ALPHABET) for _ in range(length))


def new_secret_key(length: int = 40) -> str:
    return secrets.token_urlsafe(30)[:length]


async def _update(
    ctx: ServerContext,
    load: Callable[[], Any],
    mutate: Callable[[Any], None],
    preconditions: tuple[Precondition, ...] = (),
) -> None:
    """Append one event to an existing aggregate, loaded afresh on every commit attempt."""

    def build() -> list[Any]:
        aggregate = load()
        mutate(aggregate)
        return [aggregate]

    await ctx.submit(WritePlan.changing(build, preconditions=preconditions))


def _load(ctx: ServerContext, aggregate_id: UUID) -> Any | None:
    try:
        return ctx.store.repository.get(aggregate_id)
    except AggregateNotFoundError:
        return None


def _require_user(ctx: ServerContext, name: str) -> User:
    user = _load(ctx, iam_id("user", name))
    if user is None or user.deleted:
        raise S3Error(
            "NoSuchEntity",
            f"The user with name {name} cannot be found.",
            status=404,
            extra={"Code": "XMinioAdminNoSuchUser"},
        )
    return user


def validate_credentials(access_key: str, secret_key: str) -> None:
    if not 3 <= len(access_key) <= 128 or any(c in access_key for c in "=,/ "):
        raise S3Error(
            "InvalidArgument", "The access key is invalid: 3 to 128 characters, without '=', ',', '/' or spaces."
        )
    if not 8 <= len(secret_key) <= 128:
        raise S3Error("InvalidArgument", "The secret key is invalid: 8 to 128 characters.")


async def add_user(
    ctx: ServerContext,
    actor: dict[str, str],
    name: str,
    secret_key: str,
    status: str = "enabled",
    *,
    exclusive: bool = False,
    path: str = "/",
) -> None:
    """exclusive: an existing user (whatever the case of its name) is EntityAlreadyExists (IAM
    CreateUser) instead of a reset; path: its IAM path."""
    validate_credentials(name, secret_key)
    if name == ctx.settings.root_user:
        raise S3Error("InvalidArgument", "The root user cannot be added as an IAM user.")
    sealed = ctx.sealer.seal(secret_key, f"access-key:{name}")

    def build() -> list[Any]:
        user = _load(ctx, iam_id("user", name))
        if user is None or user.deleted:
            if user is None:
                user = User(name=name, sealed_secret=sealed, status=status, actor=actor)
            else:
                user.recreate(sealed_secret=sealed, status=status, actor=actor)
            if path != "/":
                user.set_path(path=path, actor=actor)
        elif exclusive:
            raise S3Error("EntityAlreadyExists", f"User with name {name} already exists.", status=409)
        else:  # MinIO's add-user on an existing user resets its secret (and status)
            user.change_secret(sealed_secret=sealed, actor=actor)
            if user.status != status:
                user.set_status(status=status, actor=actor)
        return [user]

    preconditions: tuple[Precondition, ...] = (AccessKeyIsUsers(name),)
    if exclusive:
        preconditions += (NameIsFree("user", name),)
    await ctx.submit(WritePlan.changing(build, preconditions=preconditions))


async def set_user_status(ctx: ServerContext, actor: dict[str, str], name: str, status: str) -> None:
    if status not in ("enabled", "disabled"):
        raise S3Error("InvalidArgument", "status must be enabled or disabled")

    await _update(ctx, lambda: _require_user(ctx, name), lambda user: user.set_status(status=status, actor=actor))


async def remove_user(ctx: ServerContext, actor: dict[str, str], name: str) -> None:
    await _update(ctx, lambda: _require_user(ctx, name), lambda user: user.delete(actor=actor))


async def set_user_policies(
    ctx: ServerContext, actor: dict[str, str], name: str, policies: list[str], *, is_group: bool = False
) -> None:
    await _require_policies(ctx, policies)

    def build() -> list[Any]:
        target = _require_group(ctx, name) if is_group else _require_user(ctx, name)
        target.set_policies(policies=policies, actor=actor)
        return [target]

    await ctx.submit(WritePlan.changing(build))


async def attach_policies(
    ctx: ServerContext, actor: dict[str, str], name: str, policies: list[str], *, is_group: bool, detach: bool = False
) -> list[str]:
    """MinIO's idp/builtin/policy/attach|detach: returns the policies now attached."""
    await _require_policies(ctx, policies)
    result: list[str] = []

    def build() -> list[Any]:
        target = _require_group(ctx, name) if is_group else _require_user(ctx, name)
        current = list(target.policies)
        if detach:
            missing = [p for p in policies if p not in current]
            if missing:
                raise S3Error("InvalidArgument", f"policy {missing[0]} is not attached", status=400)
            new = [p for p in current if p not in policies]
        else:
            new = current + [p for p in policies if p not in current]
        result[:] = new
        target.set_policies(policies=new, actor=actor)
        return [target]

    await ctx.submit(WritePlan.changing(build))
    return result


async def _require_policies(ctx: ServerContext, names: list[str]) -> None:
    for name in names:
        if name in CANNED_POLICY_NAMES:
            continue
        if await ctx.read(iam_queries.managed_policy, name) is None:
            raise S3Error(
                "NoSuchEntity",
                f"The policy {name} does not exist.",
                status=404,
                extra={"Code": "XMinioAdminNoSuchPolicy"},
            )


def _require_group(ctx: ServerContext, name: str) -> Group:
    group = _load(ctx, iam_id("group", name))
    if group is None or group.deleted:
        raise S3Error(
            "NoSuchEntity",
            f"The group with name {name} cannot be found.",
            status=404,
            extra={"Code": "XMinioAdminNoSuchGroup"},
        )
    return group


async def update_group_members(
    ctx: ServerContext, actor: dict[str, str], name: str, members: list[str], *, remove: bool
) -> None:
    for member in members:
        if await ctx.read(iam_queries.user, member) is None:
            raise S3Error(
                "NoSuchEntity",
                f"The user with name {member} cannot be found.",
                status=404,
                extra={"Code": "XMinioAdminNoSuchUser"},
            )

    def build() -> list[Any]:
        group = _load(ctx, iam_id("group", name))
        if remove:
            if group is None or group.deleted:
                raise S3Error("NoSuchEntity", f"The group with name {name} cannot be found.", status=404)
            if not members:  # removing no members deletes an empty group, as MinIO does
                if group.members:
                    raise S3Error("InvalidArgument", "The group is not empty.", status=400)
                group.delete(actor=actor)
            else:
                group.remove_members(members=members, actor=actor)
            return [group]
        if group is None:
            group = Group(name=name, actor=actor)
        elif group.deleted:
            group.recreate(actor=actor)
        if members:
            group.add_members(members=members, actor=actor)
        return [group]

    await ctx.submit(WritePlan.changing(build))


async def set_group_status(ctx: ServerContext, actor: dict[str, str], name: str, status: str) -> None:
    await _update(ctx, lambda: _require_group(ctx, name), lambda group: group.set_status(status=status, actor=actor))


async def put_policy(ctx: ServerContext, actor: dict[str, str], name: str, document: dict[str, Any]) -> None:
    if name in CANNED_POLICY_NAMES:
        raise S3Error("InvalidArgument", "A built-in policy cannot be replaced.")

    def build() -> list[Any]:
        policy = _load(ctx, iam_id("policy", name))
        if policy is None:
            return [ManagedPolicy(name=name, document=document, actor=actor)]
        policy.update(document=document, actor=actor)
        return [policy]

    await ctx.submit(WritePlan.changing(build))


async def remove_policy(ctx: ServerContext, actor: dict[str, str], name: str) -> None:
    def build() -> list[Any]:
        policy = _load(ctx, iam_id("policy", name))
        if policy is None or policy.deleted:
            raise S3Error(
                "NoSuchEntity",
                f"The policy {name} does not exist.",
                status=404,
                extra={"Code": "XMinioAdminNoSuchPolicy"},
            )
        policy.delete(actor=actor)
        return [policy]

    await ctx.submit(WritePlan.changing(build))


async def add_access_key(
    ctx: ServerContext,
    actor: dict[str, str],
    parent_user: str,
    *,
    kind: str = "service",
    access_key: str | None = None,
    secret_key: str | None = None,
    policy: dict[str, Any] | None = None,
    name: str = "",
    description: str = "",
    expiration_us: int | None = None,
) -> tuple[str, str]:
    access_key = access_key or new_access_key()
    secret_key = secret_key or new_secret_key()
    validate_credentials(access_key, secret_key)
    if access_key == ctx.settings.root_user:
        raise S3Error("InvalidArgument", "That access key is reserved.")
    sealed = ctx.sealer.seal(secret_key, f"access-key:{access_key}")

    def build() -> list[Any]:
        fields: dict[str, Any] = dict(
            parent_user=parent_user,
            sealed_secret=sealed,
            kind=kind,
            policy=policy,
            name=name,
            description=description,
            expiration_us=expiration_us,
            actor=actor,
        )
        existing = _load(ctx, iam_id("access-key", access_key))
        if existing is None:
            return [AccessKey(access_key=access_key, **fields)]
        if not existing.deleted:
            raise S3Error(
                "InvalidArgument",
                "The access key is already in use.",
                extra={"Code": "XMinioAdminServiceAccountExists"},
            )
        existing.recreate(**fields)
        return [existing]

    allowed = ServiceAccountAllowed(
        parent_user, access_key, parent_is_root=parent_user == ctx.settings.root_user, limit=MAX_SERVICE_ACCOUNTS
    )
    await ctx.submit(WritePlan.changing(build, preconditions=(allowed,)))
    return access_key, secret_key


async def update_access_key(
    ctx: ServerContext, actor: dict[str, str], access_key: str, changes: dict[str, Any]
) -> None:
    if "secret_key" in changes:
        secret = changes.pop("secret_key")
        validate_credentials(access_key, secret)
        changes["sealed_secret"] = ctx.sealer.seal(secret, f"access-key:{access_key}")

    def build() -> list[Any]:
        key = _load(ctx, iam_id("access-key", access_key))
        if key is None or key.deleted:
            raise S3Error("NoSuchEntity", "The specified service account does not exist.", status=404)
        key.update(changes=changes, actor=actor)
        return [key]

    await ctx.submit(WritePlan.changing(build))


async def delete_access_key(ctx: ServerContext, actor: dict[str, str], access_key: str) -> None:
    def build() -> list[Any]:
        key = _load(ctx, iam_id("access-key", access_key))
        if key is None or key.deleted:
            raise S3Error("NoSuchEntity", "The specified service account does not exist.", status=404)
        key.delete(actor=actor)
        return [key]

    await ctx.submit(WritePlan.changing(build))


async def create_session(
    ctx: ServerContext,
    actor: dict[str, str],
    parent_user: str,
    *,
    duration_seconds: int,
    policy: dict[str, Any] | None,
    role: str = "",
    session_name: str = "",
) -> dict[str, Any]:
    access_key = new_access_key()
    secret_key = new_secret_key()
    token = secrets.token_urlsafe(48)
    expiration_us = int((ctx.clock() + duration_seconds) * 1_000_000)
    sealed = ctx.sealer.seal(secret_key, f"access-key:{access_key}")
    session = StsSession(
        access_key=access_key,
        parent_user=parent_user,
        sealed_secret=sealed,
        token_hash=token_hash(token),
        role=role,
        policy=policy,
        expiration_us=expiration_us,
        actor=actor,
        session_name=session_name,
    )
    await ctx.submit(WritePlan.new(session))
    return {"access_key": access_key, "secret_key": secret_key, "session_token": token, "expiration_us": expiration_us}

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
from domain.iam import AccessKey, Group, ManagedPolicy, OidcProvider, Role, StsSession, User, iam_id
from domain.preconditions import (
    AccessKeyIsUsers,
    HasNoPolicies,
    InlinePolicyExists,
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


# -- inline policies, roles and groups (the IAM query API) ---------------------------------


async def put_user_inline_policy(
    ctx: ServerContext, actor: dict[str, str], name: str, policy_name: str, document: dict[str, Any]
) -> None:
    await _update(
        ctx,
        lambda: _require_user(ctx, name),
        lambda user: user.put_inline_policy(policy_name=policy_name, document=document, actor=actor),
    )


async def delete_user_inline_policy(ctx: ServerContext, actor: dict[str, str], name: str, policy_name: str) -> None:
    await _update(
        ctx,
        lambda: _require_user(ctx, name),
        lambda user: user.delete_inline_policy(policy_name=policy_name, actor=actor),
        preconditions=(InlinePolicyExists("user", name, policy_name),),
    )


def _no_such_role(name: str) -> S3Error:
    return S3Error("NoSuchEntity", f"The role with name {name} cannot be found.", status=404)


def _require_role(ctx: ServerContext, name: str) -> Role:
    role = _load(ctx, iam_id("role", name))
    if role is None or role.deleted:
        raise _no_such_role(name)
    return role


async def create_role(
    ctx: ServerContext,
    actor: dict[str, str],
    name: str,
    trust_policy: dict[str, Any],
    *,
    description: str = "",
    max_session_seconds: int = 3600,
    path: str = "/",
) -> None:
    def build() -> list[Any]:
        role = _load(ctx, iam_id("role", name))
        if role is None:
            role = Role(
                name=name,
                trust_policy=trust_policy,
                description=description,
                max_session_seconds=max_session_seconds,
                actor=actor,
            )
        elif not role.deleted:
            raise S3Error("EntityAlreadyExists", f"Role with name {name} already exists.", status=409)
        else:
            role.recreate(
                trust_policy=trust_policy, description=description, max_session_seconds=max_session_seconds, actor=actor
            )
        if path != "/":
            role.set_path(path=path, actor=actor)
        return [role]

    await ctx.submit(WritePlan.changing(build, preconditions=(NameIsFree("role", name),)))


async def update_role(
    ctx: ServerContext, actor: dict[str, str], name: str, *, description: str, max_session_seconds: int
) -> None:
    await _update(
        ctx,
        lambda: _require_role(ctx, name),
        lambda role: role.update(description=description, max_session_seconds=max_session_seconds, actor=actor),
    )


async def delete_role(ctx: ServerContext, actor: dict[str, str], name: str) -> None:
    def build() -> list[Any]:
        role = _require_role(ctx, name)
        role.delete(actor=actor)
        return [role]

    await ctx.submit(WritePlan.changing(build, preconditions=(HasNoPolicies("role", name),)))


async def put_role_policy(
    ctx: ServerContext, actor: dict[str, str], name: str, policy_name: str, document: dict[str, Any]
) -> None:
    await _update(
        ctx,
        lambda: _require_role(ctx, name),
        lambda role: role.put_inline_policy(policy_name=policy_name, document=document, actor=actor),
    )


async def delete_role_policy(ctx: ServerContext, actor: dict[str, str], name: str, policy_name: str) -> None:
    await _update(
        ctx,
        lambda: _require_role(ctx, name),
        lambda role: role.delete_inline_policy(policy_name=policy_name, actor=actor),
        preconditions=(InlinePolicyExists("role", name, policy_name),),
    )


async def create_group(ctx: ServerContext, actor: dict[str, str], name: str, *, path: str = "/") -> None:
    """IAM CreateGroup: an existing group (whatever the case of its name) is EntityAlreadyExists."""

    def build() -> list[Any]:
        group = _load(ctx, iam_id("group", name))
        if group is None:
            group = Group(name=name, actor=actor)
        elif not group.deleted:
            raise S3Error("EntityAlreadyExists", f"Group with name {name} already exists.", status=409)
        else:
            group.recreate(actor=actor)
        if path != "/":
            group.set_path(path=path, actor=actor)
        return [group]

    await ctx.submit(WritePlan.changing(build, preconditions=(NameIsFree("group", name),)))


async def delete_group(ctx: ServerContext, actor: dict[str, str], name: str) -> None:
    """IAM DeleteGroup: only an empty group without policies (DeleteConflict otherwise)."""

    await _update(
        ctx,
        lambda: _require_group(ctx, name),
        lambda group: group.delete(actor=actor),
        preconditions=(HasNoPolicies("group", name),),
    )


async def remove_user_from_group(ctx: ServerContext, actor: dict[str, str], group_name: str, user_name: str) -> None:
    def build() -> list[Any]:
        group = _require_group(ctx, group_name)
        if user_name not in group.members:
            raise S3Error(
                "NoSuchEntity", f"The user with name {user_name} cannot be found in group {group_name}.", status=404
            )
        group.remove_members(members=[user_name], actor=actor)
        return [group]

    await ctx.submit(WritePlan.changing(build))


async def delete_group_policy(ctx: ServerContext, actor: dict[str, str], name: str, policy_name: str) -> None:
    await _update(
        ctx,
        lambda: _require_group(ctx, name),
        lambda group: group.delete_inline_policy(policy_name=policy_name, actor=actor),
        preconditions=(InlinePolicyExists("group", name, policy_name),),
    )


async def set_path(ctx: ServerContext, actor: dict[str, str], kind: str, name: str, path: str) -> None:
    """UpdateUser / UpdateGroup NewPath."""
    load = {"user": _require_user, "group": _require_group, "role": _require_role}[kind]
    await _update(ctx, lambda: load(ctx, name), lambda entity: entity.set_path(path=path, actor=actor))


async def attach_managed(
    ctx: ServerContext, actor: dict[str, str], kind: str, name: str, policy: str, *, detach: bool = False
) -> None:
    """IAM Attach/Detach{User,Group,Role}Policy: attaching twice is harmless; detaching a
    policy that is not attached is NoSuchEntity."""
    load = {"user": _require_user, "group": _require_group, "role": _require_role}[kind]

    def build() -> list[Any]:
        entity = load(ctx, name)
        current = list(entity.policies)
        if detach:
            if policy not in current:
                raise S3Error("NoSuchEntity", f"Policy {policy} was not found.", status=404)
            entity.set_policies(policies=[p for p in current if p != policy], actor=actor)
        elif policy not in current:
            entity.set_policies(policies=current + [policy], actor=actor)
        return [entity]

    await ctx.submit(WritePlan.changing(build))


async def add_user_to_group(ctx: ServerContext, actor: dict[str, str], group_name: str, user_name: str) -> None:
    """IAM AddUserToGroup: both must exist (MinIO's update-group-members creates the group)."""

    def build() -> list[Any]:
        _require_user(ctx, user_name)
        group = _load(ctx, iam_id("group", group_name))
        if group is None or group.deleted:
            raise S3Error("NoSuchEntity", f"The group with name {group_name} cannot be found.", status=404)
        group.add_members(members=[user_name], actor=actor)
        return [group]

    await ctx.submit(WritePlan.changing(build))


async def put_group_policy(
    ctx: ServerContext, actor: dict[str, str], name: str, policy_name: str, document: dict[str, Any]
) -> None:
    def build() -> list[Any]:
        group = _load(ctx, iam_id("group", name))
        if group is None or group.deleted:
            raise S3Error("NoSuchEntity", f"The group with name {name} cannot be found.", status=404)
        group.put_inline_policy(policy_name=policy_name, document=document, actor=actor)
        return [group]

    await ctx.submit(WritePlan.changing(build))


# -- OpenID Connect providers (the IAM query API) ------------------------------------------


def _require_oidc(ctx: ServerContext, name: str) -> OidcProvider:
    provider = _load(ctx, iam_id("oidc-provider", name))
    if provider is None or provider.deleted:
        raise S3Error("NoSuchEntity", f"OpenIDConnect Provider not found for arn {name}", status=404)
    return provider


async def create_oidc_provider(
    ctx: ServerContext, actor: dict[str, str], name: str, url: str, client_ids: list[str], thumbprints: list[str]
) -> None:
    def build() -> list[Any]:
        provider = _load(ctx, iam_id("oidc-provider", name))
        if provider is None:
            return [OidcProvider(name=name, url=url, client_ids=client_ids, thumbprints=thumbprints, actor=actor)]
        if not provider.deleted:
            raise S3Error("EntityAlreadyExists", f"Provider with url {url} already exists.", status=409)
        provider.recreate(url=url, client_ids=client_ids, thumbprints=thumbprints, actor=actor)
        return [provider]

    await ctx.submit(WritePlan.changing(build))


async def update_oidc_provider(
    ctx: ServerContext,
    actor: dict[str, str],
    name: str,
    *,
    add_client: str | None = None,
    remove_client: str | None = None,
    thumbprints: list[str] | None = None,
) -> None:
    """Add or remove one client id (adding one it has, or removing one it lacks, changes
    nothing), or replace the thumbprints."""

    def mutate(provider: OidcProvider) -> None:
        if add_client is not None and add_client not in provider.client_ids:
            provider.set_client_ids(client_ids=[*provider.client_ids, add_client], actor=actor)
        if remove_client is not None and remove_client in provider.client_ids:
            provider.set_client_ids(client_ids=[c for c in provider.client_ids if c != remove_client], actor=actor)
        if thumbprints is not None:
            provider.set_thumbprints(thumbprints=thumbprints, actor=actor)

    await _update(ctx, lambda: _require_oidc(ctx, name), mutate)


async def delete_oidc_provider(ctx: ServerContext, actor: dict[str, str], name: str) -> None:
    await _update(ctx, lambda: _require_oidc(ctx, name), lambda provider: provider.delete(actor=actor))

"""IAM commands of the IAM query API beyond the MinIO admin API: inline policies of users,
groups and roles, roles, groups by path, managed policy attachments and OpenID Connect
providers. The same thin service functions as api.iam.service, whose helpers they share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api.context import ServerContext
from api.errors import S3Error
from api.iam.service import _load, _require_group, _require_user, _update
from domain.iam import Group, OidcProvider, Role, iam_id
from domain.preconditions import (
    HasNoPolicies,
    InlinePolicyExists,
    NameIsFree,
)
from domain.write_plan import WritePlan

# -- roles, groups and inline policies of users, groups and roles (the IAM query API) ------


def _no_such_role(name: str) -> S3Error:
    return S3Error("NoSuchEntity", f"The role with name {name} cannot be found.", status=404)


def _require_role(ctx: ServerContext, name: str) -> Role:
    role = _load(ctx, iam_id("role", name))
    if role is None or role.deleted:
        raise _no_such_role(name)
    return role


_REQUIRE: dict[str, Callable[[ServerContext, str], Any]] = {
    "user": _require_user,
    "group": _require_group,
    "role": _require_role,
}


async def put_inline_policy(
    ctx: ServerContext, actor: dict[str, str], kind: str, name: str, policy_name: str, document: dict[str, Any]
) -> None:
    """Put{User,Group,Role}Policy: the user / group / role `name` gets (or replaces) the policy."""
    require = _REQUIRE[kind]
    await _update(
        ctx,
        lambda: require(ctx, name),
        lambda entity: entity.put_inline_policy(policy_name=policy_name, document=document, actor=actor),
    )


async def delete_inline_policy(
    ctx: ServerContext, actor: dict[str, str], kind: str, name: str, policy_name: str
) -> None:
    """Delete{User,Group,Role}Policy: NoSuchEntity (the precondition) when it has no such policy."""
    require = _REQUIRE[kind]
    await _update(
        ctx,
        lambda: require(ctx, name),
        lambda entity: entity.delete_inline_policy(policy_name=policy_name, actor=actor),
        preconditions=(InlinePolicyExists(kind, name, policy_name),),
    )


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


async def set_path(ctx: ServerContext, actor: dict[str, str], kind: str, name: str, path: str) -> None:
    """UpdateUser / UpdateGroup NewPath."""
    require = _REQUIRE[kind]
    await _update(ctx, lambda: require(ctx, name), lambda entity: entity.set_path(path=path, actor=actor))


async def attach_managed(
    ctx: ServerContext, actor: dict[str, str], kind: str, name: str, policy: str, *, detach: bool = False
) -> None:
    """IAM Attach/Detach{User,Group,Role}Policy: attaching twice is harmless; detaching a
    policy that is not attached is NoSuchEntity."""
    require = _REQUIRE[kind]

    def build() -> list[Any]:
        entity = require(ctx, name)
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

"""IamProjection: credentials, users, groups and policies, applied inline with the event so a
new key works, and a disabled or deleted one stops working, on every node at once."""

from __future__ import annotations

from typing import Any

import orjson

from domain.iam import AccessKey, Group, ManagedPolicy, OidcProvider, Role, StsSession, User
from projections.eventstore.tx import Tx


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _document(value: Any) -> str:
    """A policy document as its author ordered it: GetUserPolicy, GetRole and friends return
    it as given (the event keeps the order, so a replay writes the same text)."""
    return orjson.dumps(value).decode()


def _us(event: Any) -> int:
    return int(event.timestamp.timestamp() * 1_000_000)


class IamProjection:
    def apply(self, tx: Tx, position: int, event: Any) -> Any:
        handler = _HANDLERS.get(type(event))
        if handler is None:
            return None
        tx.execute(
            "INSERT INTO iam_generation (id, gen) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET gen = excluded.gen",
            (position,),
        )
        return handler(tx, event)


def _remember(tx: Tx, e: Any, kind: str, name: str) -> None:
    tx.execute(
        "INSERT INTO iam_names (id, kind, name) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
        (e.originator_id.hex, kind, name),
    )


def _name(tx: Tx, e: Any) -> str:
    name = tx.scalar("SELECT name FROM iam_names WHERE id = ?", (e.originator_id.hex,))
    if name is None:
        raise LookupError(f"IAM aggregate {e.originator_id} not projected")
    return str(name)


# -- users -------------------------------------------------------------------------------


def _user_created(tx: Tx, e: Any) -> None:
    if hasattr(e, "name"):
        _remember(tx, e, "user", e.name)
    name = _name(tx, e)
    tx.execute(
        """INSERT INTO iam_users (name, status, policies, created_us, updated_us, path) VALUES (?, ?, '[]', ?, ?, '/')
           ON CONFLICT (name) DO UPDATE SET status = excluded.status, policies = '[]',
             created_us = excluded.created_us, updated_us = excluded.updated_us, path = '/'""",
        (name, e.status, _us(e), _us(e)),
    )
    tx.execute(
        """INSERT INTO iam_keys (access_key, kind, parent_user, sealed_secret, status, policy,
             expiration_us, token_hash, name, description, role, created_us)
           VALUES (?, 'user', ?, ?, ?, '', 0, '', '', '', '', ?)
           ON CONFLICT (access_key) DO UPDATE SET kind = 'user', parent_user = excluded.parent_user,
             sealed_secret = excluded.sealed_secret, status = excluded.status, policy = '',
             expiration_us = 0, created_us = excluded.created_us""",
        (name, name, e.sealed_secret, e.status, _us(e)),
    )


def _user_secret(tx: Tx, e: Any) -> None:
    tx.execute(
        "UPDATE iam_keys SET sealed_secret = ? WHERE access_key = ? AND kind = 'user'", (e.sealed_secret, _name(tx, e))
    )


def _user_status(tx: Tx, e: Any) -> None:
    name = _name(tx, e)
    tx.execute("UPDATE iam_users SET status = ?, updated_us = ? WHERE name = ?", (e.status, _us(e), name))
    tx.execute("UPDATE iam_keys SET status = ? WHERE access_key = ? AND kind = 'user'", (e.status, name))


def _user_policies(tx: Tx, e: Any) -> None:
    tx.execute(
        "UPDATE iam_users SET policies = ?, updated_us = ? WHERE name = ?", (_json(e.policies), _us(e), _name(tx, e))
    )


def _path_set(table: str):  # type: ignore[no-untyped-def]
    def apply(tx: Tx, e: Any) -> None:
        tx.execute(f"UPDATE {table} SET path = ? WHERE name = ?", (e.path, _name(tx, e)))

    return apply


def _inline_put(kind: str):  # type: ignore[no-untyped-def]
    def apply(tx: Tx, e: Any) -> None:
        tx.execute(
            """INSERT INTO iam_inline_policies (owner_kind, owner, name, document) VALUES (?, ?, ?, ?)
               ON CONFLICT (owner_kind, owner, name) DO UPDATE SET document = excluded.document""",
            (kind, _name(tx, e), e.policy_name, _document(e.document)),
        )

    return apply


def _inline_deleted(kind: str):  # type: ignore[no-untyped-def]
    def apply(tx: Tx, e: Any) -> None:
        tx.execute(
            "DELETE FROM iam_inline_policies WHERE owner_kind = ? AND owner = ? AND name = ?",
            (kind, _name(tx, e), e.policy_name),
        )

    return apply


def _user_deleted(tx: Tx, e: Any) -> None:
    name = _name(tx, e)
    tx.execute("DELETE FROM iam_users WHERE name = ?", (name,))
    # Its own key, its service accounts, IAM keys and sessions all stop working.
    tx.execute("DELETE FROM iam_keys WHERE access_key = ? OR parent_user = ?", (name, name))
    tx.execute("DELETE FROM iam_group_members WHERE user_name = ?", (name,))
    tx.execute("DELETE FROM iam_inline_policies WHERE owner_kind = 'user' AND owner = ?", (name,))


# -- groups ------------------------------------------------------------------------------


def _group_created(tx: Tx, e: Any) -> None:
    if hasattr(e, "name"):
        _remember(tx, e, "group", e.name)
    name = _name(tx, e)
    tx.execute(
        """INSERT INTO iam_groups (name, status, policies, updated_us, path, created_us)
           VALUES (?, 'enabled', '[]', ?, '/', ?)
           ON CONFLICT (name) DO UPDATE SET status = 'enabled', policies = '[]', updated_us = excluded.updated_us,
             path = '/', created_us = excluded.created_us""",
        (name, _us(e), _us(e)),
    )


def _group_members_added(tx: Tx, e: Any) -> None:
    name = _name(tx, e)
    for member in e.members:
        tx.execute(
            "INSERT INTO iam_group_members (group_name, user_name) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (name, member),
        )


def _group_members_removed(tx: Tx, e: Any) -> None:
    name = _name(tx, e)
    for member in e.members:
        tx.execute("DELETE FROM iam_group_members WHERE group_name = ? AND user_name = ?", (name, member))


def _group_status(tx: Tx, e: Any) -> None:
    tx.execute("UPDATE iam_groups SET status = ?, updated_us = ? WHERE name = ?", (e.status, _us(e), _name(tx, e)))


def _group_policies(tx: Tx, e: Any) -> None:
    tx.execute(
        "UPDATE iam_groups SET policies = ?, updated_us = ? WHERE name = ?", (_json(e.policies), _us(e), _name(tx, e))
    )


def _group_deleted(tx: Tx, e: Any) -> None:
    name = _name(tx, e)
    tx.execute("DELETE FROM iam_groups WHERE name = ?", (name,))
    tx.execute("DELETE FROM iam_group_members WHERE group_name = ?", (name,))
    tx.execute("DELETE FROM iam_inline_policies WHERE owner_kind = 'group' AND owner = ?", (name,))


# -- policies ----------------------------------------------------------------------------


def _policy_created(tx: Tx, e: Any) -> None:
    if hasattr(e, "name"):
        _remember(tx, e, "policy", e.name)
    tx.execute(
        """INSERT INTO iam_policies (name, document, created_us, updated_us) VALUES (?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET document = excluded.document, updated_us = excluded.updated_us""",
        (_name(tx, e), _document(e.document), _us(e), _us(e)),
    )


def _policy_deleted(tx: Tx, e: Any) -> None:
    tx.execute("DELETE FROM iam_policies WHERE name = ?", (_name(tx, e),))


# -- access keys (service accounts, IAM keys) and STS sessions ---------------------------


def _key_created(tx: Tx, e: Any) -> None:
    if hasattr(e, "access_key"):
        _remember(tx, e, "access-key", e.access_key)
    access_key = _name(tx, e)
    tx.execute(
        """INSERT INTO iam_keys (access_key, kind, parent_user, sealed_secret, status, policy,
             expiration_us, token_hash, name, description, role, created_us)
           VALUES (?, ?, ?, ?, 'enabled', ?, ?, '', ?, ?, '', ?)""",
        (
            access_key,
            e.kind,
            e.parent_user,
            e.sealed_secret,
            "" if e.policy is None else _json(e.policy),
            e.expiration_us or 0,
            e.name,
            e.description,
            _us(e),
        ),
    )


_KEY_COLUMNS = {"sealed_secret", "status", "policy", "name", "description", "expiration_us"}


def _key_updated(tx: Tx, e: Any) -> None:
    key = _name(tx, e)
    for column, value in sorted(e.changes.items()):
        if column not in _KEY_COLUMNS:
            continue
        if column == "policy":
            value = "" if value is None else _json(value)
        tx.execute(f"UPDATE iam_keys SET {column} = ? WHERE access_key = ?", (value, key))


def _key_deleted(tx: Tx, e: Any) -> None:
    tx.execute("DELETE FROM iam_keys WHERE access_key = ?", (_name(tx, e),))


def _session_created(tx: Tx, e: Any) -> None:
    _remember(tx, e, "sts", e.access_key)
    tx.execute(
        """INSERT INTO iam_keys (access_key, kind, parent_user, sealed_secret, status, policy,
             expiration_us, token_hash, name, description, role, created_us)
           VALUES (?, 'sts', ?, ?, 'enabled', ?, ?, ?, ?, '', ?, ?)""",
        (
            e.access_key,
            e.parent_user,
            e.sealed_secret,
            "" if e.policy is None else _json(e.policy),
            e.expiration_us,
            e.token_hash,
            e.session_name,
            e.role,
            _us(e),
        ),
    )


def _session_revoked(tx: Tx, e: Any) -> None:
    tx.execute("DELETE FROM iam_keys WHERE access_key = ?", (_name(tx, e),))


# -- roles -------------------------------------------------------------------------------


def _role_created(tx: Tx, e: Any) -> None:
    _remember(tx, e, "role", e.name)
    tx.execute(
        """INSERT INTO iam_roles (name, trust_policy, description, max_session_seconds, created_us, path, policies)
           VALUES (?, ?, ?, ?, ?, '/', '[]')
           ON CONFLICT (name) DO UPDATE SET trust_policy = excluded.trust_policy,
             description = excluded.description, max_session_seconds = excluded.max_session_seconds""",
        (e.name, _document(e.trust_policy), e.description, e.max_session_seconds, _us(e)),
    )


def _role_recreated(tx: Tx, e: Any) -> None:
    tx.execute(
        """INSERT INTO iam_roles (name, trust_policy, description, max_session_seconds, created_us, path, policies)
           VALUES (?, ?, ?, ?, ?, '/', '[]')
           ON CONFLICT (name) DO UPDATE SET trust_policy = excluded.trust_policy,
             description = excluded.description, max_session_seconds = excluded.max_session_seconds,
             created_us = excluded.created_us, path = '/', policies = '[]'""",
        (_name(tx, e), _document(e.trust_policy), e.description, e.max_session_seconds, _us(e)),
    )


def _role_updated(tx: Tx, e: Any) -> None:
    tx.execute(
        "UPDATE iam_roles SET description = ?, max_session_seconds = ? WHERE name = ?",
        (e.description, e.max_session_seconds, _name(tx, e)),
    )


def _role_policies(tx: Tx, e: Any) -> None:
    tx.execute("UPDATE iam_roles SET policies = ? WHERE name = ?", (_json(e.policies), _name(tx, e)))


def _role_deleted(tx: Tx, e: Any) -> None:
    name = _name(tx, e)
    tx.execute("DELETE FROM iam_roles WHERE name = ?", (name,))
    tx.execute("DELETE FROM iam_inline_policies WHERE owner_kind = 'role' AND owner = ?", (name,))


# -- OpenID Connect providers -------------------------------------------------------------


def _oidc_created(tx: Tx, e: Any) -> None:
    if hasattr(e, "name"):
        _remember(tx, e, "oidc-provider", e.name)
    tx.execute(
        """INSERT INTO iam_oidc_providers (name, url, client_ids, thumbprints, created_us) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET url = excluded.url, client_ids = excluded.client_ids,
             thumbprints = excluded.thumbprints, created_us = excluded.created_us""",
        (_name(tx, e), e.url, _document(e.client_ids), _document(e.thumbprints), _us(e)),
    )


def _oidc_client_ids(tx: Tx, e: Any) -> None:
    tx.execute("UPDATE iam_oidc_providers SET client_ids = ? WHERE name = ?", (_document(e.client_ids), _name(tx, e)))


def _oidc_thumbprints(tx: Tx, e: Any) -> None:
    tx.execute("UPDATE iam_oidc_providers SET thumbprints = ? WHERE name = ?", (_document(e.thumbprints), _name(tx, e)))


def _oidc_deleted(tx: Tx, e: Any) -> None:
    tx.execute("DELETE FROM iam_oidc_providers WHERE name = ?", (_name(tx, e),))


_HANDLERS: dict[type, Any] = {
    User.Created: _user_created,
    User.Recreated: _user_created,
    User.SecretChanged: _user_secret,
    User.StatusChanged: _user_status,
    User.PoliciesSet: _user_policies,
    User.PathSet: _path_set("iam_users"),
    User.InlinePolicyPut: _inline_put("user"),
    User.InlinePolicyDeleted: _inline_deleted("user"),
    User.Deleted: _user_deleted,
    Group.Created: _group_created,
    Group.Recreated: _group_created,
    Group.MembersAdded: _group_members_added,
    Group.MembersRemoved: _group_members_removed,
    Group.StatusChanged: _group_status,
    Group.PoliciesSet: _group_policies,
    Group.InlinePolicyPut: _inline_put("group"),
    Group.InlinePolicyDeleted: _inline_deleted("group"),
    Group.PathSet: _path_set("iam_groups"),
    Group.Deleted: _group_deleted,
    ManagedPolicy.Created: _policy_created,
    ManagedPolicy.Updated: _policy_created,
    ManagedPolicy.Deleted: _policy_deleted,
    AccessKey.Created: _key_created,
    AccessKey.Recreated: _key_created,
    AccessKey.Updated: _key_updated,
    AccessKey.Deleted: _key_deleted,
    StsSession.Created: _session_created,
    StsSession.Revoked: _session_revoked,
    Role.Created: _role_created,
    Role.Recreated: _role_recreated,
    Role.InlinePolicyPut: _inline_put("role"),
    Role.PathSet: _path_set("iam_roles"),
    Role.Updated: _role_updated,
    Role.PoliciesSet: _role_policies,
    Role.InlinePolicyDeleted: _inline_deleted("role"),
    Role.Deleted: _role_deleted,
    OidcProvider.Created: _oidc_created,
    OidcProvider.Recreated: _oidc_created,
    OidcProvider.ClientIdsSet: _oidc_client_ids,
    OidcProvider.ThumbprintsSet: _oidc_thumbprints,
    OidcProvider.Deleted: _oidc_deleted,
}

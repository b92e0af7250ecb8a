"""Read side of IAM: the credential lookup (one indexed query per request) and the policy
documents that apply to a user (cached by callers behind the generation number)."""

from __future__ import annotations

from typing import Any

import orjson

from projections.eventstore.tx import Tx


def credential(tx: Tx, access_key: str) -> dict[str, Any] | None:
    """The key, its parent user's status and path, and the IAM generation, in one round trip."""
    return tx.one(
        """SELECT k.access_key, k.kind, k.parent_user, k.sealed_secret, k.status, k.policy,
                  k.expiration_us, k.token_hash, k.role, k.name, u.status AS parent_status, u.path AS parent_path,
                  (SELECT gen FROM iam_generation WHERE id = 1) AS gen
           FROM iam_keys k LEFT JOIN iam_users u ON u.name = k.parent_user
           WHERE k.access_key = ?""",
        (access_key,),
    )


def generation(tx: Tx) -> int:
    return int(tx.scalar("SELECT gen FROM iam_generation WHERE id = 1") or 0)


def user(tx: Tx, name: str) -> dict[str, Any] | None:
    row = tx.one("SELECT * FROM iam_users WHERE name = ?", (name,))
    if row is not None:
        row["policies"] = orjson.loads(row["policies"])
        row["groups"] = [
            r["group_name"]
            for r in tx.all("SELECT group_name FROM iam_group_members WHERE user_name = ? ORDER BY group_name", (name,))
        ]
    return row


def list_users(tx: Tx) -> list[dict[str, Any]]:
    rows = tx.all("SELECT * FROM iam_users ORDER BY name")
    members: dict[str, list[str]] = {}
    for r in tx.all("SELECT group_name, user_name FROM iam_group_members ORDER BY group_name"):
        members.setdefault(r["user_name"], []).append(r["group_name"])
    for row in rows:
        row["policies"] = orjson.loads(row["policies"])
        row["groups"] = members.get(row["name"], [])
    return rows


def group(tx: Tx, name: str) -> dict[str, Any] | None:
    row = tx.one("SELECT * FROM iam_groups WHERE name = ?", (name,))
    if row is not None:
        row["policies"] = orjson.loads(row["policies"])
        row["members"] = [
            r["user_name"]
            for r in tx.all("SELECT user_name FROM iam_group_members WHERE group_name = ? ORDER BY user_name", (name,))
        ]
    return row


def list_groups(tx: Tx) -> list[str]:
    return [r["name"] for r in tx.all("SELECT name FROM iam_groups ORDER BY name")]


def group_rows(tx: Tx) -> list[dict[str, Any]]:
    """Every group's row (the IAM API's ListGroups)."""
    return tx.all("SELECT * FROM iam_groups ORDER BY name")


def groups_of(tx: Tx, user_name: str) -> list[dict[str, Any]]:
    """The rows of the groups a user belongs to."""
    return tx.all(
        "SELECT g.* FROM iam_groups g JOIN iam_group_members m ON m.group_name = g.name "
        "WHERE m.user_name = ? ORDER BY g.name",
        (user_name,),
    )


_NAMED = {"user": "iam_users", "group": "iam_groups", "role": "iam_roles"}


def stored_name(tx: Tx, kind: str, name: str) -> str | None:
    """The name a user, group or role is stored under, found as the IAM API finds it: IAM
    names are unique regardless of case ("Bob" and "bob" are one user), so an exact match,
    else the one whose name differs only in case."""
    table = _NAMED[kind]
    if tx.scalar(f"SELECT name FROM {table} WHERE name = ?", (name,)) is not None:
        return name
    found = tx.scalar(f"SELECT name FROM {table} WHERE lower(name) = lower(?) ORDER BY name LIMIT 1", (name,))
    return None if found is None else str(found)


def managed_policy(tx: Tx, name: str) -> dict[str, Any] | None:
    row = tx.one("SELECT * FROM iam_policies WHERE name = ?", (name,))
    if row is not None:
        row["document"] = orjson.loads(row["document"])
    return row


def managed_policies(tx: Tx) -> list[dict[str, Any]]:
    rows = tx.all("SELECT * FROM iam_policies ORDER BY name")
    for row in rows:
        row["document"] = orjson.loads(row["document"])
    return rows


def keys_of(tx: Tx, parent_user: str, kinds: tuple[str, ...] = ("service", "iam")) -> list[dict[str, Any]]:
    marks = ",".join("?" for _ in kinds)
    return tx.all(
        f"SELECT * FROM iam_keys WHERE parent_user = ? AND kind IN ({marks}) ORDER BY access_key",
        (parent_user, *kinds),
    )


def key(tx: Tx, access_key: str) -> dict[str, Any] | None:
    return tx.one("SELECT * FROM iam_keys WHERE access_key = ?", (access_key,))


def policy_sources(tx: Tx, user_name: str) -> dict[str, Any]:
    """Everything that grants a user permissions: attached policy names (its own and its
    enabled groups'), and inline documents (its own and its groups')."""
    u = tx.one("SELECT policies FROM iam_users WHERE name = ?", (user_name,))
    names: list[str] = orjson.loads(u["policies"]) if u else []
    groups = tx.all(
        """SELECT g.name, g.policies FROM iam_groups g JOIN iam_group_members m ON m.group_name = g.name
           WHERE m.user_name = ? AND g.status = 'enabled'""",
        (user_name,),
    )
    for g in groups:
        names.extend(orjson.loads(g["policies"]))
    owners = [("user", user_name)] + [("group", g["name"]) for g in groups]
    inline: list[Any] = []
    for kind, owner in owners:
        for r in tx.all(
            "SELECT document FROM iam_inline_policies WHERE owner_kind = ? AND owner = ? ORDER BY name", (kind, owner)
        ):
            inline.append(orjson.loads(r["document"]))
    documents = {}
    for name in dict.fromkeys(names):
        row = tx.one("SELECT document FROM iam_policies WHERE name = ?", (name,))
        if row is not None:
            documents[name] = orjson.loads(row["document"])
    return {"names": list(dict.fromkeys(names)), "documents": documents, "inline": inline}


def role(tx: Tx, name: str) -> dict[str, Any] | None:
    row = tx.one("SELECT * FROM iam_roles WHERE name = ?", (name,))
    if row is not None:
        row["trust_policy"] = orjson.loads(row["trust_policy"])
        row["policies"] = orjson.loads(row["policies"])
        row["documents"] = {}
        for policy in row["policies"]:
            doc = tx.scalar("SELECT document FROM iam_policies WHERE name = ?", (policy,))
            if doc is not None:
                row["documents"][policy] = orjson.loads(doc)
        row["inline"] = {
            r["name"]: orjson.loads(r["document"])
            for r in tx.all(
                "SELECT name, document FROM iam_inline_policies WHERE owner_kind = 'role' AND owner = ?", (name,)
            )
        }
    return row


def list_roles(tx: Tx) -> list[dict[str, Any]]:
    rows = tx.all("SELECT * FROM iam_roles ORDER BY name")
    for row in rows:
        row["trust_policy"] = orjson.loads(row["trust_policy"])
        row["policies"] = orjson.loads(row["policies"])
    return rows


def inline_policy(tx: Tx, owner_kind: str, owner: str, name: str) -> Any | None:
    """One inline policy document of a user, group or role (None when it has none by that name)."""
    row = tx.one(
        "SELECT document FROM iam_inline_policies WHERE owner_kind = ? AND owner = ? AND name = ?",
        (owner_kind, owner, name),
    )
    return orjson.loads(row["document"]) if row is not None else None


def inline_policy_names(tx: Tx, owner_kind: str, owner: str) -> list[str]:
    return [
        r["name"]
        for r in tx.all(
            "SELECT name FROM iam_inline_policies WHERE owner_kind = ? AND owner = ? ORDER BY name", (owner_kind, owner)
        )
    ]


def oidc_provider(tx: Tx, name: str) -> dict[str, Any] | None:
    row = tx.one("SELECT * FROM iam_oidc_providers WHERE name = ?", (name,))
    if row is not None:
        row["client_ids"] = orjson.loads(row["client_ids"])
        row["thumbprints"] = orjson.loads(row["thumbprints"])
    return row


def oidc_providers(tx: Tx) -> list[str]:
    return [r["name"] for r in tx.all("SELECT name FROM iam_oidc_providers ORDER BY name")]

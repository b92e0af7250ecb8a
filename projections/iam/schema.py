"""Tables of the IAM projection: the credential and policy lookup, applied inline."""

from __future__ import annotations

from projections.eventstore.sql import Dialect

IAM_TABLES = (
    "iam_names",
    "iam_keys",
    "iam_users",
    "iam_groups",
    "iam_group_members",
    "iam_policies",
    "iam_inline_policies",
    "iam_roles",
    "iam_generation",
    "iam_oidc_providers",
)


def iam_ddl(d: Dialect) -> list[str]:
    b = d.bigint
    return [
        # Aggregate id -> name: later events of an aggregate carry only its id.
        "CREATE TABLE IF NOT EXISTS iam_names (id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL)",
        f"""CREATE TABLE IF NOT EXISTS iam_keys (
            access_key TEXT PRIMARY KEY, kind TEXT NOT NULL, parent_user TEXT NOT NULL,
            sealed_secret TEXT NOT NULL, status TEXT NOT NULL, policy TEXT NOT NULL,
            expiration_us {b} NOT NULL, token_hash TEXT NOT NULL, name TEXT NOT NULL,
            description TEXT NOT NULL, role TEXT NOT NULL, created_us {b} NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS iam_keys_by_parent ON iam_keys (parent_user, kind)",
        f"""CREATE TABLE IF NOT EXISTS iam_users (
            name TEXT PRIMARY KEY, status TEXT NOT NULL, policies TEXT NOT NULL,
            created_us {b} NOT NULL, updated_us {b} NOT NULL)""",
        f"""CREATE TABLE IF NOT EXISTS iam_groups (
            name TEXT PRIMARY KEY, status TEXT NOT NULL, policies TEXT NOT NULL, updated_us {b} NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS iam_group_members (
            group_name TEXT NOT NULL, user_name TEXT NOT NULL, PRIMARY KEY (group_name, user_name))""",
        "CREATE INDEX IF NOT EXISTS iam_group_members_by_user ON iam_group_members (user_name)",
        f"""CREATE TABLE IF NOT EXISTS iam_policies (
            name TEXT PRIMARY KEY, document TEXT NOT NULL, created_us {b} NOT NULL, updated_us {b} NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS iam_inline_policies (
            owner_kind TEXT NOT NULL, owner TEXT NOT NULL, name TEXT NOT NULL, document TEXT NOT NULL,
            PRIMARY KEY (owner_kind, owner, name))""",
        f"""CREATE TABLE IF NOT EXISTS iam_roles (
            name TEXT PRIMARY KEY, trust_policy TEXT NOT NULL, description TEXT NOT NULL,
            max_session_seconds INTEGER NOT NULL, created_us {b} NOT NULL)""",
        # Bumped (to the log position) by every IAM event: per-process caches of policies
        # compare it instead of going stale.
        f"CREATE TABLE IF NOT EXISTS iam_generation (id INTEGER PRIMARY KEY, gen {b} NOT NULL)",
    ]


def iam_api_ddl(d: Dialect) -> list[str]:
    """Migration 0006, applied after iam_ddl: the IAM API's paths (users, groups, roles),
    groups' creation times (their GroupIds differ per creation), the managed policies
    attached to roles, and OpenID Connect providers."""
    b = d.bigint
    return [
        "ALTER TABLE iam_users ADD COLUMN path TEXT NOT NULL DEFAULT '/'",
        "ALTER TABLE iam_groups ADD COLUMN path TEXT NOT NULL DEFAULT '/'",
        f"ALTER TABLE iam_groups ADD COLUMN created_us {b} NOT NULL DEFAULT 0",
        "ALTER TABLE iam_roles ADD COLUMN path TEXT NOT NULL DEFAULT '/'",
        "ALTER TABLE iam_roles ADD COLUMN policies TEXT NOT NULL DEFAULT '[]'",
        # name: the provider's URL without its scheme, as its ARN ends (…:oidc-provider/<name>)
        f"""CREATE TABLE IF NOT EXISTS iam_oidc_providers (
            name TEXT PRIMARY KEY, url TEXT NOT NULL, client_ids TEXT NOT NULL,
            thumbprints TEXT NOT NULL, created_us {b} NOT NULL)""",
    ]

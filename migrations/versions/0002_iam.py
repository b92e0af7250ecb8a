"""IAM projection tables: credentials, users, groups, policies, roles.

Revision ID: 0002_iam
Revises: 0001_namespace
"""

from alembic import op

revision = "0002_iam"
down_revision = "0001_namespace"

# The statements this migration runs, written out: a migration never changes once released
# (a change to a schema module needs a new migration; tests/integration/test_migrations.py
# compares what the migrations create with what the schema modules declare).
POSTGRES = (
    "CREATE TABLE IF NOT EXISTS iam_names (id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS iam_keys (
            access_key TEXT PRIMARY KEY, kind TEXT NOT NULL, parent_user TEXT NOT NULL,
            sealed_secret TEXT NOT NULL, status TEXT NOT NULL, policy TEXT NOT NULL,
            expiration_us BIGINT NOT NULL, token_hash TEXT NOT NULL, name TEXT NOT NULL,
            description TEXT NOT NULL, role TEXT NOT NULL, created_us BIGINT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS iam_keys_by_parent ON iam_keys (parent_user, kind)",
    """CREATE TABLE IF NOT EXISTS iam_users (
            name TEXT PRIMARY KEY, status TEXT NOT NULL, policies TEXT NOT NULL,
            created_us BIGINT NOT NULL, updated_us BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS iam_groups (
            name TEXT PRIMARY KEY, status TEXT NOT NULL, policies TEXT NOT NULL, updated_us BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS iam_group_members (
            group_name TEXT NOT NULL, user_name TEXT NOT NULL, PRIMARY KEY (group_name, user_name))""",
    "CREATE INDEX IF NOT EXISTS iam_group_members_by_user ON iam_group_members (user_name)",
    """CREATE TABLE IF NOT EXISTS iam_policies (
            name TEXT PRIMARY KEY, document TEXT NOT NULL, created_us BIGINT NOT NULL, updated_us BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS iam_inline_policies (
            owner_kind TEXT NOT NULL, owner TEXT NOT NULL, name TEXT NOT NULL, document TEXT NOT NULL,
            PRIMARY KEY (owner_kind, owner, name))""",
    """CREATE TABLE IF NOT EXISTS iam_roles (
            name TEXT PRIMARY KEY, trust_policy TEXT NOT NULL, description TEXT NOT NULL,
            max_session_seconds INTEGER NOT NULL, created_us BIGINT NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS iam_generation (id INTEGER PRIMARY KEY, gen BIGINT NOT NULL)",
)

SQLITE = (
    "CREATE TABLE IF NOT EXISTS iam_names (id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS iam_keys (
            access_key TEXT PRIMARY KEY, kind TEXT NOT NULL, parent_user TEXT NOT NULL,
            sealed_secret TEXT NOT NULL, status TEXT NOT NULL, policy TEXT NOT NULL,
            expiration_us INTEGER NOT NULL, token_hash TEXT NOT NULL, name TEXT NOT NULL,
            description TEXT NOT NULL, role TEXT NOT NULL, created_us INTEGER NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS iam_keys_by_parent ON iam_keys (parent_user, kind)",
    """CREATE TABLE IF NOT EXISTS iam_users (
            name TEXT PRIMARY KEY, status TEXT NOT NULL, policies TEXT NOT NULL,
            created_us INTEGER NOT NULL, updated_us INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS iam_groups (
            name TEXT PRIMARY KEY, status TEXT NOT NULL, policies TEXT NOT NULL, updated_us INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS iam_group_members (
            group_name TEXT NOT NULL, user_name TEXT NOT NULL, PRIMARY KEY (group_name, user_name))""",
    "CREATE INDEX IF NOT EXISTS iam_group_members_by_user ON iam_group_members (user_name)",
    """CREATE TABLE IF NOT EXISTS iam_policies (
            name TEXT PRIMARY KEY, document TEXT NOT NULL, created_us INTEGER NOT NULL, updated_us INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS iam_inline_policies (
            owner_kind TEXT NOT NULL, owner TEXT NOT NULL, name TEXT NOT NULL, document TEXT NOT NULL,
            PRIMARY KEY (owner_kind, owner, name))""",
    """CREATE TABLE IF NOT EXISTS iam_roles (
            name TEXT PRIMARY KEY, trust_policy TEXT NOT NULL, description TEXT NOT NULL,
            max_session_seconds INTEGER NOT NULL, created_us INTEGER NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS iam_generation (id INTEGER PRIMARY KEY, gen INTEGER NOT NULL)",
)

TABLES = (
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
    "chronicle_settings",
)


def upgrade() -> None:
    for statement in POSTGRES if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(statement)
    # Not a projection: the master key's check value, so a node with another key refuses to start.
    op.execute("CREATE TABLE IF NOT EXISTS chronicle_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TABLE IF EXISTS {table}")

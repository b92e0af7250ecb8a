"""Fresh PostgreSQL databases that are already migrated, without running `chronicle migrate`
for each: one template per test process is migrated once (by `chronicle migrate`, as a user
runs it), and each test's database is a copy of it (`CREATE DATABASE ... TEMPLATE`).

Why: `chronicle migrate` starts a Python process that imports Alembic and SQLAlchemy and
runs every migration, about 3 s of CPU on an idle 2-core machine and 10-20 s on a loaded
one; a copy takes about 0.2 s. The copy is the same schema `chronicle migrate` makes
(nothing else is in it), and migrating it again would change nothing
(tests/integration/test_postgres_backend.py::test_migrate_is_idempotent), so
`ServerFactory` skips the migrate step for it (`services.is_migrated_copy`).
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.helpers.server import ServerFactory, master_key, run_migrate
from tests.helpers.services import create_pg_database, drop_pg_database, record_migrated_copy


class MigratedTemplate:
    """One migrated template database, made on first use; `copy()` gives a fresh copy."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.name: str | None = None

    def _made(self) -> str:
        if self.name is None:
            name, url = create_pg_database("chronicle_template")
            self.name = name  # dropped by close() even if the migration fails
            env = ServerFactory(self.log_dir).base_env()
            env.update(
                CHRONICLE_DATABASE_URL=url,
                CHRONICLE_MASTER_KEY=master_key(),  # migrate stores nothing sealed: any key
                CHRONICLE_ROOT_USER="chronicleroot",
                CHRONICLE_ROOT_PASSWORD="template-secret-" + os.urandom(6).hex(),
            )
            run_migrate(env, self.log_dir)
        return self.name

    def copy(self, prefix: str = "chronicle_test") -> tuple[str, str]:
        """(name, url) of a new database holding the migrated schema and nothing else."""
        template = self._made()
        # PostgreSQL refuses to copy a database others are connected to; the migrate process
        # has exited, and PostgreSQL waits (up to 5 s) for its session to end.
        name, url = create_pg_database(prefix, template=template)
        record_migrated_copy(url)
        return name, url

    def close(self) -> None:
        if self.name is not None:
            drop_pg_database(self.name)
            self.name = None

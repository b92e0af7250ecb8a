"""Reach the real services the tests need (PostgreSQL here), through env vars.

Defaults match this project's machines. Outside CI a missing service skips the
tests that need it; in CI (CI=true) it fails them, so a broken machine is loud.
"""

from __future__ import annotations

import os
import urllib.parse
import uuid
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

PG_DSN = os.environ.get("CHRONICLE_TEST_PG_DSN", "postgresql://root@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("CHRONICLE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("CHRONICLE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
MYSQL_DSN = os.environ.get("CHRONICLE_TEST_MYSQL_DSN", "mysql://root@127.0.0.1:3306/test")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def service_missing(what: str, err: BaseException | str) -> None:
    """Skip (developer machine) or fail (CI) because WHAT is not reachable."""
    msg = f"{what} is not reachable: {err}"
    if in_ci():
        pytest.fail(msg + " (CI=true: a missing service is a failure)", pytrace=False)
    pytest.skip(msg)


def dsn_with_database(dsn: str, dbname: str) -> str:
    """DSN (URL form) pointing at database DBNAME instead of its own."""
    parts = urllib.parse.urlsplit(dsn)
    return urllib.parse.urlunsplit(parts._replace(path="/" + dbname))


def pg_connect(dsn: str = PG_DSN):
    import psycopg

    return psycopg.connect(dsn, autocommit=True, connect_timeout=5)


def create_pg_database(prefix: str = "chronicle_test", template: str | None = None) -> tuple[str, str]:
    """CREATE DATABASE with a unique name (a copy of TEMPLATE if given); returns (name, url)."""
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    try:
        conn = pg_connect()
    except Exception as e:  # psycopg.OperationalError and friends
        service_missing(f"PostgreSQL at {PG_DSN}", e)
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return name, dsn_with_database(PG_DSN, name)


def drop_pg_database(name: str) -> None:
    try:
        with pg_connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except Exception:  # best effort at teardown
        pass


# DROP DATABASE waits for a checkpoint (0.3-1.5 s on a busy machine, disk time, not CPU):
# a test's teardown hands its database to this thread and the next test starts meanwhile.
# `wait_for_dropped_databases()` (at the end of the session) waits until every one is gone.
_dropper = ThreadPoolExecutor(1, thread_name_prefix="drop-pg-database")
_drops: list[Future[None]] = []


def drop_pg_database_later(name: str) -> None:
    _drops.append(_dropper.submit(drop_pg_database, name))


def wait_for_dropped_databases() -> None:
    while _drops:
        _drops.pop().result()


# URLs of databases copied from a migrated template (tests/helpers/pg_template.py): already
# migrated, so starting a server on one needs no `chronicle migrate`.
_migrated_copies: set[str] = set()


def record_migrated_copy(url: str) -> None:
    _migrated_copies.add(url)


def is_migrated_copy(url: str) -> bool:
    return url in _migrated_copies

"""Reach the real services the tests need (PostgreSQL here), through env vars.

Defaults match this project's machines. Outside CI a missing service skips the
tests that need it; in CI (CI=true) it fails them, so a broken machine is loud.
"""

from __future__ import annotations

import os
import urllib.parse
import uuid

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


def create_pg_database(prefix: str = "chronicle_test") -> tuple[str, str]:
    """CREATE DATABASE with a unique name; returns (name, url)."""
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    try:
        conn = pg_connect()
    except Exception as e:  # psycopg.OperationalError and friends
        service_missing(f"PostgreSQL at {PG_DSN}", e)
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, dsn_with_database(PG_DSN, name)


def drop_pg_database(name: str) -> None:
    try:
        with pg_connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except Exception:  # best effort at teardown
        pass

"""Check CHRONICLE_DATABASE_URL with one direct connection before anything else uses it.

The store's pool retries a failing connection for 30 s and then raises a traceback; a
database that does not exist, a closed port, a wrong password or a URL that is not
PostgreSQL's is a configuration mistake to be told at once, in one line.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import psycopg

from cli.config_errors import ConfigurationError
from projections.eventstore.recorder import store_environment

CONNECT_TIMEOUT = 5  # seconds; a host that does not answer at all
_SCHEMES = ("postgres", "postgresql", "postgresql+psycopg")
_verified: set[str] = set()


def probe_database(url: str) -> None:
    """Raise ConfigurationError saying what is wrong with URL and what to do (the
    password is never part of the message). Once per URL and process."""
    if url in _verified:
        return
    scheme = urlparse(url).scheme
    if scheme not in _SCHEMES:
        raise ConfigurationError(
            f"CHRONICLE_DATABASE_URL must be a PostgreSQL URL (postgresql://user[:password]@host:port/dbname), "
            f"not {scheme or 'one without a scheme'}{'://' if scheme else ''}: fix it, or unset it to use the "
            "embedded SQLite store in --data-dir"
        )
    try:
        env = store_environment(url, Path("."), create_table=False)
    except ValueError as exc:  # e.g. a port that is not a number
        raise ConfigurationError(
            f"CHRONICLE_DATABASE_URL is malformed ({exc}): give postgresql://user[:password]@host:port/dbname"
        ) from None
    host, port, dbname, user = (
        env["POSTGRES_HOST"],
        env["POSTGRES_PORT"],
        env["POSTGRES_DBNAME"],
        env["POSTGRES_USER"],
    )
    where = f"PostgreSQL at {host}:{port}" if not host.startswith("/") else f"PostgreSQL at socket {host}"
    try:
        psycopg.connect(
            host=host,
            port=port,
            dbname=dbname,
            user=user,
            password=env["POSTGRES_PASSWORD"],
            connect_timeout=CONNECT_TIMEOUT,
        ).close()
    except psycopg.Error as exc:
        reason = _reason(exc)
        raise ConfigurationError(f"CHRONICLE_DATABASE_URL: {where}: {reason}: {_advice(reason, dbname)}") from None
    _verified.add(url)


def _reason(exc: psycopg.Error) -> str:
    """libpq's own words, without its 'connection to server ... failed:' preamble."""
    text = str(exc).split("\n")[0]
    text = text.rpartition(" failed: ")[2] if " failed: " in text else text
    return text.replace("FATAL:", "").strip() or "connection failed"


def _advice(reason: str, dbname: str) -> str:
    lowered = reason.lower()
    if "does not exist" in lowered and "database" in lowered:
        return f"create it (createdb {dbname}), then run `chronicle migrate` once"
    if "password" in lowered:
        return "check the user and password in CHRONICLE_DATABASE_URL"
    if "role" in lowered and "does not exist" in lowered:
        return "create that role in PostgreSQL, or fix the user in CHRONICLE_DATABASE_URL"
    if "pg_hba.conf" in lowered:
        return "allow this host and user in PostgreSQL's pg_hba.conf, or connect as another user"
    return "check that PostgreSQL runs there and that the host and port in CHRONICLE_DATABASE_URL are right"

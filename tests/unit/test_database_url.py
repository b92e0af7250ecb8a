"""CHRONICLE_DATABASE_URL in libpq's URI forms, Unix-socket directories included: a socket
URL read as 127.0.0.1 would send a node to the wrong server (or none) without a word."""

from __future__ import annotations

from pathlib import Path

import pytest

from projections.eventstore.recorder import store_environment


@pytest.mark.parametrize(
    ("url", "host", "port", "dbname", "user"),
    [
        ("postgresql://root@127.0.0.1:5432/chron", "127.0.0.1", "5432", "chron", "root"),
        ("postgresql://alice:s3cret@db.example:6432/chron", "db.example", "6432", "chron", "alice"),
        ("postgresql://root@/chron?host=/var/run/postgresql", "/var/run/postgresql", "5432", "chron", "root"),
        ("postgresql://root@/chron?host=/run/PG&port=5433", "/run/PG", "5433", "chron", "root"),
        ("postgresql://root@%2Fvar%2Frun%2FPostgres:5433/chron", "/var/run/Postgres", "5433", "chron", "root"),
        ("postgres:///chron", "127.0.0.1", "5432", "chron", "postgres"),
    ],
)
def test_database_url_forms(url, host, port, dbname, user):
    env = store_environment(url, Path("/nonexistent"), create_table=False)
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_DBNAME"], env["POSTGRES_USER"]) == (
        host,
        port,
        dbname,
        user,
    )

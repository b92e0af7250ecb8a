"""Shared fixtures: real Chronicle servers, real PostgreSQL, boto3 clients.

Session-scoped servers are one per xdist worker and backend; every test makes
its own uniquely named buckets, so tests run in parallel and in any order.
"""

from __future__ import annotations

import uuid

import pytest

from tests.helpers.pg_template import MigratedTemplate
from tests.helpers.server import ServerFactory, s3_client
from tests.helpers.services import (
    PG_DSN,
    create_pg_database,
    drop_pg_database_later,
    dsn_with_database,
    wait_for_dropped_databases,
)


def unique_bucket_name(prefix: str = "test") -> str:
    """A valid, lowercase, unique bucket name (3-63 chars)."""
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def empty_and_delete_bucket(client, name: str) -> None:
    """Best effort: remove every version, delete marker, upload, then the bucket."""
    try:
        paginator = client.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=name):
            objs = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            if objs:
                client.delete_objects(Bucket=name, Delete={"Objects": objs, "Quiet": True})
    except Exception:
        pass
    try:
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=name):
            objs = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if objs:
                client.delete_objects(Bucket=name, Delete={"Objects": objs, "Quiet": True})
    except Exception:
        pass
    try:
        for up in client.list_multipart_uploads(Bucket=name).get("Uploads", []):
            client.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
    except Exception:
        pass
    try:
        client.delete_bucket(Bucket=name)
    except Exception:
        pass


# -- servers ---------------------------------------------------------------


@pytest.fixture
def server_factory(tmp_path):
    """Call it to start a server: server_factory(backend="sqlite"|"postgres",
    database_url=..., tls=False, env={...}, data_dir=..., domain=...).
    Every server it started is stopped at teardown."""
    factory = ServerFactory(tmp_path / "servers")
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def session_server_factory(tmp_path_factory):
    factory = ServerFactory(tmp_path_factory.mktemp("session-servers"))
    yield factory
    factory.close()


@pytest.fixture(scope="session", autouse=True)
def _dropped_databases():
    """Every per-test database is dropped in the background (services.drop_pg_database_later);
    the session ends once they are all gone."""
    yield
    wait_for_dropped_databases()


@pytest.fixture(scope="session")
def pg_template(tmp_path_factory, _dropped_databases):
    """This worker's migrated template database (made on first use, dropped at the end)."""
    template = MigratedTemplate(tmp_path_factory.mktemp("pg-template"))
    yield template
    template.close()


@pytest.fixture
def pg_database(pg_template):
    """Name of a fresh PostgreSQL database that is already migrated (a copy of the template
    `chronicle migrate` made; server_factory starts on it without migrating), dropped
    (WITH FORCE) after the test. A test of migrating itself uses empty_pg_database."""
    name, _ = pg_template.copy()
    yield name
    drop_pg_database_later(name)


@pytest.fixture
def pg_url(pg_database):
    """URL of the fresh, migrated per-test database, for CHRONICLE_DATABASE_URL."""
    return dsn_with_database(PG_DSN, pg_database)


@pytest.fixture
def empty_pg_database(_dropped_databases):
    """Name of a fresh PostgreSQL database that was never migrated, dropped after the test."""
    name, _ = create_pg_database()
    yield name
    drop_pg_database_later(name)


@pytest.fixture
def empty_pg_url(empty_pg_database):
    """URL of the fresh, never migrated per-test database."""
    return dsn_with_database(PG_DSN, empty_pg_database)


@pytest.fixture(scope="session")
def session_pg_url(pg_template):
    name, url = pg_template.copy("chronicle_session")
    yield url
    drop_pg_database_later(name)


@pytest.fixture(scope="session")
def server(session_server_factory):
    """One embedded (SQLite) server per xdist worker."""
    return session_server_factory("sqlite")


@pytest.fixture(scope="session")
def pg_server(session_server_factory, session_pg_url):
    """One PostgreSQL-backed server per xdist worker (its own database)."""
    srv = session_server_factory("postgres", database_url=session_pg_url)
    yield srv
    srv.stop()  # before session_pg_url drops the database


# -- clients and buckets ---------------------------------------------------


@pytest.fixture(scope="session")
def s3(server):
    return s3_client(server)


@pytest.fixture(scope="session")
def pg_s3(pg_server):
    return s3_client(pg_server)


@pytest.fixture
def bucket_name():
    """A unique valid bucket name that does not exist yet."""
    return unique_bucket_name()


@pytest.fixture
def make_bucket(request):
    """make_bucket(client=s3, versioning=None|"Enabled"|"Suspended") -> name."""
    created: list[tuple[object, str]] = []

    def _make(client=None, versioning: str | None = None, name: str | None = None) -> str:
        client = client or request.getfixturevalue("s3")
        name = name or unique_bucket_name()
        client.create_bucket(Bucket=name)
        created.append((client, name))
        if versioning:
            client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning})
        return name

    yield _make
    for client, name in reversed(created):
        empty_and_delete_bucket(client, name)


@pytest.fixture
def bucket(make_bucket):
    """A fresh, empty bucket on the SQLite server."""
    return make_bucket()


@pytest.fixture
def pg_bucket(make_bucket, pg_s3):
    """A fresh, empty bucket on the PostgreSQL server."""
    return make_bucket(pg_s3)

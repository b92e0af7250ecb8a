"""`admin info` (the MinIO admin API's info, as minio-py and `chronicle admin info` read it)
reports the real object, version, delete-marker and byte counts, and the uptime since the
server started. A fresh server per test, since the counts are the whole deployment's."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
from minio import MinioAdmin
from minio.credentials import StaticProvider

from tests.conftest import unique_bucket_name
from tests.helpers.server import REPO_ROOT, chronicle_command


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_server(request, server_factory):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return server_factory("sqlite")
    return server_factory("postgres", database_url=request.getfixturevalue("pg_url"))


def admin_info(server) -> dict:  # type: ignore[no-untyped-def]
    admin = MinioAdmin(
        endpoint=server.address,
        credentials=StaticProvider(server.access_key, server.secret_key),
        secure=False,
    )
    return json.loads(admin.info())


def cli_info(server, *args: str) -> str:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHRONICLE_")}
    env.update(
        CHRONICLE_ADMIN_ENDPOINT=server.endpoint,
        CHRONICLE_ROOT_USER=server.access_key,
        CHRONICLE_ROOT_PASSWORD=server.secret_key,
    )
    res = subprocess.run(
        chronicle_command("admin", *args, "info"),
        env=env, cwd=str(REPO_ROOT), capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    return res.stdout


def counts(info: dict) -> tuple[int, int, int, int, int]:
    return (
        info["buckets"]["count"],
        info["objects"]["count"],
        info["versions"]["count"],
        info["deletemarkers"]["count"],
        info["usage"]["size"],
    )


def test_counts_follow_puts_and_deletes(fresh_server):  # type: ignore[no-untyped-def]
    s3 = fresh_server.client()
    assert counts(admin_info(fresh_server)) == (0, 0, 0, 0, 0)
    plain, versioned = unique_bucket_name("info"), unique_bucket_name("infov")
    s3.create_bucket(Bucket=plain)
    s3.create_bucket(Bucket=versioned)
    s3.put_bucket_versioning(Bucket=versioned, VersioningConfiguration={"Status": "Enabled"})
    n = 7
    for i in range(n):
        s3.put_object(Bucket=plain, Key=f"k{i}", Body=b"x" * 100)
    assert counts(admin_info(fresh_server)) == (2, n, n, 0, n * 100)

    s3.put_object(Bucket=plain, Key="k0", Body=b"y" * 10)  # an overwrite: still n objects
    s3.delete_object(Bucket=plain, Key="k1")
    s3.put_object(Bucket=versioned, Key="v", Body=b"1" * 5)
    s3.put_object(Bucket=versioned, Key="v", Body=b"2" * 6)
    s3.delete_object(Bucket=versioned, Key="v")  # a delete marker over two versions
    size = (n - 2) * 100 + 10 + 5 + 6
    assert counts(admin_info(fresh_server)) == (2, n - 1, n - 1 + 2, 1, size)

    data = json.loads(cli_info(fresh_server, "--json"))
    assert counts(data) == (2, n - 1, n + 1, 1, size)
    text = cli_info(fresh_server)
    assert f"Objects:    {n - 1}\n" in text and f"Usage:      {size} bytes" in text


def test_uptime_counts_from_the_server_start(fresh_server):  # type: ignore[no-untyped-def]
    """Not from the first admin call: wait until the server has been up a few seconds
    (it was live when the factory returned), then the first info already shows them."""
    live_at = time.monotonic()
    while time.monotonic() - live_at < 3:
        time.sleep(0.2)
    first = admin_info(fresh_server)["servers"][0]["uptime"]
    assert first >= 2
    deadline = time.monotonic() + 30
    while admin_info(fresh_server)["servers"][0]["uptime"] <= first:
        assert time.monotonic() < deadline, "uptime did not grow"
        time.sleep(0.2)

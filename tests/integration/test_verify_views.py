"""`chronicle verify` (without --chain): every view rebuilt from the log into a scratch target
while the server runs and writes, compared row by row with the live tables; exit 0 only when
identical, else the differences by table. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading

import psycopg
import pytest
from minio import MinioAdmin
from minio.credentials import StaticProvider

from tests.conftest import unique_bucket_name
from tests.helpers.server import REPO_ROOT, chronicle_command


def verify(srv, *args: str) -> subprocess.CompletedProcess:
    res = subprocess.run(
        chronicle_command("verify", "--data-dir", str(srv.data_dir), *args),
        cwd=str(REPO_ROOT),
        env=srv.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "Traceback" not in res.stderr, res.stderr
    return res


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_rebuilt_views_equal_the_live_ones_until_a_row_is_edited(server_factory, request, backend):
    pg_url = request.getfixturevalue("pg_url") if backend == "postgres" else None
    srv = server_factory(backend, **({"database_url": pg_url} if pg_url else {}))
    s3 = srv.client()
    admin = MinioAdmin(endpoint=srv.address, credentials=StaticProvider(srv.access_key, srv.secret_key), secure=False)
    bucket, versioned = unique_bucket_name("verified"), unique_bucket_name("verified-v")
    s3.create_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=versioned)
    s3.put_bucket_versioning(Bucket=versioned, VersioningConfiguration={"Status": "Enabled"})
    for i in range(20):
        s3.put_object(Bucket=bucket, Key=f"k{i % 7}", Body=f"v{i}".encode())
        s3.put_object(Bucket=versioned, Key=f"k{i % 3}", Body=f"v{i}".encode())
    s3.delete_object(Bucket=bucket, Key="k1")
    s3.delete_object(Bucket=versioned, Key="k2")
    s3.put_object_tagging(Bucket=bucket, Key="k0", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    admin.user_add("verified-user", "verified-user-secret")
    admin.policy_set("readwrite", user="verified-user")

    # Writes go on while verify runs: they land after its snapshot and are no difference.
    stop = threading.Event()

    def keep_writing() -> None:
        i = 0
        while not stop.is_set():
            s3.put_object(Bucket=bucket, Key=f"during/{i}", Body=b"x")
            i += 1

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        clean = verify(srv, "--json")
    finally:
        stop.set()
        writer.join()
    report = json.loads(clean.stdout)
    assert clean.returncode == 0 and report["ok"] and report["differences"] == [], clean.stdout
    assert report["rows"] > 40

    # An edited view row is found and named.
    if pg_url:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("UPDATE ns_versions SET etag = 'tampered' WHERE bucket = %s AND key = 'k3'", (bucket,))
            left = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'chronicle_verify_%'")
            assert left.fetchone()[0] == 0, "the scratch schema is removed"
    else:
        with sqlite3.connect(srv.data_dir / "chronicle.sqlite3") as conn:
            conn.execute("UPDATE ns_versions SET etag = 'tampered' WHERE bucket = ? AND key = 'k3'", (bucket,))
    found = verify(srv)
    assert found.returncode == 1, found.stdout
    assert "ns_versions: 1 rows only in the live table, 1 only in the rebuilt one" in found.stdout
    assert "tampered" in found.stdout and "differ" in found.stdout

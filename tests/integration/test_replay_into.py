"""`chronicle replay --until TIME|POSITION --into TARGET`: the namespace and IAM views as they
were at a past moment, built into another PostgreSQL database or a SQLite file while the server
keeps running; the live tables are not touched."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from datetime import UTC, datetime

import psycopg
import pytest
from minio import MinioAdmin
from minio.credentials import StaticProvider
from psycopg.rows import dict_row

from projections.eventstore.inline import INLINE_TABLES
from tests.conftest import unique_bucket_name
from tests.helpers.server import REPO_ROOT, chronicle_command
from tests.helpers.services import create_pg_database, drop_pg_database
from tests.integration.test_write_paths import write_history


def chronicle(srv, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        chronicle_command(*args, "--data-dir", str(srv.data_dir)),
        cwd=str(REPO_ROOT),
        env=srv.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def indexed_head(srv, at_least: int) -> int:
    """The last position in the audit index once it holds `at_least` events."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        res = chronicle(srv, "audit", "--format", "json", "--limit", "100000")
        positions = [json.loads(line)["position"] for line in res.stdout.splitlines()]
        if len(positions) >= at_least:
            return positions[-1]
        time.sleep(0.2)
    raise AssertionError(f"the audit index holds {len(positions)} of {at_least} events")


def live_listing(s3, bucket: str) -> list[tuple[str, str]]:
    return [(o["Key"], o["ETag"].strip('"')) for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_views_as_of_a_past_moment_while_the_server_runs(server_factory, request, backend, tmp_path):
    kwargs = {"database_url": request.getfixturevalue("pg_url")} if backend == "postgres" else {}
    srv = server_factory(backend, **kwargs)
    s3 = srv.client()
    admin = MinioAdmin(endpoint=srv.address, credentials=StaticProvider(srv.access_key, srv.secret_key), secure=False)
    bucket = unique_bucket_name("as-of")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="report.csv", Body=b"version 1")
    s3.put_object(Bucket=bucket, Key="draft.txt", Body=b"to be deleted")
    admin.user_add("early-user", "early-user-secret")
    position = indexed_head(srv, 4)
    then = live_listing(s3, bucket)
    time.sleep(0.05)
    moment = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    s3.put_object(Bucket=bucket, Key="report.csv", Body=b"version 2, later")
    s3.delete_object(Bucket=bucket, Key="draft.txt")
    s3.put_object(Bucket=bucket, Key="new.txt", Body=b"later")
    admin.user_add("late-user", "late-user-secret")
    indexed_head(srv, 8)
    assert live_listing(s3, bucket) != then

    targets = [(str(position), tmp_path / "by-position.sqlite3"), (moment, tmp_path / "by-time.sqlite3")]
    pg_target = None
    if backend == "postgres":
        pg_target, pg_target_url = create_pg_database("chronicle_asof")
        targets.append((str(position), pg_target_url))
    try:
        for until, target in targets:
            res = chronicle(srv, "replay", "--until", until, "--into", str(target))
            assert res.returncode == 0, res.stderr
            assert f"up to position {position}" in res.stdout
            if isinstance(target, str):
                conn = psycopg.connect(target, row_factory=dict_row)
                flag = "TRUE"
            else:
                conn = sqlite3.connect(target)
                conn.row_factory = sqlite3.Row
                flag = "1"
            with conn:
                rows = conn.execute(
                    f"SELECT key, etag FROM ns_versions WHERE bucket = '{bucket}' AND is_latest = {flag} "
                    f"AND is_delete_marker <> {flag} ORDER BY key"
                ).fetchall()
                users = [r["name"] for r in conn.execute("SELECT name FROM iam_users ORDER BY name").fetchall()]
            conn.close()
            assert [(r["key"], r["etag"]) for r in rows] == then, until
            assert "early-user" in users and "late-user" not in users
    finally:
        if pg_target:
            drop_pg_database(pg_target)
    # The server kept serving, and its tables still hold the present.
    assert [k for k, _ in live_listing(s3, bucket)] == ["new.txt", "report.csv"]


def test_until_needs_into_and_bad_targets_are_named(server_factory, tmp_path):
    srv = server_factory("sqlite")
    for args, says in (
        (["--until", "5"], "--into"),
        (["--into", "mysql://x/y"], "postgresql://"),
        (["--until", "yesterday", "--into", str(tmp_path / "t.sqlite3")], "ISO 8601"),
    ):
        res = chronicle(srv, "replay", *args)
        assert res.returncode == 2 and says in res.stderr and "Traceback" not in res.stderr, (args, res.stderr)


def _inline_rows(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        return {t: sorted(map(tuple, conn.execute(f"SELECT * FROM {t}").fetchall())) for t in INLINE_TABLES}


def test_the_fast_rebuild_builds_what_the_event_by_event_one_builds(server_factory, pg_url, tmp_path):
    """projections.rebuild_fast (on by default) against CHRONICLE_FAST_PATH=off, one log: every
    write scenario (tests/integration/test_write_paths.py), plain PUTs around the others, a
    metadata key the fast decoder leaves to the plain one; the same rows in every table."""
    srv = server_factory("postgres", database_url=pg_url)
    s3 = srv.client()
    bucket = unique_bucket_name("fast-rebuild")
    write_history(s3, bucket)
    plain = unique_bucket_name("fast-rebuild-plain")
    s3.create_bucket(Bucket=plain)
    for i in range(30):
        s3.put_object(Bucket=plain, Key=f"k/{i % 20}", Body=b"x" * i, Metadata={"n": str(i)})
    s3.put_object(Bucket=plain, Key="typed", Body=b"t", Metadata={"_type_": "datetime_iso"})
    s3.put_object_tagging(Bucket=plain, Key="k/1", Tagging={"TagSet": [{"Key": "t", "Value": "1"}]})
    s3.put_object(Bucket=plain, Key="k/1", Body=b"after the tags")
    s3.delete_object(Bucket=plain, Key="k/2")
    s3.put_object(Bucket=plain, Key="k/2", Body=b"again")
    built = {}
    names = []
    try:
        for switch in ("on", "off"):
            name, url = create_pg_database(f"chronicle_fast_{switch}")
            names.append(name)
            res = subprocess.run(
                chronicle_command("replay", "--until", "999999999", "--into", url, "--data-dir", str(srv.data_dir)),
                cwd=str(REPO_ROOT),
                env={**srv.env, "CHRONICLE_FAST_PATH": switch},
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert res.returncode == 0, res.stderr
            built[switch] = _inline_rows(url)
    finally:
        for name in names:
            drop_pg_database(name)
    assert any(row[2] == "typed" for row in built["on"]["ns_versions"])
    for table in INLINE_TABLES:
        assert built["on"][table] == built["off"][table], table

    # The chain is checked while the views build: an edited event drops what was built.
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE chronicle_events SET state = convert_to(replace(convert_from(state, 'UTF8'), '\"Put\"', "
            "'\"Pwn\"'), 'UTF8') WHERE notification_id = (SELECT max(notification_id) FROM chronicle_events "
            "WHERE topic = 'chronicle.ObjectVersion.Created')"
        )
    target = tmp_path / "refused.sqlite3"
    res = chronicle(srv, "replay", "--until", "999999999", "--into", str(target))
    assert res.returncode == 1 and "refused, nothing was kept" in res.stderr and "altered" in res.stderr, res.stderr
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'ns_versions'").fetchall() == []

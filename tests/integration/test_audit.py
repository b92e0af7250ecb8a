"""`chronicle audit`: every change with time, position, principal, source IP, user agent,
request id and data, served from the audit index (built from the log off the request path),
filtered by bucket, key or prefix, principal, source IP, event or kind, and time; secrets
never shown. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.config import Config
from minio import MinioAdmin
from minio.credentials import StaticProvider

from tests.conftest import unique_bucket_name
from tests.helpers.change_schema import assert_valid
from tests.helpers.server import REPO_ROOT, chronicle_command


def audit(srv, *args: str) -> subprocess.CompletedProcess:
    res = subprocess.run(
        chronicle_command("audit", "--data-dir", str(srv.data_dir), *args),
        cwd=str(REPO_ROOT),
        env=srv.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    return res


def records(srv, *args: str) -> list[dict]:
    return [json.loads(line) for line in audit(srv, "--format", "json", *args).stdout.splitlines()]


def wait_indexed(srv, count: int) -> list[dict]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        got = records(srv)
        if len(got) >= count:
            return got
        time.sleep(0.2)
    raise AssertionError(f"the audit index did not reach {count} records: {len(got)}")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_audit_answers_by_key_principal_address_event_and_time(server_factory, request, backend):
    kwargs = {"database_url": request.getfixturevalue("pg_url")} if backend == "postgres" else {}
    srv = server_factory(backend, **kwargs)
    s3 = srv.client()
    admin = MinioAdmin(endpoint=srv.address, credentials=StaticProvider(srv.access_key, srv.secret_key), secure=False)
    bucket = unique_bucket_name("audited")
    user, secret = "auditee-" + bucket[-6:], "auditee-secret-value-1"
    s3.create_bucket(Bucket=bucket)
    admin.user_add(user, secret)
    admin.policy_set("readwrite", user=user)
    started = datetime.now(UTC)
    as_user = boto3.client(
        "s3",
        endpoint_url=srv.endpoint,
        aws_access_key_id=user,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1, "mode": "standard"}),
    )
    as_user.put_object(Bucket=bucket, Key="reports/q1.csv", Body=b"1")
    as_user.put_object(Bucket=bucket, Key="reports/q2.csv", Body=b"2")
    s3.put_object(Bucket=bucket, Key="photos/cat.jpg", Body=b"meow")
    s3.put_object_tagging(Bucket=bucket, Key="reports/q1.csv", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    s3.delete_object(Bucket=bucket, Key="reports/q2.csv")
    everything = wait_indexed(srv, 8)
    assert_valid(everything)
    positions = [r["position"] for r in everything]
    assert positions == sorted(positions)

    # One key: its creation (by the user) and the tag change (by root), in log order.
    q1 = records(srv, "--bucket", bucket, "--key", "reports/q1.csv")
    assert [(r["event"], r["principal"]["accessKey"]) for r in q1] == [
        ("ObjectVersion.Created", user),
        ("ObjectVersion.TagsSet", srv.access_key),
    ]
    assert q1[1]["data"]["tags"] == {"k": "v"}
    assert all(r["requestId"] and r["userAgent"] and r["sourceIp"] == "127.0.0.1" for r in q1)
    # A prefix.
    assert {r["key"] for r in records(srv, "--bucket", bucket, "--prefix", "reports/")} == {
        "reports/q1.csv",
        "reports/q2.csv",
    }
    # A principal: what the user did (its writes), and what was done to it (its creation).
    by_user = records(srv, "--principal", user)
    assert {(r["event"], r.get("key", "")) for r in by_user} >= {
        ("ObjectVersion.Created", "reports/q1.csv"),
        ("ObjectVersion.Created", "reports/q2.csv"),
        ("User.Created", ""),
    }
    assert not [r for r in by_user if r.get("key") == "photos/cat.jpg"]
    # An address, an event, a kind.
    assert len(records(srv, "--source-ip", "127.0.0.1")) == len(everything)
    assert records(srv, "--source-ip", "10.9.8.7") == []
    assert [r["key"] for r in records(srv, "--event", "DeleteMarker.Created")] == ["reports/q2.csv"]
    iam = records(srv, "--event", "iam")
    assert iam and all(r["kind"] == "iam" for r in iam)
    # Time: nothing after now; the user's writes since the moment before them.
    future = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    assert records(srv, "--since", future) == []
    since = records(srv, "--since", started.isoformat(), "--principal", user)
    assert {r["event"] for r in since} == {"ObjectVersion.Created"}
    assert records(srv, "--until", started.isoformat(), "--bucket", bucket, "--event", "object") == []
    # Secrets never: not the user's secret, not its sealed form.
    text = audit(srv, "--format", "json").stdout
    assert secret not in text and "sealed_secret" not in text
    # Table and CSV carry the same rows.
    table = audit(srv, "--bucket", bucket, "--key", "reports/q1.csv").stdout.splitlines()
    assert len(table) == 3 and "ObjectVersion.TagsSet" in table[2]
    rows = list(csv.DictReader(io.StringIO(audit(srv, "--format", "csv", "--bucket", bucket).stdout)))
    assert [int(r["position"]) for r in rows] == [r["position"] for r in records(srv, "--bucket", bucket)]

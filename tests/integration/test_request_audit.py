"""The request audit: when enabled (every request, or some buckets' requests), reads, listings
and refused requests are recorded in MinIO's audit entry format, off the request path, and
`chronicle audit --requests` / `chronicle audit export` answer from them. Secrets never appear."""

from __future__ import annotations

import json
import subprocess
import time

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import unique_bucket_name
from tests.helpers.server import REPO_ROOT, chronicle_command


def audit(srv, *args: str) -> subprocess.CompletedProcess:
    res = subprocess.run(
        chronicle_command("audit", *args[:1], "--data-dir", str(srv.data_dir), *args[1:])
        if args and args[0] == "export"
        else chronicle_command("audit", "--data-dir", str(srv.data_dir), *args),
        cwd=str(REPO_ROOT),
        env=srv.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    return res


def entries(srv, *args: str) -> list[dict]:
    return [json.loads(line) for line in audit(srv, "--requests", "--format", "json", *args).stdout.splitlines()]


def wait_for(srv, count: int, *args: str) -> list[dict]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = entries(srv, *args)
        if len(got) >= count:
            return got
        time.sleep(0.3)
    raise AssertionError(f"{len(got)} of {count} requests recorded")


def client(srv, key: str, secret: str):
    return boto3.client(
        "s3",
        endpoint_url=srv.endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1, "mode": "standard"}),
    )


# On PostgreSQL the entries are written by a process of their own (api.audit.writer_process);
# CHRONICLE_FAST_PATH=off writes them from the server's thread: both must record the same.
@pytest.mark.parametrize("backend", ["sqlite", "postgres", "postgres-thread"])
def test_reads_and_refusals_are_recorded_and_queried(server_factory, request, backend):
    env = {"CHRONICLE_AUDIT_REQUESTS": "on"}
    if backend == "postgres-thread":
        backend, env = "postgres", dict(env, CHRONICLE_FAST_PATH="off")
    kwargs = {"database_url": request.getfixturevalue("pg_url")} if backend == "postgres" else {}
    srv = server_factory(backend, env=env, **kwargs)
    s3 = srv.client()
    bucket = unique_bucket_name("audited-reads")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="report.csv", Body=b"a,b\n")
    got = s3.get_object(Bucket=bucket, Key="report.csv")
    get_id = got["ResponseMetadata"]["RequestId"]
    s3.list_objects_v2(Bucket=bucket)
    anonymous = requests.get(f"{srv.endpoint}/{bucket}/report.csv", timeout=30)
    assert anonymous.status_code == 403
    with pytest.raises(ClientError) as bad:
        client(srv, srv.access_key, "not-the-secret-at-all").get_object(Bucket=bucket, Key="report.csv")
    assert bad.value.response["Error"]["Code"] == "SignatureDoesNotMatch"

    everything = wait_for(srv, 6)
    by_id = {e["requestID"]: e for e in everything}
    read = by_id[get_id]
    assert read["version"] == "1" and read["trigger"] == "incoming"
    assert read["api"]["name"] == "GetObject" and read["api"]["statusCode"] == 200
    assert (read["api"]["bucket"], read["api"]["object"], read["api"]["tx"]) == (bucket, "report.csv", 4)
    assert read["accessKey"] == srv.access_key and read["remotehost"] == "127.0.0.1"
    assert read["deploymentid"] and read["api"]["timeToResponseInNS"].isdigit()
    assert "ListObjectsV2" in {e["api"]["name"] for e in everything}

    refused = entries(srv, "--status", "403")
    assert {e.get("error") for e in refused} == {"AccessDenied", "SignatureDoesNotMatch"}
    assert [e["accessKey"] for e in refused if e["error"] == "AccessDenied"] == [""]
    text = json.dumps(everything)
    assert srv.secret_key not in text and "not-the-secret-at-all" not in text
    assert all("authorization" not in e["requestHeader"] for e in everything)
    assert "Signature=" not in text

    one_key = entries(srv, "--bucket", bucket, "--key", "report.csv")
    assert {e["api"]["name"] for e in one_key} >= {"PutObject", "GetObject"}
    exported = [json.loads(line) for line in audit(srv, "export", "--since", "1h").stdout.splitlines()]
    assert [e["requestID"] for e in exported] == [e["requestID"] for e in entries(srv, "--limit", "100000")]
    table = audit(srv, "--requests", "--status", "403").stdout
    assert "SignatureDoesNotMatch" in table and "AccessDenied" in table


def test_only_the_named_buckets_and_nothing_when_off(server_factory):
    watched, other = unique_bucket_name("watched"), unique_bucket_name("other")
    srv = server_factory("sqlite", env={"CHRONICLE_AUDIT_REQUESTS": watched})
    s3 = srv.client()
    for b in (watched, other):
        s3.create_bucket(Bucket=b)
        s3.put_object(Bucket=b, Key="k", Body=b"1")
        s3.get_object(Bucket=b, Key="k")
    got = wait_for(srv, 3)
    time.sleep(1)
    assert {e["api"]["bucket"] for e in entries(srv)} == {watched}
    assert len(got) == 3

    # The entries can go to MinIO's audit_webhook targets (tests/integration/test_audit_webhook.py):
    # configuring one is accepted, and listed without its token.
    env = {k: v for k, v in srv.env.items() if not k.startswith("CHRONICLE_")}
    env.update(
        CHRONICLE_ADMIN_ENDPOINT=srv.endpoint,
        CHRONICLE_ROOT_USER=srv.access_key,
        CHRONICLE_ROOT_PASSWORD=srv.secret_key,
    )
    for args in (
        ("set", "audit_webhook:1", "endpoint=http://127.0.0.1:9/audit", "auth_token=not-to-be-shown"),
        ("get", "audit_webhook:1"),
    ):
        done = subprocess.run(
            chronicle_command("admin", "config", *args),
            env=env,
            cwd=str(REPO_ROOT),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0 and "Traceback" not in done.stderr, done
    assert "endpoint=http://127.0.0.1:9/audit" in done.stdout and "not-to-be-shown" not in done.stdout

    quiet = server_factory("sqlite")
    quiet.client().create_bucket(Bucket=other)
    quiet.client().list_objects_v2(Bucket=other)
    time.sleep(1)
    assert entries(quiet) == []


def test_the_admin_api_answers_the_audit_questions(server_factory):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from minio import MinioAdmin
    from minio.credentials import StaticProvider

    srv = server_factory("sqlite", env={"CHRONICLE_AUDIT_REQUESTS": "on"})
    s3 = srv.client()
    bucket = unique_bucket_name("admin-audit")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"1")
    s3.put_object(Bucket=bucket, Key="b.txt", Body=b"2")
    assert requests.get(f"{srv.endpoint}/{bucket}/a.txt", timeout=30).status_code == 403
    admin = MinioAdmin(endpoint=srv.address, credentials=StaticProvider(srv.access_key, srv.secret_key), secure=False)
    admin.user_add("no-trace", "no-trace-secret-1")
    admin.policy_set("readwrite", user="no-trace")

    def get(query: str, key: str = srv.access_key, secret: str = srv.secret_key):
        url = f"{srv.endpoint}/minio/admin/v3/chronicle/audit?{query}"
        empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        req = AWSRequest(method="GET", url=url, headers={"X-Amz-Content-SHA256": empty})
        SigV4Auth(Credentials(key, secret), "s3", "us-east-1").add_auth(req)
        return requests.get(url, headers=dict(req.headers), timeout=30)

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        changes = get(f"bucket={bucket}&key=a.txt").json()
        if changes["records"]:
            break
        time.sleep(0.3)
    assert [r["event"] for r in changes["records"]] == ["ObjectVersion.Created"]
    assert changes["records"][0]["key"] == "a.txt" and changes["indexedUpTo"] >= changes["next"]
    refused = wait_for(srv, 1, "--status", "403")
    answered = get("requests=true&status=403").json()["requests"]
    assert [e["requestID"] for e in answered] == [e["requestID"] for e in refused]
    assert get("requests=true&status=abc").status_code == 400
    assert get("key=a.txt").json()["Code"] == "XMinioAdminInvalidArgument"
    assert get("bucket=" + bucket, "no-trace", "no-trace-secret-1").status_code == 403

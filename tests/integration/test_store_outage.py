"""PostgreSQL out of reach (down, restarting, refusing connections): clients get 503
SlowDown with Retry-After, so they back off and try again, never 500 InternalError; the
server logs no traceback; once the database is back, requests succeed again without a
restart of the server."""

from __future__ import annotations

import urllib.parse
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.helpers.notify import TCPProxy, wait_until
from tests.helpers.services import PG_DSN, pg_connect

pytestmark = pytest.mark.timeout(300)


def through(proxy: TCPProxy, url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    netloc = f"{parts.username}@127.0.0.1:{proxy.port}" if parts.username else f"127.0.0.1:{proxy.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def operations(srv, bucket: str) -> dict:
    """One request of each path to the store: plain PUTs appended from the event loop,
    GETs read from it, listings, HEADs and bucket changes through the committer and the
    connection pool, an IAM call."""
    s3 = srv.client()
    iam = srv.client("iam")
    suffix = uuid.uuid4().hex[:8]
    return {
        "PutObject": lambda: s3.put_object(Bucket=bucket, Key=f"k-{suffix}", Body=b"x"),
        "GetObject": lambda: s3.get_object(Bucket=bucket, Key="kept")["Body"].read(),
        "HeadObject": lambda: s3.head_object(Bucket=bucket, Key="kept"),
        "ListObjectsV2": lambda: s3.list_objects_v2(Bucket=bucket),
        "CreateBucket": lambda: s3.create_bucket(Bucket=f"new-{suffix}"),
        "PutBucketTagging": lambda: s3.put_bucket_tagging(
            Bucket=bucket, Tagging={"TagSet": [{"Key": "t", "Value": suffix}]}
        ),
        "ListBuckets": lambda: s3.list_buckets(),
        "iam:CreateUser": lambda: iam.create_user(UserName=f"u-{suffix}"),
    }


def assert_all_slow_down(srv, bucket: str) -> None:
    for name, call in operations(srv, bucket).items():
        with pytest.raises(ClientError) as caught:
            call()
        response = caught.value.response
        status = response["ResponseMetadata"]["HTTPStatusCode"]
        code = response.get("Error", {}).get("Code")
        assert status == 503, f"{name}: HTTP {status} {code}"
        if name.startswith("iam:"):
            assert code == "ServiceUnavailable", name
        elif name != "HeadObject":  # a HEAD answer has no body to carry the code
            assert code == "SlowDown", f"{name}: {code}"
        assert response["ResponseMetadata"]["HTTPHeaders"].get("retry-after") == "1", name


def all_succeed(srv, bucket: str) -> bool:
    try:
        for call in operations(srv, bucket).values():
            call()
    except ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 503, e.response
        return False
    return True


def assert_clean_log(srv) -> None:
    log = srv.stderr_text()
    assert "Traceback" not in log, log[-6000:]
    assert "internal error" not in log, log[-6000:]
    # One line per outage, not one per failed request.
    assert 1 <= log.count("the event store is out of reach") <= 2, log[-6000:]


def prepare(srv, bucket: str) -> None:
    s3 = srv.client()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="kept", Body=b"kept")
    for i in range(3):  # the bucket is known unversioned: PUTs take the event loop's path
        s3.put_object(Bucket=bucket, Key=f"warm-{i}", Body=b"x")
    assert all_succeed(srv, bucket)


def test_postgres_unreachable_then_back(server_factory, pg_url, tmp_path):
    """Every connection cut, new ones refused (a TCP proxy in front of PostgreSQL is killed),
    then the proxy comes back on the same port."""
    proxy = TCPProxy("127.0.0.1:5432").start()
    try:
        srv = server_factory("postgres", database_url=through(proxy, pg_url))
        pid = srv.proc.pid
        prepare(srv, "outage")
        proxy.kill()
        assert_all_slow_down(srv, "outage")
        proxy.start()
        wait_until(lambda: all_succeed(srv, "outage"), 120, "requests to succeed again")
        assert srv.running and srv.proc.pid == pid
        assert srv.client().get_object(Bucket="outage", Key="kept")["Body"].read() == b"kept"
        assert_clean_log(srv)
    finally:
        proxy.kill()


def test_backends_terminated_and_connections_refused(server_factory, pg_url, pg_database):
    """As in a restart: every session of the server is terminated by the administrator and
    the database refuses new ones for a while."""
    srv = server_factory("postgres", database_url=pg_url)
    prepare(srv, "refused")
    with pg_connect(PG_DSN) as admin:
        admin.execute(f'ALTER DATABASE "{pg_database}" ALLOW_CONNECTIONS false')
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE datname = %s",
                (pg_database,),
            )
            assert_all_slow_down(srv, "refused")
        finally:
            admin.execute(f'ALTER DATABASE "{pg_database}" ALLOW_CONNECTIONS true')
    wait_until(lambda: all_succeed(srv, "refused"), 120, "requests to succeed again")
    assert srv.running
    assert_clean_log(srv)

"""Bucket names MinIO reserves: "minio" (its paths /minio/admin/, /minio/health/ and
/minio/v2/metrics/ are served before S3, so such a bucket's keys under those prefixes were
unreachable) and ".minio.sys". Creating one is refused with MinIO's AllAccessDisabled (403); a
"minio" bucket made by an earlier Chronicle keeps being served, so its data can be read and
moved."""

from __future__ import annotations

import pytest

from tests.helpers import legacy
from tests.helpers.s3 import s3_error
from tests.integration.test_bad_input import assert_s3_error, s3_request


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request):  # type: ignore[no-untyped-def]
    return request.param


@pytest.fixture
def srv(request, backend):  # type: ignore[no-untyped-def]
    return request.getfixturevalue("server" if backend == "sqlite" else "pg_server")


@pytest.fixture
def client(request, backend):  # type: ignore[no-untyped-def]
    return request.getfixturevalue("s3" if backend == "sqlite" else "pg_s3")


def bucket_names(client) -> list[str]:  # type: ignore[no-untyped-def]
    return [b["Name"] for b in client.list_buckets()["Buckets"]]


@pytest.mark.parametrize("name", ["minio", ".minio.sys"])
def test_reserved_bucket_name_cannot_be_created(srv, client, name):  # type: ignore[no-untyped-def]
    resp = s3_request(srv, "PUT", f"/{name}")
    assert_s3_error(resp, 403, "AllAccessDisabled", f"/{name}")
    if name == "minio":  # boto3 refuses ".minio.sys" itself
        with s3_error("AllAccessDisabled", 403):
            client.create_bucket(Bucket=name)
    assert name not in bucket_names(client)


def test_names_near_the_reserved_ones_are_fine(srv, client, make_bucket):  # type: ignore[no-untyped-def]
    suffix = srv.port  # unique per server, as bucket names are global
    for name in (f"minio-{suffix}", f"my-minio-{suffix}", f"minio.sys-{suffix}"):
        make_bucket(client, name=name)
        client.put_object(Bucket=name, Key="admin/x", Body=b"ok")
        assert client.get_object(Bucket=name, Key="admin/x")["Body"].read() == b"ok"


@pytest.fixture
def own_server(server_factory, backend, request):  # type: ignore[no-untyped-def]
    """(server, database URL) of this test's own: the earlier bucket is appended while it is
    stopped (tests.helpers.legacy)."""
    if backend == "sqlite":
        return server_factory("sqlite"), None
    url = request.getfixturevalue("pg_url")
    return server_factory("postgres", database_url=url), url


def test_minio_bucket_made_before_keeps_its_data(own_server):  # type: ignore[no-untyped-def]
    srv, database_url = own_server
    client = srv.client()
    legacy.append(srv, database_url, legacy.bucket("minio", srv.access_key))
    assert "minio" in bucket_names(client)
    client.put_object(Bucket="minio", Key="data/k", Body=b"kept")
    assert client.get_object(Bucket="minio", Key="data/k")["Body"].read() == b"kept"
    assert [o["Key"] for o in client.list_objects_v2(Bucket="minio")["Contents"]] == ["data/k"]
    client.copy_object(Bucket="minio", Key="data/copy", CopySource={"Bucket": "minio", "Key": "data/k"})
    # Still not to be made again, even by its owner.
    with s3_error("AllAccessDisabled", 403):
        client.create_bucket(Bucket="minio")
    for key in ("data/k", "data/copy"):
        client.delete_object(Bucket="minio", Key=key)
    client.delete_bucket(Bucket="minio")
    assert "minio" not in bucket_names(client)
    with s3_error("AllAccessDisabled", 403):
        client.create_bucket(Bucket="minio")
    assert "Traceback" not in srv.stderr_text(), srv.stderr_text()[-4000:]

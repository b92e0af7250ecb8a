"""Presigned URLs live at most a week. SigV4 carries the limit in its own rules (X-Amz-Expires
at most 604800); SigV2, boto3's default for presigned URLs, has no documented limit at AWS.
Chronicle refuses a SigV2 URL whose Expires is more than a week after the time of the request,
with the error SigV4 gives for too long a lifetime."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config

from tests.helpers.s3 import parse_error_xml, raw_get

WEEK = 7 * 24 * 3600
YEAR = 365 * 24 * 3600


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request):  # type: ignore[no-untyped-def]
    return request.param


@pytest.fixture
def srv(request, backend):  # type: ignore[no-untyped-def]
    return request.getfixturevalue("server" if backend == "sqlite" else "pg_server")


@pytest.fixture
def client(request, backend):  # type: ignore[no-untyped-def]
    return request.getfixturevalue("s3" if backend == "sqlite" else "pg_s3")


@pytest.fixture
def bkt(make_bucket, client):  # type: ignore[no-untyped-def]
    return make_bucket(client)


def signer(srv, version: str | None):  # type: ignore[no-untyped-def]
    """boto3 as a user has it: no signature_version is SigV2 for presigned URLs."""
    return boto3.client(
        "s3", endpoint_url=srv.endpoint, aws_access_key_id=srv.access_key,
        aws_secret_access_key=srv.secret_key, region_name="us-east-1",
        config=Config(signature_version=version) if version else None,
    )  # fmt: skip


def get(srv, bucket: str, key: str, version: str | None, expires: int):  # type: ignore[no-untyped-def]
    url = signer(srv, version).generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires
    )
    assert ("AWSAccessKeyId=" in url) == (version is None), url
    return raw_get(url)


@pytest.mark.parametrize("expires", [10 * YEAR, WEEK + 3600, WEEK + 120])
@pytest.mark.parametrize("version", [None, "s3v4"], ids=["sigv2", "sigv4"])
def test_presigned_url_living_longer_than_a_week_is_refused(srv, client, bkt, version, expires):  # type: ignore[no-untyped-def]
    client.put_object(Bucket=bkt, Key="k", Body=b"secret")
    status, _, body = get(srv, bkt, "k", version, expires)
    assert status == 400, (status, body)
    err = parse_error_xml(body)
    assert err["Code"] == "AuthorizationQueryParametersError", err
    assert "604800" in err["Message"], err
    assert b"secret" not in body
    # A presigned PUT of that lifetime stores nothing.
    url = signer(srv, version).generate_presigned_url(
        "put_object", Params={"Bucket": bkt, "Key": "new"}, ExpiresIn=expires
    )
    status, _, body = raw_get(url, method="PUT", data=b"evil")
    assert status == 400, (status, body)
    assert [o["Key"] for o in client.list_objects_v2(Bucket=bkt)["Contents"]] == ["k"]


@pytest.mark.parametrize("expires", [300, 6 * 24 * 3600, WEEK - 120])
@pytest.mark.parametrize("version", [None, "s3v4"], ids=["sigv2", "sigv4"])
def test_presigned_url_within_a_week_works(srv, client, bkt, version, expires):  # type: ignore[no-untyped-def]
    client.put_object(Bucket=bkt, Key="k", Body=b"data")
    status, _, body = get(srv, bkt, "k", version, expires)
    assert (status, body) == (200, b"data")

"""Server-side encryption is not built: a request that asks for it is refused and stores
nothing, instead of storing plaintext and answering as if it were encrypted.

- Writes that ask for encryption (x-amz-server-side-encryption AES256 / aws:kms with its
  -aws-kms-key-id / -context / -bucket-key-enabled, or SSE-C's -customer-algorithm / -key /
  -key-MD5) on PutObject, CopyObject, CreateMultipartUpload, UploadPart, UploadPartCopy,
  CompleteMultipartUpload and POST Object form fields: NotImplemented (501). An unknown
  algorithm is InvalidArgument (400), as AWS answers it.
- Reads: no object is ever encrypted, so SSE-C keys on GET / HEAD (and the copy source's
  SSE-C headers on CopyObject / UploadPartCopy) get AWS's answer for an unencrypted object,
  InvalidRequest (400) "The encryption parameters are not applicable to this object.";
  x-amz-server-side-encryption on GET / HEAD is InvalidArgument (400), as AWS refuses it.
- PutBucketEncryption and DeleteBucketEncryption: NotImplemented (501);
  GetBucketEncryption: ServerSideEncryptionConfigurationNotFoundError (404), the truth.

Each case runs on the embedded (SQLite) and the PostgreSQL server.
"""

from __future__ import annotations

import base64
import hashlib
import os

import pytest
import requests
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.helpers.s3 import parse_error_xml, s3_error

MiB = 1024 * 1024
SSE_C_KEY = os.urandom(32)
NOT_APPLICABLE = "The encryption parameters are not applicable to this object."

SSE_ARGS = [
    pytest.param({"ServerSideEncryption": "AES256"}, id="sse-s3"),
    pytest.param({"ServerSideEncryption": "aws:kms"}, id="sse-kms"),
    pytest.param(
        {
            "ServerSideEncryption": "aws:kms",
            "SSEKMSKeyId": "arn:aws:kms:us-east-1:000000000000:key/chronicle",
            "SSEKMSEncryptionContext": base64.b64encode(b'{"a":"b"}').decode(),
            "BucketKeyEnabled": True,
        },
        id="sse-kms-key-context-bucket-key",
    ),
    pytest.param({"SSECustomerAlgorithm": "AES256", "SSECustomerKey": SSE_C_KEY}, id="sse-c"),
]
# Operations whose model has no SSE-S3/KMS members take SSE-C only.
SSE_C_ARGS = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": SSE_C_KEY}
COPY_SOURCE_SSE_C = {
    "CopySourceSSECustomerAlgorithm": "AES256",
    "CopySourceSSECustomerKey": SSE_C_KEY,
}


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return request.getfixturevalue("server"), request.getfixturevalue("s3")
    return request.getfixturevalue("pg_server"), request.getfixturevalue("pg_s3")


@pytest.fixture
def client(backend):  # type: ignore[no-untyped-def]
    return backend[1]


@pytest.fixture
def sse_bucket(make_bucket, client):  # type: ignore[no-untyped-def]
    return make_bucket(client)


def with_headers(server, operation: str, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    """A fresh client that adds HEADERS to every OPERATION request (botocore's model does
    not let them be sent otherwise)."""
    c = server.client()

    def add(request, **_kw):  # type: ignore[no-untyped-def]
        for name, value in headers.items():
            request.headers[name] = value

    c.meta.events.register_first(f"before-sign.s3.{operation}", add)
    return c


def assert_no_object(client, bucket: str, key: str) -> None:  # type: ignore[no-untyped-def]
    with s3_error(status=404):
        client.head_object(Bucket=bucket, Key=key)
    versions = client.list_object_versions(Bucket=bucket, Prefix=key)
    assert versions.get("Versions", []) == [] and versions.get("DeleteMarkers", []) == []


@pytest.mark.parametrize("sse", SSE_ARGS)
def test_put_object_with_encryption(client, sse_bucket, sse):  # type: ignore[no-untyped-def]
    with s3_error("NotImplemented", 501):
        client.put_object(Bucket=sse_bucket, Key="secret", Body=b"plaintext", **sse)
    assert_no_object(client, sse_bucket, "secret")


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"x-amz-server-side-encryption-aws-kms-key-id": "k"}, id="kms-key-id-alone"),
        pytest.param({"x-amz-server-side-encryption-bucket-key-enabled": "true"}, id="bucket-key"),
        pytest.param({"x-amz-server-side-encryption-context": "e30="}, id="context-alone"),
    ],
)
def test_put_object_with_other_encryption_headers(backend, sse_bucket, headers):  # type: ignore[no-untyped-def]
    server, client = backend
    with s3_error("NotImplemented", 501):
        with_headers(server, "PutObject", headers).put_object(Bucket=sse_bucket, Key="secret", Body=b"plaintext")
    assert_no_object(client, sse_bucket, "secret")


def test_put_object_with_unknown_algorithm_is_invalid(client, sse_bucket):  # type: ignore[no-untyped-def]
    with s3_error("InvalidArgument", 400):
        client.put_object(Bucket=sse_bucket, Key="k", Body=b"x", ServerSideEncryption="rot13")
    assert_no_object(client, sse_bucket, "k")


def test_plain_object_stays_readable_and_sse_c_reads_are_refused(backend, sse_bucket):  # type: ignore[no-untyped-def]
    """The issue: an SSE-C PUT stored plaintext, and a GET without the key returned it. Now
    the PUT is refused; a plain object's GET with an SSE-C key is not applicable."""
    server, client = backend
    with s3_error("NotImplemented", 501):
        client.put_object(Bucket=sse_bucket, Key="c", Body=b"plaintext", **SSE_C_ARGS)
    with s3_error("NoSuchKey", 404):
        client.get_object(Bucket=sse_bucket, Key="c")
    client.put_object(Bucket=sse_bucket, Key="plain", Body=b"plain")
    with s3_error("InvalidRequest", 400) as exc_info:
        client.get_object(Bucket=sse_bucket, Key="plain", **SSE_C_ARGS)
    assert exc_info.value.response["Error"]["Message"] == NOT_APPLICABLE
    with s3_error(status=400):
        client.head_object(Bucket=sse_bucket, Key="plain", **SSE_C_ARGS)
    for operation, call in (
        ("GetObject", lambda c: c.get_object(Bucket=sse_bucket, Key="plain")),
        ("HeadObject", lambda c: c.head_object(Bucket=sse_bucket, Key="plain")),
    ):
        c = with_headers(server, operation, {"x-amz-server-side-encryption": "AES256"})
        with s3_error("InvalidArgument" if operation == "GetObject" else None, 400):
            call(c)
    assert client.get_object(Bucket=sse_bucket, Key="plain")["Body"].read() == b"plain"


@pytest.mark.parametrize("sse", SSE_ARGS)
def test_copy_object_with_encryption(client, sse_bucket, sse):  # type: ignore[no-untyped-def]
    client.put_object(Bucket=sse_bucket, Key="src", Body=b"source")
    with s3_error("NotImplemented", 501):
        client.copy_object(Bucket=sse_bucket, Key="dst", CopySource={"Bucket": sse_bucket, "Key": "src"}, **sse)
    assert_no_object(client, sse_bucket, "dst")


def test_copy_object_with_copy_source_sse_c(client, sse_bucket):  # type: ignore[no-untyped-def]
    client.put_object(Bucket=sse_bucket, Key="src", Body=b"source")
    with s3_error("InvalidRequest", 400) as exc_info:
        client.copy_object(
            Bucket=sse_bucket, Key="dst", CopySource={"Bucket": sse_bucket, "Key": "src"},
            **COPY_SOURCE_SSE_C,
        )  # fmt: skip
    assert exc_info.value.response["Error"]["Message"] == NOT_APPLICABLE
    assert_no_object(client, sse_bucket, "dst")


@pytest.mark.parametrize("sse", SSE_ARGS)
def test_create_multipart_upload_with_encryption(client, sse_bucket, sse):  # type: ignore[no-untyped-def]
    with s3_error("NotImplemented", 501):
        client.create_multipart_upload(Bucket=sse_bucket, Key="mp", **sse)
    assert client.list_multipart_uploads(Bucket=sse_bucket).get("Uploads", []) == []


def test_upload_part_calls_with_encryption(client, sse_bucket):  # type: ignore[no-untyped-def]
    client.put_object(Bucket=sse_bucket, Key="src", Body=os.urandom(MiB))
    upload_id = client.create_multipart_upload(Bucket=sse_bucket, Key="mp")["UploadId"]
    with s3_error("NotImplemented", 501):
        client.upload_part(
            Bucket=sse_bucket, Key="mp", UploadId=upload_id, PartNumber=1, Body=b"part",
            **SSE_C_ARGS,
        )  # fmt: skip
    with s3_error("NotImplemented", 501):
        client.upload_part_copy(
            Bucket=sse_bucket, Key="mp", UploadId=upload_id, PartNumber=1,
            CopySource={"Bucket": sse_bucket, "Key": "src"}, **SSE_C_ARGS,
        )  # fmt: skip
    with s3_error("InvalidRequest", 400) as exc_info:
        client.upload_part_copy(
            Bucket=sse_bucket, Key="mp", UploadId=upload_id, PartNumber=1,
            CopySource={"Bucket": sse_bucket, "Key": "src"}, **COPY_SOURCE_SSE_C,
        )  # fmt: skip
    assert exc_info.value.response["Error"]["Message"] == NOT_APPLICABLE
    assert client.list_parts(Bucket=sse_bucket, Key="mp", UploadId=upload_id).get("Parts", []) == []
    etag = client.upload_part(Bucket=sse_bucket, Key="mp", UploadId=upload_id, PartNumber=1, Body=b"part")["ETag"]
    with s3_error("NotImplemented", 501):
        client.complete_multipart_upload(
            Bucket=sse_bucket, Key="mp", UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}, **SSE_C_ARGS,
        )  # fmt: skip
    assert_no_object(client, sse_bucket, "mp")
    uploads = client.list_multipart_uploads(Bucket=sse_bucket).get("Uploads", [])
    assert [u["UploadId"] for u in uploads] == [upload_id]


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"x-amz-server-side-encryption": "AES256"}, id="sse-s3"),
        pytest.param(
            {
                "x-amz-server-side-encryption": "aws:kms",
                "x-amz-server-side-encryption-aws-kms-key-id": "k",
            },
            id="sse-kms",
        ),  # fmt: skip
        pytest.param(
            {
                "x-amz-server-side-encryption-customer-algorithm": "AES256",
                "x-amz-server-side-encryption-customer-key": base64.b64encode(SSE_C_KEY).decode(),
                "x-amz-server-side-encryption-customer-key-md5": base64.b64encode(
                    hashlib.md5(SSE_C_KEY).digest()
                ).decode(),
            },
            id="sse-c",
        ),
    ],
)
def test_post_object_with_encryption_fields(client, sse_bucket, fields):  # type: ignore[no-untyped-def]
    post = client.generate_presigned_post(
        sse_bucket, "form", Fields=fields, Conditions=[{k: v} for k, v in fields.items()]
    )
    resp = requests.post(post["url"], data=post["fields"], files={"file": b"form data"}, timeout=30)
    assert resp.status_code == 501, resp.text
    assert parse_error_xml(resp.content)["Code"] == "NotImplemented"
    assert_no_object(client, sse_bucket, "form")


def test_bucket_encryption(client, sse_bucket):  # type: ignore[no-untyped-def]
    rules = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    with s3_error("ServerSideEncryptionConfigurationNotFoundError", 404):
        client.get_bucket_encryption(Bucket=sse_bucket)
    with s3_error("NotImplemented", 501):
        client.put_bucket_encryption(Bucket=sse_bucket, ServerSideEncryptionConfiguration=rules)
    with s3_error("ServerSideEncryptionConfigurationNotFoundError", 404):
        client.get_bucket_encryption(Bucket=sse_bucket)
    with s3_error("NotImplemented", 501):
        client.delete_bucket_encryption(Bucket=sse_bucket)
    # A plain PUT is still a plain PUT, and says nothing about encryption.
    out = client.put_object(Bucket=sse_bucket, Key="plain", Body=b"x")
    assert "ServerSideEncryption" not in out


def presigned_put_url(server, bucket: str, key: str, query: str) -> str:  # type: ignore[no-untyped-def]
    """A presigned PUT whose signed query carries QUERY (as SDKs that hoist x-amz-* headers
    into presigned URLs send them)."""
    request = AWSRequest(method="PUT", url=f"{server.endpoint}/{bucket}/{key}?{query}")
    S3SigV4QueryAuth(Credentials(server.access_key, server.secret_key), "s3", "us-east-1", expires=300).add_auth(
        request
    )
    return request.url


def test_presigned_put_with_encryption_in_the_query(backend, sse_bucket):  # type: ignore[no-untyped-def]
    server, client = backend
    url = presigned_put_url(server, sse_bucket, "q", "x-amz-server-side-encryption=AES256")
    resp = requests.put(url, data=b"plaintext", timeout=30)
    assert resp.status_code == 501, resp.text
    assert parse_error_xml(resp.content)["Code"] == "NotImplemented"
    assert_no_object(client, sse_bucket, "q")
    plain = presigned_put_url(server, sse_bucket, "q", "x-id=PutObject")
    assert requests.put(plain, data=b"plain", timeout=30).status_code == 200

"""POST Object (browser form uploads) through a real server: boto3's generate_presigned_post
with SigV4 and with its default SigV2, forms encoded by hand and sent with http.client."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config

from tests.helpers.s3 import parse_error_xml, s3_error

Fields = list[tuple[str, str]]


def encode_form(
    fields: Fields, file: bytes | None, filename: str = "photo.jpg", after: Fields = ()
) -> tuple[bytes, str]:
    """multipart/form-data with FIELDS, then the file part, then AFTER."""
    boundary = "----chronicle" + os.urandom(8).hex()
    out = bytearray()

    def part(name: str, value: bytes, extra: str = "") -> None:
        out.extend(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"{extra}\r\n'.encode())
        out.extend(b"\r\n" if not extra else b"Content-Type: application/octet-stream\r\n\r\n")
        out.extend(value + b"\r\n")

    for name, value in fields:
        part(name, value.encode())
    if file is not None:
        part("file", file, f'; filename="{filename}"')
    for name, value in after:
        part(name, value.encode())
    out.extend(f"--{boundary}--\r\n".encode())
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def post(server, bucket: str, fields: Fields, file: bytes | None, conn=None, **kw) -> tuple[int, dict[str, str], bytes]:  # type: ignore[no-untyped-def]
    body, ctype = encode_form(fields, file, **kw)
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("POST", f"/{bucket}", body=body, headers={"Content-Type": ctype})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        if own:
            conn.close()


def client(server, version: str | None):  # type: ignore[no-untyped-def]
    cfg = Config(signature_version=version) if version else None
    return boto3.client(
        "s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key, region_name="us-east-1", config=cfg,
    )  # fmt: skip


def presigned(
    server,
    bucket: str,
    key: str,
    version: str | None = "s3v4",
    fields=None,
    conditions=None,
    expires=300,
) -> Fields:  # type: ignore[no-untyped-def]
    p = client(server, version).generate_presigned_post(
        bucket, key, Fields=fields, Conditions=conditions, ExpiresIn=expires
    )
    return list(p["fields"].items())


def error_of(status: int, body: bytes) -> tuple[int, str, str]:
    doc = parse_error_xml(body)
    return status, doc["Code"], doc["Message"]


@pytest.mark.parametrize("version", ["s3v4", None], ids=["sigv4", "sigv2-default"])
def test_presigned_post_roundtrip(server, s3, bucket, version):  # type: ignore[no-untyped-def]
    data = os.urandom(1000)
    extra = {
        "Content-Type": "image/jpeg", "x-amz-meta-color": "blue", "Cache-Control": "max-age=60",
        "Content-Disposition": "inline", "tagging": "<Tagging><TagSet><Tag><Key>k</Key>"
        "<Value>v</Value></Tag></TagSet></Tagging>",
    }  # fmt: skip
    conditions = [{k: v} for k, v in extra.items()] + [["content-length-range", 1, 10000]]
    fields = presigned(server, bucket, "up/${filename}", version, extra, conditions)
    assert any(k == ("policy" if version else "signature") for k, _ in fields)
    status, headers, body = post(server, bucket, fields, data, filename="cat.jpg")
    assert status == 204 and body == b""
    assert headers["etag"] == '"' + hashlib.md5(data).hexdigest() + '"'
    got = s3.get_object(Bucket=bucket, Key="up/cat.jpg")
    assert got["Body"].read() == data and got["ETag"] == headers["etag"]
    assert got["ContentType"] == "image/jpeg" and got["Metadata"] == {"color": "blue"}
    assert got["CacheControl"] == "max-age=60" and got["ContentDisposition"] == "inline"
    tags = s3.get_object_tagging(Bucket=bucket, Key="up/cat.jpg")["TagSet"]
    assert tags == [{"Key": "k", "Value": "v"}]


def test_large_file_streams(server, s3, bucket):  # type: ignore[no-untyped-def]
    data = os.urandom(5 * 1024 * 1024 + 17)
    fields = presigned(server, bucket, "big.bin")
    status, headers, _ = post(server, bucket, fields, data)
    assert status == 204
    got = s3.get_object(Bucket=bucket, Key="big.bin")
    assert got["ContentLength"] == len(data) and got["Body"].read() == data
    assert got["ContentType"] == "binary/octet-stream"


@pytest.mark.parametrize("code", ["200", "201", "404"])
def test_success_action_status(server, s3, bucket, code):  # type: ignore[no-untyped-def]
    fields = presigned(server, bucket, "k.txt", fields={"success_action_status": code},
                       conditions=[{"success_action_status": code}])  # fmt: skip
    status, headers, body = post(server, bucket, fields, b"hello")
    etag = '"' + hashlib.md5(b"hello").hexdigest() + '"'
    assert headers["etag"] == etag
    if code == "201":
        assert status == 201
        doc = {child.tag: child.text for child in ET.fromstring(body)}
        assert doc["Bucket"] == bucket and doc["Key"] == "k.txt" and doc["ETag"] == etag
        assert doc["Location"].endswith(f"/{bucket}/k.txt")
    else:
        assert status == (200 if code == "200" else 204) and body == b""
    assert s3.get_object(Bucket=bucket, Key="k.txt")["Body"].read() == b"hello"


def test_success_action_redirect(server, bucket):  # type: ignore[no-untyped-def]
    target = "https://example.com/done?x=1"
    for name in ("success_action_redirect", "redirect"):
        fields = presigned(server, bucket, "a b.txt", fields={name: target},
                           conditions=[{name: target}])  # fmt: skip
        status, headers, _ = post(server, bucket, fields, b"hi")
        assert status == 303
        etag = hashlib.md5(b"hi").hexdigest()
        assert headers["location"] == f"{target}&bucket={bucket}&key=a%20b.txt&etag=%22{etag}%22"


def test_key_condition_violated(server, s3, bucket):  # type: ignore[no-untyped-def]
    fields = presigned(server, bucket, "user/${filename}")
    fields = [(k, "other/x" if k == "key" else v) for k, v in fields]
    status, _, body = post(server, bucket, fields, b"x")
    assert error_of(status, body)[:2] == (403, "AccessDenied")
    with s3_error(None, 404):
        s3.head_object(Bucket=bucket, Key="other/x")


@pytest.mark.parametrize(
    ("size", "code"), [(2000, "EntityTooLarge"), (5, "EntityTooSmall"), (300_000, "EntityTooLarge")]
)
def test_content_length_range(server, s3, bucket, size, code):  # type: ignore[no-untyped-def]
    fields = presigned(server, bucket, "sized", conditions=[["content-length-range", 10, 1000]])
    status, _, body = post(server, bucket, fields, os.urandom(size))
    assert error_of(status, body)[:2] == (400, code)
    with s3_error(None, 404):
        s3.head_object(Bucket=bucket, Key="sized")
    # Within the range the same form succeeds.
    assert post(server, bucket, fields, os.urandom(500))[0] == 204


@pytest.mark.parametrize("version", ["s3v4", None], ids=["sigv4", "sigv2-default"])
def test_expired_policy(server, bucket, version):  # type: ignore[no-untyped-def]
    fields = presigned(server, bucket, "late", version, expires=-10)
    status, _, body = post(server, bucket, fields, b"x")
    status, code, message = error_of(status, body)
    assert (status, code) == (403, "AccessDenied") and "expired" in message


@pytest.mark.parametrize("version", ["s3v4", None], ids=["sigv4", "sigv2-default"])
def test_tampered_signature_and_policy(server, bucket, version):  # type: ignore[no-untyped-def]
    fields = presigned(server, bucket, "t", version)
    sig_name = "x-amz-signature" if version else "signature"
    bad_sig = [(k, v[:-2] + ("00" if not v.endswith("00") else "11") if k == sig_name else v) for k, v in fields]
    assert error_of(*post(server, bucket, bad_sig, b"x")[::2])[:2] == (403, "SignatureDoesNotMatch")
    other = presigned(server, bucket, "u", version)
    policy = dict(other)["policy"]
    swapped = [(k, policy if k == "policy" else v) for k, v in fields]
    assert error_of(*post(server, bucket, swapped, b"x")[::2])[:2] == (403, "SignatureDoesNotMatch")


def test_sigv2_unknown_access_key(server, bucket):  # type: ignore[no-untyped-def]
    fields = [(k, "NOSUCHKEY" if k == "AWSAccessKeyId" else v)
              for k, v in presigned(server, bucket, "k", None)]  # fmt: skip
    assert error_of(*post(server, bucket, fields, b"x")[::2])[:2] == (403, "InvalidAccessKeyId")


def test_extra_field_not_in_policy(server, bucket):  # type: ignore[no-untyped-def]
    fields = presigned(server, bucket, "k") + [("x-amz-meta-sneaky", "1")]
    status, code, message = error_of(*post(server, bucket, fields, b"x")[::2])
    assert (status, code) == (403, "AccessDenied") and "x-amz-meta-sneaky" in message
    # x-ignore-* fields need no condition.
    assert post(server, bucket, presigned(server, bucket, "k") + [("x-ignore-me", "1")], b"x")[0] == 204


def test_fields_after_file_are_ignored(server, s3, bucket):  # type: ignore[no-untyped-def]
    fields = presigned(server, bucket, "after")
    status, _, _ = post(server, bucket, fields, b"data", after=[("x-amz-meta-late", "1"), ("key", "zzz")])
    assert status == 204
    got = s3.get_object(Bucket=bucket, Key="after")
    assert got["Body"].read() == b"data" and got["Metadata"] == {}


def test_missing_file_key_and_anonymous(server, bucket):  # type: ignore[no-untyped-def]
    fields = presigned(server, bucket, "k")
    status, code, _ = error_of(*post(server, bucket, fields, None)[::2])
    assert (status, code) == (400, "InvalidArgument")
    no_key = [(k, v) for k, v in fields if k != "key"]
    status, code, message = error_of(*post(server, bucket, no_key, b"x")[::2])
    assert (status, code) == (400, "InvalidArgument") and "'key'" in message
    anon = [("key", "k"), ("Content-Type", "text/plain")]
    assert error_of(*post(server, bucket, anon, b"x")[::2])[:2] == (403, "AccessDenied")


def test_malformed_bodies(server, s3, bucket):  # type: ignore[no-untyped-def]
    signed, ctype = encode_form(presigned(server, bucket, "cut"), b"0123456789" * 10)
    unterminated = signed[: signed.index(b"0123456789") + 50]  # the body ends inside the file
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        for content_type, body in (
            ("multipart/form-data", b"--x\r\n"),  # no boundary parameter
            (ctype, unterminated),
        ):
            conn.request("POST", f"/{bucket}", body=body, headers={"Content-Type": content_type})
            resp = conn.getresponse()
            status, raw = resp.status, resp.read()
            assert status == 400 and parse_error_xml(raw)["Code"] == "MalformedPOSTRequest"
    finally:
        conn.close()
    with s3_error(None, 404):
        s3.head_object(Bucket=bucket, Key="cut")


def test_connection_reusable_after_rejected_form(server, s3, bucket):  # type: ignore[no-untyped-def]
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        bad = [(k, "zz" if k == "x-amz-signature" else v) for k, v in presigned(server, bucket, "k")]
        assert post(server, bucket, bad, os.urandom(100_000), conn=conn)[0] == 403
        assert post(server, bucket, presigned(server, bucket, "k"), b"ok", conn=conn)[0] == 204
    finally:
        conn.close()
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"ok"


def test_hand_signed_sigv2_form_with_case_insensitive_names(server, s3, bucket):  # type: ignore[no-untyped-def]
    expiration = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    policy = {"expiration": expiration, "conditions": [
        {"bucket": bucket}, ["starts-with", "$key", "foo"], {"acl": "private"},
        ["starts-with", "$Content-Type", "text/"], ["content-length-range", 0, 1024],
    ]}  # fmt: skip
    b64 = base64.b64encode(json.dumps(policy).encode()).decode()
    sig = base64.b64encode(hmac.digest(server.secret_key.encode(), b64.encode(), "sha1")).decode()
    fields = [("KEY", "foo.txt"), ("AWSAccessKeyId", server.access_key), ("ACL", "private"),
              ("Signature", sig), ("Policy", b64), ("content-type", "text/plain")]  # fmt: skip
    assert post(server, bucket, fields, b"bar")[0] == 204
    got = s3.get_object(Bucket=bucket, Key="foo.txt")
    assert got["Body"].read() == b"bar" and got["ContentType"] == "text/plain"
    assert urlsplit(server.endpoint).port == server.port


def test_checksum_field_verified_and_stored(server, s3, bucket):  # type: ignore[no-untyped-def]
    data = os.urandom(3000)
    good = base64.b64encode(hashlib.sha256(data).digest()).decode()
    fields = presigned(server, bucket, "ck") + [("x-amz-checksum-sha256", good)]
    status, headers, _ = post(server, bucket, fields, data)
    assert status == 204 and headers["x-amz-checksum-sha256"] == good
    got = s3.head_object(Bucket=bucket, Key="ck", ChecksumMode="ENABLED")
    assert got["ChecksumSHA256"] == good
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    for value, code in ((wrong, "BadDigest"), ("sailorjerry", "InvalidRequest")):
        fields = presigned(server, bucket, "ck2") + [("x-amz-checksum-sha256", value)]
        assert error_of(*post(server, bucket, fields, data)[::2])[:2] == (400, code)
    with s3_error(None, 404):
        s3.head_object(Bucket=bucket, Key="ck2")


def test_expiration_must_be_iso8601_utc(server, bucket):  # type: ignore[no-untyped-def]
    expiration = str(datetime.now(UTC) + timedelta(minutes=5))  # "2030-01-01 00:00:00+00:00"
    b64 = base64.b64encode(json.dumps({"expiration": expiration, "conditions": [
        {"bucket": bucket}, ["starts-with", "$key", ""]]}).encode()).decode()  # fmt: skip
    sig = base64.b64encode(hmac.digest(server.secret_key.encode(), b64.encode(), "sha1")).decode()
    fields = [("key", "k"), ("AWSAccessKeyId", server.access_key), ("policy", b64),
              ("signature", sig)]  # fmt: skip
    assert error_of(*post(server, bucket, fields, b"x")[::2])[:2] == (400, "InvalidPolicyDocument")


def test_post_is_authorized_like_put(server, s3, bucket):  # type: ignore[no-untyped-def]
    """A user with a valid key but no permission on the bucket cannot upload by form; once a
    policy allows PutObject, it can."""
    import uuid
    from types import SimpleNamespace

    from minio import MinioAdmin
    from minio.credentials import StaticProvider

    admin = MinioAdmin(
        endpoint=server.address, credentials=StaticProvider(server.access_key, server.secret_key), secure=False
    )
    user = "poster" + uuid.uuid4().hex[:6]
    admin.user_add(user, "poster-secret-1")
    as_user = SimpleNamespace(endpoint=server.endpoint, access_key=user, secret_key="poster-secret-1")
    status, _, body = post(server, bucket, presigned(as_user, bucket, "k"), b"data")
    assert error_of(status, body)[:2] == (403, "AccessDenied")
    admin.policy_set("readwrite", user=user)
    status, _, _ = post(server, bucket, presigned(as_user, bucket, "k"), b"data")
    assert status == 204
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data"

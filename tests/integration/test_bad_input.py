"""Bad input gets the right S3 error and changes nothing (DESIGN invariant 7).

Requests are signed here with botocore's SigV4 signer and written to a raw
socket, so the test controls every byte on the wire: missing or lying
Content-Length, half-sent bodies, oversized header sections, wrong digests,
wrong signatures. Every error must be S3 error XML (Code, Message, Resource,
RequestId) with the right status, never a 500, and the bucket / object state
afterwards must be what it was before. The server's log must hold no traceback.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.client
import os
import socket
import ssl
import time
import uuid
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass
from unittest import mock
from urllib.parse import quote

import botocore.auth
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.conftest import unique_bucket_name
from tests.helpers.s3 import md5_etag, s3_error

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"


# ---- raw, signed requests -----------------------------------------------------------------


class RawSigner(S3SigV4Auth):
    """botocore's S3 SigV4 signer (no path normalisation) with a payload hash we choose:
    the body's SHA-256 by default, or request.context["payload_hash"] when set
    (UNSIGNED-PAYLOAD, STREAMING-..., or a deliberately wrong hash)."""

    def payload(self, request):  # type: ignore[no-untyped-def]
        forced = request.context.get("payload_hash")
        if forced is not None:
            return forced
        body = request.body or b""
        return hashlib.sha256(body if isinstance(body, bytes) else body.encode()).hexdigest()


@dataclass
class RawResponse:
    status: int
    reason: str
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def error(self) -> dict[str, str]:
        """Child elements of the <Error> document (namespace stripped)."""
        assert self.body, f"HTTP {self.status} with an empty body, expected S3 error XML"
        try:
            root = ET.fromstring(self.body)
        except ET.ParseError as exc:  # pragma: no cover - reported as a failure
            raise AssertionError(f"error body is not XML: {self.body[:300]!r}") from exc
        assert root.tag.split("}")[-1] == "Error", f"not an <Error> document: {self.body[:300]!r}"
        return {child.tag.split("}")[-1]: (child.text or "") for child in root}


def object_path(bucket: str, key: str = "") -> str:
    """Path-style request path, each key byte percent-encoded as SigV4 canonicalises it."""
    path = "/" + bucket
    if key:
        path += "/" + quote(key, safe="/~")
    return path


def sign(
    srv,
    method: str,
    path: str,
    query: str = "",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    *,
    payload_hash: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    skew_seconds: float = 0.0,
    region: str = "us-east-1",
) -> dict[str, str]:
    """The headers (incl. Host, X-Amz-Date, X-Amz-Content-SHA256, Authorization) of a
    SigV4-signed request. Every header passed in is signed."""
    url = f"{srv.endpoint}{path}" + (f"?{query}" if query else "")
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    req.headers["Host"] = f"127.0.0.1:{srv.port}"
    if payload_hash is not None:
        req.context["payload_hash"] = payload_hash
    creds = Credentials(access_key or srv.access_key, secret_key or srv.secret_key)
    signer = RawSigner(creds, "s3", region)
    if skew_seconds:
        real_now = botocore.auth.get_current_datetime
        skewed = lambda: real_now() + datetime.timedelta(seconds=skew_seconds)  # noqa: E731
        with mock.patch.object(botocore.auth, "get_current_datetime", skewed):
            signer.add_auth(req)
    else:
        signer.add_auth(req)
    return {name: value for name, value in req.headers.items()}


def open_socket(srv, timeout: float = 30.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    if srv.tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        sock = ctx.wrap_socket(sock, server_hostname="127.0.0.1")
    return sock


def request_head(method: str, target: str, headers: dict[str, str] | list[tuple[str, str]]) -> bytes:
    items = headers.items() if isinstance(headers, dict) else headers
    lines = [f"{method} {target} HTTP/1.1", *(f"{k}: {v}" for k, v in items)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def read_response(sock: socket.socket, method: str) -> RawResponse:
    resp = http.client.HTTPResponse(sock, method=method)
    resp.begin()
    body = resp.read()
    headers = {k.lower(): v for k, v in resp.getheaders()}
    resp.close()
    return RawResponse(resp.status, resp.reason, headers, body)


def exchange(
    srv,
    method: str,
    target: str,
    headers: dict[str, str] | list[tuple[str, str]],
    body: bytes = b"",
    *,
    timeout: float = 30.0,
) -> RawResponse:
    """Write exactly these bytes, read one response, close."""
    sock = open_socket(srv, timeout)
    try:
        try:
            sock.sendall(request_head(method, target, headers) + body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early and closed: read what it said
        resp = read_response(sock, method)
    finally:
        sock.close()
    assert resp.status < 500, f"{method} {target}: HTTP {resp.status}\n{resp.body[:500]!r}"
    return resp


def s3_request(
    srv,
    method: str,
    path: str,
    query: str = "",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    *,
    unsigned_headers: dict[str, str] | None = None,
    signed: bool = True,
    content_length: bool = True,
    tamper_signature: bool = False,
    **sign_kwargs,
) -> RawResponse:
    """One request. `unsigned_headers` are added after signing; `signed=False` sends an
    anonymous request; `content_length=False` leaves Content-Length out."""
    if signed:
        hdrs = sign(srv, method, path, query, headers, body, **sign_kwargs)
    else:
        hdrs = dict(headers or {})
        hdrs["Host"] = f"127.0.0.1:{srv.port}"
    if tamper_signature:
        auth = hdrs["Authorization"]
        last = auth[-1]
        hdrs["Authorization"] = auth[:-1] + ("0" if last != "0" else "1")
    if content_length and not any(k.lower() == "content-length" for k in hdrs):
        hdrs["Content-Length"] = str(len(body))
    hdrs.update(unsigned_headers or {})
    hdrs.setdefault("Connection", "close")
    target = path + (f"?{query}" if query else "")
    return exchange(srv, method, target, hdrs, body)


def assert_s3_error(
    resp: RawResponse, status: int, code: str | tuple[str, ...], resource: str | None = None
) -> dict[str, str]:
    codes = (code,) if isinstance(code, str) else code
    assert resp.status == status, f"expected HTTP {status} {codes}, got {resp.status}: {resp.body[:400]!r}"
    err = resp.error()
    assert err.get("Code") in codes, f"expected Code in {codes}, got {err}"
    for element in ("Message", "Resource", "RequestId"):
        assert element in err, f"<{element}> missing from the error document: {err}"
    assert err["Message"].strip(), f"empty <Message>: {err}"
    assert err["RequestId"].strip(), f"empty <RequestId>: {err}"
    if "x-amz-request-id" in resp.headers:
        assert resp.headers["x-amz-request-id"] == err["RequestId"], (resp.headers, err)
    if resource is not None:
        assert err["Resource"] == resource, f"expected <Resource>{resource}, got {err}"
    assert "xml" in resp.headers.get("content-type", ""), resp.headers
    return err


# ---- fixtures -------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_traceback_in_server_log(request):
    """Whatever the test did to the shared server, its log gains no traceback."""
    if "server" not in request.fixturenames:
        yield
        return
    srv = request.getfixturevalue("server")
    before = len(srv.stderr_text())
    yield
    new = srv.stderr_text()[before:]
    assert "Traceback" not in new, f"server log has a traceback:\n{new[-4000:]}"
    assert "internal error" not in new.lower(), f"server logged an internal error:\n{new[-4000:]}"


def assert_clean_log(srv) -> None:
    text = srv.stderr_text()
    assert "Traceback" not in text, f"server log has a traceback:\n{text[-4000:]}"


def keys_of(s3, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def assert_object(s3, bucket: str, key: str, body: bytes) -> None:
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == body
    assert got["ETag"] == md5_etag(body)


def assert_no_object(s3, bucket: str, key: str) -> None:
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key=key)
    assert key not in keys_of(s3, bucket)


# ---- malformed XML --------------------------------------------------------------------------

BROKEN_XML = [
    pytest.param(b"<VersioningConfiguration><Status>Enabled", id="truncated"),
    pytest.param(b"this is not xml at all", id="text"),
    pytest.param(b"<a><b></a></b>", id="mismatched-tags"),
]


@pytest.mark.parametrize("body", BROKEN_XML)
def test_put_bucket_versioning_malformed_xml(server, s3, bucket, body):
    resp = s3_request(server, "PUT", object_path(bucket), "versioning", body=body)
    assert_s3_error(resp, 400, "MalformedXML", f"/{bucket}")
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    # Objects still overwrite in place: versioning was not switched on.
    s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    s3.put_object(Bucket=bucket, Key="k", Body=b"2")
    assert len(s3.list_object_versions(Bucket=bucket)["Versions"]) == 1


def test_put_bucket_versioning_malformed_xml_keeps_enabled(server, s3, make_bucket):
    bucket = make_bucket(versioning="Enabled")
    resp = s3_request(
        server, "PUT", object_path(bucket), "versioning",
        body=b"<VersioningConfiguration><Status>Suspended</Status>",
    )  # fmt: skip
    assert_s3_error(resp, 400, "MalformedXML", f"/{bucket}")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<Delete><Object><Key>a</Key></Object>", id="truncated"),
        pytest.param(b"<Delete><Object><Key>a</Key></Delete></Object>", id="mismatched-tags"),
        pytest.param(b"garbage", id="text"),
    ],
)
def test_delete_objects_malformed_xml(server, s3, bucket, body):
    s3.put_object(Bucket=bucket, Key="a", Body=b"alpha")
    s3.put_object(Bucket=bucket, Key="b", Body=b"beta")
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    resp = s3_request(server, "POST", object_path(bucket), "delete", {"Content-MD5": md5}, body)
    assert_s3_error(resp, 400, "MalformedXML", f"/{bucket}")
    assert keys_of(s3, bucket) == ["a", "b"]
    assert_object(s3, bucket, "a", b"alpha")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag>", id="truncated"),
        pytest.param(b"<Tagging><TagSet><Tag><Key>k</Value></Tag></TagSet></Tagging>", id="bad"),
        pytest.param(b"\x00\x01\x02", id="binary"),
    ],
)
def test_put_object_tagging_malformed_xml(server, s3, bucket, body):
    s3.put_object(Bucket=bucket, Key="t", Body=b"x")
    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "keep", "Value": "me"}]})
    resp = s3_request(server, "PUT", object_path(bucket, "t"), "tagging", body=body)
    assert_s3_error(resp, 400, "MalformedXML", f"/{bucket}/t")
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [{"Key": "keep", "Value": "me"}]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<CompleteMultipartUpload><Part><PartNumber>1", id="truncated"),
        pytest.param(b'{"parts": [1]}', id="json"),
    ],
)
def test_complete_multipart_upload_malformed_xml(server, s3, bucket, body):
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"part one")
    resp = s3_request(server, "POST", object_path(bucket, "mp"), f"uploadId={up['UploadId']}", body=body)
    assert_s3_error(resp, 400, "MalformedXML", f"/{bucket}/mp")
    assert_no_object(s3, bucket, "mp")
    # The upload is still open and can be completed properly afterwards.
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [u["UploadId"] for u in uploads] == [up["UploadId"]]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )  # fmt: skip
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"part one"


# ---- body framing -----------------------------------------------------------------------------


def test_put_without_content_length_is_411(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="exists", Body=b"old")
    for key in ("new", "exists"):
        resp = s3_request(
            server, "PUT", object_path(bucket, key), payload_hash=UNSIGNED_PAYLOAD,
            content_length=False,
        )  # fmt: skip
        assert_s3_error(resp, 411, "MissingContentLength", f"/{bucket}/{key}")
    assert_no_object(s3, bucket, "new")
    assert_object(s3, bucket, "exists", b"old")


def _send_short_body(srv, bucket: str, key: str, declared: int, sent: bytes) -> socket.socket:
    path = object_path(bucket, key)
    hdrs = sign(srv, "PUT", path, payload_hash=UNSIGNED_PAYLOAD)
    hdrs["Content-Length"] = str(declared)
    sock = open_socket(srv, timeout=30)
    sock.sendall(request_head("PUT", path, hdrs) + sent)
    return sock


@pytest.mark.parametrize("size", [1000, 300_000], ids=["inline", "file"])
def test_body_shorter_than_content_length_then_half_close(server, s3, bucket, size):
    """The client sends part of the body and shuts down its write side (it has nothing
    more to send, and still listens): no truncated object is stored, and the client is
    told why, 400 IncompleteBody (or RequestTimeout)."""
    old = os.urandom(2000)
    s3.put_object(Bucket=bucket, Key="exists", Body=old)
    answers: dict[str, RawResponse | str] = {}
    for key in ("new", "exists"):
        sock = _send_short_body(server, bucket, key, size, os.urandom(size // 2))
        try:
            sock.shutdown(socket.SHUT_WR)
            try:
                answers[key] = read_response(sock, "PUT")
            except (http.client.RemoteDisconnected, ConnectionResetError) as exc:
                answers[key] = f"no response: {exc!r}"
        finally:
            sock.close()
    time.sleep(0.3)  # a server still working on the dead request has time to (wrongly) commit
    assert_no_object(s3, bucket, "new")
    assert_object(s3, bucket, "exists", old)
    assert keys_of(s3, bucket) == ["exists"]
    for key, resp in answers.items():
        assert isinstance(resp, RawResponse), (
            f"PUT /{bucket}/{key} with Content-Length {size}, {size // 2} bytes sent, then "
            f"shutdown(SHUT_WR): expected 400 IncompleteBody, got {resp}"
        )
        assert_s3_error(resp, 400, ("IncompleteBody", "RequestTimeout"), f"/{bucket}/{key}")


def test_body_shorter_than_content_length_then_close(server, s3, bucket):
    """The client sends half of the body and closes the connection outright."""
    s3.put_object(Bucket=bucket, Key="exists", Body=b"old")
    for key in ("new", "exists"):
        sock = _send_short_body(server, bucket, key, 500_000, os.urandom(200_000))
        sock.close()
    time.sleep(0.5)
    assert_no_object(s3, bucket, "new")
    assert_object(s3, bucket, "exists", b"old")
    assert server.health() == 200


@pytest.fixture(scope="module")
def stall_server(session_server_factory):
    """A server that gives a stalled body 2 seconds."""
    return session_server_factory("sqlite", env={"CHRONICLE_BODY_TIMEOUT": "2"})


@pytest.mark.parametrize("size", [1000, 300_000], ids=["inline", "file"])
def test_stalled_body_is_request_timeout(stall_server, size):
    s3 = stall_server.client()
    bucket = unique_bucket_name("stall")
    s3.create_bucket(Bucket=bucket)
    old = os.urandom(3000)
    s3.put_object(Bucket=bucket, Key="exists", Body=old)
    for key in ("new", "exists"):
        started = time.monotonic()
        sock = _send_short_body(stall_server, bucket, key, size, os.urandom(size // 3))
        try:
            sock.settimeout(20)
            resp = read_response(sock, "PUT")  # the client keeps the connection open, idle
        finally:
            sock.close()
        waited = time.monotonic() - started
        assert_s3_error(resp, 400, "RequestTimeout", f"/{bucket}/{key}")
        # Not before the 2 s timeout (load only delays the answer; the socket's 20 s bound
        # catches a server that never answers).
        assert waited >= 1.5, f"answered after {waited:.1f}s with CHRONICLE_BODY_TIMEOUT=2"
    assert_no_object(s3, bucket, "new")
    assert_object(s3, bucket, "exists", old)
    assert_clean_log(stall_server)


def test_body_longer_than_content_length_is_not_stored_as_longer(server, s3, bucket):
    """Extra bytes after the declared length are not part of the object."""
    path = object_path(bucket, "k")
    body = b"0123456789"
    hdrs = sign(server, "PUT", path, body=body)
    hdrs["Content-Length"] = "10"
    hdrs["Connection"] = "close"
    resp = exchange(server, "PUT", path, hdrs, body + b"EXTRA-BYTES")
    assert resp.status == 200, resp
    assert_object(s3, bucket, "k", body)


# ---- size limits --------------------------------------------------------------------------------


def test_user_metadata_over_2kb_is_metadata_too_large(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="exists", Body=b"old", Metadata={"a": "1"})
    for key in ("new", "exists"):
        resp = s3_request(
            server, "PUT", object_path(bucket, key), headers={"x-amz-meta-big": "v" * 2100},
            body=b"new body",
        )  # fmt: skip
        assert_s3_error(resp, 400, "MetadataTooLarge", f"/{bucket}/{key}")
        # Several headers that only together exceed 2 KB.
        many = {f"x-amz-meta-m{i:02d}": "x" * 100 for i in range(25)}
        resp = s3_request(server, "PUT", object_path(bucket, key), headers=many, body=b"new")
        assert_s3_error(resp, 400, "MetadataTooLarge", f"/{bucket}/{key}")
    assert_no_object(s3, bucket, "new")
    assert_object(s3, bucket, "exists", b"old")
    assert s3.head_object(Bucket=bucket, Key="exists")["Metadata"] == {"a": "1"}
    # Just under the limit is fine.
    resp = s3_request(
        server, "PUT", object_path(bucket, "ok"), headers={"x-amz-meta-ok": "v" * 1900},
        body=b"ok",
    )  # fmt: skip
    assert resp.status == 200, resp
    assert s3.head_object(Bucket=bucket, Key="ok")["Metadata"] == {"ok": "v" * 1900}


@pytest.mark.parametrize("size", [9 * 1024, 20 * 1024, 64 * 1024, 200 * 1024])
def test_header_section_over_8kib_is_400(server, s3, bucket, size):
    s3.put_object(Bucket=bucket, Key="exists", Body=b"old")
    for key in ("new", "exists"):
        junk = {f"x-junk-{i}": "j" * 1000 for i in range(size // 1000 + 1)}
        resp = s3_request(server, "PUT", object_path(bucket, key), body=b"new", unsigned_headers=junk)
        assert resp.status == 400, f"expected 400, got {resp.status}: {resp.body[:300]!r}"
        if resp.body.lstrip().startswith(b"<"):
            err = assert_s3_error(resp, 400, "RequestHeaderSectionTooLarge")
            assert err["Resource"] in (f"/{bucket}/{key}", "/"), err
        # A single huge header, signed, also fails with 400.
        resp = s3_request(
            server, "PUT", object_path(bucket, key), headers={"x-amz-meta-huge": "h" * size},
            body=b"new",
        )  # fmt: skip
        assert resp.status == 400, f"expected 400, got {resp.status}: {resp.body[:300]!r}"
    assert_no_object(s3, bucket, "new")
    assert_object(s3, bucket, "exists", b"old")
    assert server.health() == 200


def test_key_over_1024_bytes_is_key_too_long(server, s3, bucket):
    too_long = ["k" * 1025, "é" * 513, "d/" * 513]  # 1025, 1026, 1026 bytes
    for key in too_long:
        assert len(key.encode()) > 1024
        resp = s3_request(server, "PUT", object_path(bucket, key), body=b"data")
        assert_s3_error(resp, 400, "KeyTooLongError")
        with s3_error("KeyTooLongError", 400):
            s3.put_object(Bucket=bucket, Key=key, Body=b"data")
    assert keys_of(s3, bucket) == []
    # Exactly 1024 bytes is allowed, in ASCII and in two-byte UTF-8.
    for key in ("k" * 1024, "é" * 512):
        s3.put_object(Bucket=bucket, Key=key, Body=b"max")
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"max"
    assert sorted(keys_of(s3, bucket)) == sorted(["k" * 1024, "é" * 512])


INVALID_BUCKET_NAMES = [
    "UPPERCASE",
    "Mixed-Case-Bucket",
    "ab",
    "a",
    "192.168.5.4",
    "10.0.0.1",
    "my..bucket",
    "ends-with-dash-",
    "-starts-with-dash",
    ".starts-with-dot",
    "ends-with-dot.",
    "under_score",
    "b" * 64,
    "dash-.dot",
    "has space",
]


@pytest.mark.parametrize("name", INVALID_BUCKET_NAMES)
def test_create_bucket_invalid_name(server, s3, name):
    resp = s3_request(server, "PUT", "/" + quote(name, safe=""))
    err = assert_s3_error(resp, 400, "InvalidBucketName")
    assert err["Resource"] in (f"/{name}", f"/{quote(name, safe='')}"), err
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    resp = s3_request(server, "HEAD", "/" + quote(name, safe=""))
    assert resp.status in (400, 404), resp


def test_valid_bucket_name_edges_are_accepted(server, s3):
    tag = uuid.uuid4().hex
    names = [
        tag[:3],  # 3 characters
        (tag * 2)[:63],  # 63 characters
        f"a.b-{tag[:8]}",
        f"1{tag[:10]}",
        f"{tag[:4]}-{tag[4:8]}.{tag[8:12]}",
    ]
    try:
        for name in names:
            resp = s3_request(server, "PUT", "/" + name)
            assert resp.status == 200, (name, resp)
        listed = [b["Name"] for b in s3.list_buckets()["Buckets"]]
        for name in names:
            assert name in listed
    finally:
        for name in names:
            try:
                s3.delete_bucket(Bucket=name)
            except Exception:  # noqa: BLE001 - best effort
                pass


# ---- integrity ------------------------------------------------------------------------------------


def _b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def test_wrong_content_md5_is_bad_digest(server, s3, bucket):
    old = os.urandom(500)
    s3.put_object(Bucket=bucket, Key="exists", Body=old)
    for key in ("new", "exists"):
        for body in (b"new body", os.urandom(300_000)):
            resp = s3_request(
                server, "PUT", object_path(bucket, key),
                headers={"Content-MD5": _b64md5(body + b"!")}, body=body,
            )  # fmt: skip
            assert_s3_error(resp, 400, "BadDigest", f"/{bucket}/{key}")
    assert_no_object(s3, bucket, "new")
    assert_object(s3, bucket, "exists", old)


@pytest.mark.parametrize(
    "value",
    ["not base64!!", base64.b64encode(b"12345").decode(), "", "AAAA"],
    ids=["not-base64", "5-bytes", "empty", "3-bytes"],
)
def test_malformed_content_md5_is_invalid_digest(server, s3, bucket, value):
    s3.put_object(Bucket=bucket, Key="exists", Body=b"old")
    for key in ("new", "exists"):
        resp = s3_request(server, "PUT", object_path(bucket, key), headers={"Content-MD5": value}, body=b"x")
        assert_s3_error(resp, 400, "InvalidDigest", f"/{bucket}/{key}")
    assert_no_object(s3, bucket, "new")
    assert_object(s3, bucket, "exists", b"old")


def test_wrong_x_amz_content_sha256_is_mismatch(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="exists", Body=b"old")
    for key in ("new", "exists"):
        for body in (b"payload", os.urandom(300_000)):
            wrong = hashlib.sha256(body + b"?").hexdigest()
            # The wrong hash is what was signed, so the signature itself is valid.
            resp = s3_request(server, "PUT", object_path(bucket, key), body=body, payload_hash=wrong)
            assert_s3_error(resp, 400, "XAmzContentSHA256Mismatch", f"/{bucket}/{key}")
    assert_no_object(s3, bucket, "new")
    assert_object(s3, bucket, "exists", b"old")


def _crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_wrong_checksum_crc32_header_is_bad_digest(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="exists", Body=b"old")
    for key in ("new", "exists"):
        for body in (b"payload", os.urandom(300_000)):
            resp = s3_request(
                server, "PUT", object_path(bucket, key),
                headers={"x-amz-checksum-crc32": _crc32_b64(body + b"x")}, body=body,
            )  # fmt: skip
            assert_s3_error(resp, 400, "BadDigest", f"/{bucket}/{key}")
    assert_no_object(s3, bucket, "new")
    assert_object(s3, bucket, "exists", b"old")
    # The right checksum is accepted and returned.
    resp = s3_request(
        server, "PUT", object_path(bucket, "new"),
        headers={"x-amz-checksum-crc32": _crc32_b64(b"good")}, body=b"good",
    )  # fmt: skip
    assert resp.status == 200, resp
    got = s3.get_object(Bucket=bucket, Key="new", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == _crc32_b64(b"good")


# ---- authentication -----------------------------------------------------------------------------


def test_bad_signature_is_signature_does_not_match(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="exists", Body=b"old")
    for key in ("new", "exists"):
        resp = s3_request(server, "PUT", object_path(bucket, key), body=b"evil", tamper_signature=True)
        assert_s3_error(resp, 403, "SignatureDoesNotMatch")
        # Signed with the right key id but the wrong secret.
        resp = s3_request(server, "PUT", object_path(bucket, key), body=b"evil", secret_key="wrong-secret")
        assert_s3_error(resp, 403, "SignatureDoesNotMatch")
        # A correct signature over a different body (the header lies about the payload).
        hdrs = sign(server, "PUT", object_path(bucket, key), body=b"good")
        hdrs["Content-Length"] = "4"
        hdrs["Connection"] = "close"
        resp = exchange(server, "PUT", object_path(bucket, key), hdrs, b"evil")
        assert_s3_error(resp, 400, "XAmzContentSHA256Mismatch")
    resp = s3_request(server, "GET", object_path(bucket, "exists"), tamper_signature=True)
    assert_s3_error(resp, 403, "SignatureDoesNotMatch")
    assert b"old" not in resp.body
    assert_no_object(s3, bucket, "new")
    assert_object(s3, bucket, "exists", b"old")


def test_unknown_access_key_is_invalid_access_key_id(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="exists", Body=b"old")
    for method, key in (("PUT", "new"), ("PUT", "exists"), ("GET", "exists"), ("DELETE", "exists")):
        resp = s3_request(
            server, method, object_path(bucket, key), body=b"evil" if method == "PUT" else b"",
            access_key="AKIANOSUCHKEY0000000", secret_key="whatever",
        )  # fmt: skip
        assert_s3_error(resp, 403, "InvalidAccessKeyId")
    resp = s3_request(server, "PUT", "/" + unique_bucket_name("nokey"), access_key="nobody")
    assert_s3_error(resp, 403, "InvalidAccessKeyId")
    assert_no_object(s3, bucket, "new")
    assert_object(s3, bucket, "exists", b"old")


@pytest.mark.parametrize("minutes", [20, -20])
def test_request_time_too_skewed(server, s3, bucket, minutes):
    s3.put_object(Bucket=bucket, Key="exists", Body=b"old")
    for method, key in (("PUT", "new"), ("PUT", "exists"), ("GET", "exists")):
        resp = s3_request(
            server, method, object_path(bucket, key), body=b"late" if method == "PUT" else b"",
            skew_seconds=minutes * 60,
        )  # fmt: skip
        assert_s3_error(resp, 403, "RequestTimeTooSkewed")
    # 5 minutes is within S3's 15-minute window.
    resp = s3_request(server, "GET", object_path(bucket, "exists"), skew_seconds=300)
    assert resp.status == 200 and resp.body == b"old", resp
    assert_no_object(s3, bucket, "new")
    assert_object(s3, bucket, "exists", b"old")


def test_anonymous_requests_are_access_denied(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="exists", Body=b"secret")
    resp = s3_request(server, "GET", object_path(bucket, "exists"), signed=False)
    assert_s3_error(resp, 403, "AccessDenied", f"/{bucket}/exists")
    assert b"secret" not in resp.body
    resp = s3_request(server, "GET", object_path(bucket), signed=False)
    assert_s3_error(resp, 403, "AccessDenied")
    resp = s3_request(server, "GET", "/", signed=False)
    assert_s3_error(resp, 403, "AccessDenied")
    for key in ("new", "exists"):
        resp = s3_request(server, "PUT", object_path(bucket, key), body=b"anon", signed=False)
        assert_s3_error(resp, 403, "AccessDenied")
    resp = s3_request(server, "DELETE", object_path(bucket, "exists"), signed=False)
    assert_s3_error(resp, 403, "AccessDenied")
    name = unique_bucket_name("anon")
    resp = s3_request(server, "PUT", "/" + name, signed=False)
    assert_s3_error(resp, 403, "AccessDenied")
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert_no_object(s3, bucket, "new")
    assert_object(s3, bucket, "exists", b"secret")


def test_malformed_authorization_header_is_4xx(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="exists", Body=b"old")
    for auth in (
        "AWS4-HMAC-SHA256 garbage",
        "AWS4-HMAC-SHA256 Credential=x, SignedHeaders=host, Signature=zz",
        "Bearer abc",
        "AWS4-HMAC-SHA256",
    ):
        hdrs = sign(server, "PUT", object_path(bucket, "exists"), body=b"evil")
        hdrs["Authorization"] = auth
        hdrs["Content-Length"] = "4"
        hdrs["Connection"] = "close"
        resp = exchange(server, "PUT", object_path(bucket, "exists"), hdrs, b"evil")
        assert resp.status in (400, 403), (auth, resp)
        resp.error()  # still an S3 error document
    assert_object(s3, bucket, "exists", b"old")


# ---- unusual keys ----------------------------------------------------------------------------------

WEIRD_KEYS = [
    "with space",
    "  leading and trailing  ",
    "plus+sign",
    "a+b c+d",
    "percent%20literal",
    "100%",
    "%",
    "%zz",
    "unicode-ünïcödé-日本語-😀",
    "question?mark",
    "hash#tag",
    "/leading-slash",
    "//double-leading",
    "dir/../up",
    "..",
    "./dot",
    "trailing/",
    "a//b",
    "del\x7fchar",
    "tab\there",
    "amp&eq=semi;",
    "quote\"'<xml>&",
    "tilde~star*paren()",
    "back\\slash",
]


def test_weird_keys_roundtrip(server, s3, bucket):
    bodies = {key: f"body of {key!r}".encode() for key in WEIRD_KEYS}
    for key, body in bodies.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    for key, body in bodies.items():
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == body, key
        assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(body), key
    listed = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 7}):
        listed += [o["Key"] for o in page.get("Contents", [])]
    assert listed == sorted(WEIRD_KEYS, key=lambda k: k.encode()), listed
    v1 = [o["Key"] for o in s3.list_objects(Bucket=bucket).get("Contents", [])]
    assert v1 == listed
    # Each key is reachable by prefix, and deletes remove exactly that key.
    for key in WEIRD_KEYS:
        got = s3.list_objects_v2(Bucket=bucket, Prefix=key)
        assert key in [o["Key"] for o in got.get("Contents", [])], key
    for key in WEIRD_KEYS:
        s3.delete_object(Bucket=bucket, Key=key)
        with s3_error(None, 404):
            s3.head_object(Bucket=bucket, Key=key)
    assert keys_of(s3, bucket) == []


def test_error_document_for_control_char_key_is_parseable(server, s3, bucket):
    """Errors about a key holding a control character must still be error documents that
    clients can parse (XML 1.0 cannot carry U+0001 at all). Writing such a key is refused."""
    key = "ctrl\x01char"
    with s3_error("InvalidArgument", 400):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key=key)
    resp = s3_request(server, "GET", object_path(bucket, key))
    assert_s3_error(resp, 404, "NoSuchKey")
    resp = s3_request(server, "PUT", object_path(bucket, key), body=b"x")
    assert_s3_error(resp, 400, "InvalidArgument")


def test_responses_carry_one_date_and_one_server_header(server, s3, bucket):
    """Duplicate Date headers reach clients joined ("date1, date2"), which no date parser
    accepts (botocore reads Date to correct clock skew)."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    for method, path, status in (
        ("GET", object_path(bucket, "k"), 200),
        ("GET", object_path(bucket, "missing"), 404),
        ("PUT", object_path(bucket, "k2"), 200),
    ):
        hdrs = sign(server, method, path)
        hdrs["Content-Length"] = "0"
        hdrs["Connection"] = "close"
        sock = open_socket(server)
        try:
            sock.sendall(request_head(method, path, hdrs))
            resp = http.client.HTTPResponse(sock, method=method)
            resp.begin()
            resp.read()
            names = [k.lower() for k, _ in resp.getheaders()]
        finally:
            sock.close()
        assert resp.status == status
        assert names.count("date") == 1, f"{method} {path}: headers {resp.getheaders()}"
        assert names.count("server") == 1, f"{method} {path}: headers {resp.getheaders()}"


def test_weird_keys_copy_and_delete_objects(server, s3, bucket):
    for key in WEIRD_KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    for key in WEIRD_KEYS[:8]:
        s3.copy_object(Bucket=bucket, Key="copy/" + key, CopySource={"Bucket": bucket, "Key": key})
        assert s3.get_object(Bucket=bucket, Key="copy/" + key)["Body"].read() == key.encode()
    res = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in WEIRD_KEYS]})
    assert sorted(d["Key"] for d in res.get("Deleted", [])) == sorted(WEIRD_KEYS)
    assert not res.get("Errors")
    assert sorted(keys_of(s3, bucket)) == sorted("copy/" + k for k in WEIRD_KEYS[:8])


def test_error_document_resource_for_weird_missing_key(server, s3, bucket):
    key = "missing key+%/ü"
    resp = s3_request(server, "GET", object_path(bucket, key))
    assert_s3_error(resp, 404, "NoSuchKey", f"/{bucket}/{key}")

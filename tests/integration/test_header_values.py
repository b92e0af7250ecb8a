"""Request values that a later response carries in a header (stored Content-Type, metadata and
headers, response-* overrides, POST redirect locations) must be values HTTP can carry.

A CR/LF there would inject headers, and uvicorn refuses to send it: it drops the connection
with a traceback, on every later GET and HEAD of the object. The HTTP parser already refuses
control characters in request headers, so the ways in are the POST form's fields and the
query string: both are refused with InvalidArgument, and nothing is stored. Versions stored
before that check are still served, without the header HTTP cannot carry.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

import boto3
import pytest

from tests.helpers import legacy
from tests.helpers.s3 import parse_error_xml, raw_get, s3_error
from tests.integration.test_bad_input import (
    assert_s3_error,
    exchange,
    object_path,
    s3_request,
    sign,
)
from tests.integration.test_post_object import encode_form, presigned

EVIL = "\r\nX-Evil: 1"


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


@pytest.fixture
def own_server(server_factory, backend, request):  # type: ignore[no-untyped-def]
    """(server, database URL) of this test's own: stored state from an earlier version is
    appended while it is stopped (tests.helpers.legacy)."""
    if backend == "sqlite":
        return server_factory("sqlite"), None
    url = request.getfixturevalue("pg_url")
    return server_factory("postgres", database_url=url), url


@pytest.fixture(autouse=True)
def no_traceback_in_server_log(srv):  # type: ignore[no-untyped-def]
    before = len(srv.stderr_text())
    yield
    new = srv.stderr_text()[before:]
    assert "Traceback" not in new, f"server log has a traceback:\n{new[-4000:]}"
    assert "Invalid HTTP header" not in new, new[-4000:]


def post_form(srv, bucket: str, fields, file: bytes = b"data"):  # type: ignore[no-untyped-def]
    body, ctype = encode_form(fields, file)
    hdrs = {"Host": f"127.0.0.1:{srv.port}", "Content-Type": ctype}
    hdrs["Content-Length"] = str(len(body))
    hdrs["Connection"] = "close"
    return exchange(srv, "POST", f"/{bucket}", hdrs, body)


def assert_absent(client, bucket: str, key: str) -> None:  # type: ignore[no-untyped-def]
    with s3_error("NoSuchKey", 404):
        client.get_object(Bucket=bucket, Key=key)
    with s3_error(None, 404):
        client.head_object(Bucket=bucket, Key=key)
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


# ---- POST Object (browser forms) ------------------------------------------------------------

FORM_FIELDS = [
    ("Content-Type", "image/png" + EVIL),
    ("x-amz-meta-note", "hello" + EVIL),
    ("x-amz-meta-note", "bell\x07"),
    ("Cache-Control", "max-age=1" + EVIL),
    ("Content-Disposition", "inline" + EVIL),
    ("Content-Encoding", "identity" + EVIL),
    ("Content-Language", "en" + EVIL),
    ("Expires", "Thu, 01 Dec 2044 16:00:00 GMT" + EVIL),
    ("x-amz-website-redirect-location", "/elsewhere" + EVIL),
    ("success_action_redirect", "https://example.com/done" + EVIL),
    ("redirect", "https://example.com/done" + EVIL),
]


@pytest.mark.parametrize(("field", "value"), FORM_FIELDS, ids=[f"{f}-{i}" for i, (f, _) in enumerate(FORM_FIELDS)])
@pytest.mark.parametrize("version", ["s3v4", None], ids=["sigv4", "sigv2"])
def test_post_field_with_control_characters_is_refused(srv, client, bkt, field, value, version):  # type: ignore[no-untyped-def]
    # The policy lets the field start with anything (the case: starts-with "image/").
    prefix = "image/" if field == "Content-Type" else ""
    fields = presigned(
        srv, bkt, "up.png", version, fields={field: value},
        conditions=[["starts-with", f"${field}", prefix]],
    )  # fmt: skip
    resp = post_form(srv, bkt, fields)
    err = assert_s3_error(resp, 400, "InvalidArgument")
    assert err["ArgumentName"].lower() == field.lower(), err
    assert "x-evil" not in resp.headers
    assert_absent(client, bkt, "up.png")
    # The same form with a clean value is accepted (the refusal is about the value).
    clean = value.replace(EVIL, "").replace("\x07", "")
    fields = presigned(
        srv, bkt, "up.png", version, fields={field: clean},
        conditions=[["starts-with", f"${field}", prefix]],
    )  # fmt: skip
    assert post_form(srv, bkt, fields).status in (204, 303)
    assert client.head_object(Bucket=bkt, Key="up.png")["ContentLength"] == 4


@pytest.mark.parametrize("name", ["x-amz-meta-two words", "x-amz-meta-a:b", "x-amz-meta-ключ"])
def test_post_metadata_name_that_is_no_header_name_is_refused(srv, client, bkt, name):  # type: ignore[no-untyped-def]
    fields = presigned(srv, bkt, "meta", fields={name: "v"}, conditions=[{name: "v"}])
    resp = post_form(srv, bkt, fields)
    assert_s3_error(resp, 400, "InvalidArgument")
    assert_absent(client, bkt, "meta")


# ---- response-* overrides ---------------------------------------------------------------------

OVERRIDES = [
    ("response-content-type", "ResponseContentType"),
    ("response-content-language", "ResponseContentLanguage"),
    ("response-expires", "ResponseExpires"),
    ("response-cache-control", "ResponseCacheControl"),
    ("response-content-disposition", "ResponseContentDisposition"),
    ("response-content-encoding", "ResponseContentEncoding"),
]


@pytest.mark.parametrize(("param", "boto_name"), OVERRIDES, ids=[p for p, _ in OVERRIDES])
def test_response_override_with_crlf_is_refused(srv, client, bkt, param, boto_name):  # type: ignore[no-untyped-def]
    client.put_object(Bucket=bkt, Key="doc", Body=b"body")
    query = f"{param}={quote('attachment' + EVIL, safe='')}"
    for method in ("GET", "HEAD"):
        resp = s3_request(srv, method, object_path(bkt, "doc"), query)
        assert resp.status == 400, resp
        if method == "GET":
            assert_s3_error(resp, 400, "InvalidArgument")
        assert "x-evil" not in resp.headers
    # Presigned: SigV4, and boto3's default for presigned URLs, SigV2.
    sigv2 = boto3.client(
        "s3", endpoint_url=srv.endpoint, aws_access_key_id=srv.access_key,
        aws_secret_access_key=srv.secret_key, region_name="us-east-1",
    )  # fmt: skip
    for signer in (client, sigv2) if boto_name != "ResponseExpires" else ():  # a timestamp to boto3
        params = {"Bucket": bkt, "Key": "doc", boto_name: "attachment" + EVIL}
        url = signer.generate_presigned_url("get_object", Params=params, ExpiresIn=300)
        status, headers, body = raw_get(url)
        assert status == 400, (url, status, body)
        assert parse_error_xml(body)["Code"] == "InvalidArgument"
        assert "X-Evil" not in headers
    # The object is untouched, and a clean override still works.
    got = client.get_object(Bucket=bkt, Key="doc", ResponseContentDisposition="attachment")
    assert got["Body"].read() == b"body" and got["ContentDisposition"] == "attachment"


# ---- versions stored before the check --------------------------------------------------------


def test_version_stored_with_crlf_headers_is_still_served(own_server):  # type: ignore[no-untyped-def]
    srv, database_url = own_server
    client = srv.client()
    bkt = "legacy-headers"
    client.create_bucket(Bucket=bkt)
    version = legacy.empty_version(
        bkt, "old",
        content_type="text/plain" + EVIL,
        headers={"cache-control": "no-cache" + EVIL, "content-language": "en"},
        metadata={"ok": "fine", "bad": "x" + EVIL, "two words": "v", "ключ": "v"},
    )  # fmt: skip
    legacy.append(srv, database_url, version)
    for method in ("GET", "HEAD"):
        hdrs = sign(srv, method, object_path(bkt, "old"))
        hdrs.update({"Content-Length": "0", "Connection": "close"})
        resp = exchange(srv, method, object_path(bkt, "old"), hdrs)
        assert resp.status == 200, resp
        assert "x-evil" not in resp.headers
        assert resp.headers["etag"] == '"' + hashlib.md5(b"").hexdigest() + '"'
        assert resp.headers["content-language"] == "en"
        assert resp.headers["x-amz-meta-ok"] == "fine"
        assert "cache-control" not in resp.headers and "x-amz-meta-bad" not in resp.headers
        assert "text/plain" not in resp.headers.get("content-type", "")
    got = client.get_object(Bucket=bkt, Key="old")
    assert got["Body"].read() == b"" and got["Metadata"] == {"ok": "fine"}
    client.delete_object(Bucket=bkt, Key="old")
    assert client.list_objects_v2(Bucket=bkt).get("KeyCount") == 0
    assert "Traceback" not in srv.stderr_text(), srv.stderr_text()[-4000:]


# ---- request headers ----------------------------------------------------------------------------


def test_put_header_with_control_character_never_reaches_the_store(srv, client, bkt):  # type: ignore[no-untyped-def]
    """The HTTP parser refuses a control character in a request header before Chronicle sees
    the request: PUT, Copy and CreateMultipartUpload cannot store one."""
    for value in ("a\x01b", "a\x7fb"):
        hdrs = sign(srv, "PUT", object_path(bkt, "k"), body=b"data")
        hdrs.update({"x-amz-meta-note": value, "Content-Length": "4", "Connection": "close"})
        resp = exchange(srv, "PUT", object_path(bkt, "k"), hdrs, b"data")
        assert resp.status == 400, resp
    assert_absent(client, bkt, "k")

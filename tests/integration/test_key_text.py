"""Keys are exact text: bytes that are not UTF-8 are refused (InvalidURI, as AWS answers), not
replaced (which made a%FF%FEb and a%FE%FFb one key), and every listing is XML that boto3 and
the aws cli can parse, with encoding-type=url or without.

XML 1.0 cannot carry most control characters at all (AWS writes &#x1;, which only XML 1.1
allows; expat, and so boto3, refuses it). Chronicle refuses keys holding them at write time
(InvalidArgument); tab, LF and CR are kept (CR as &#13;, since a raw CR reads back as LF).
Keys stored before the refusal are listed exactly with encoding-type=url, and with U+FFFD in
place of such characters without it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import xml.etree.ElementTree as ET
from urllib.parse import quote, unquote

import pytest

from tests.helpers import legacy
from tests.helpers.s3 import s3_error
from tests.integration.test_bad_input import (
    assert_s3_error,
    exchange,
    object_path,
    s3_request,
)
from tests.integration.test_post_object import presigned

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


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
def own_server(server_factory, backend, request):  # type: ignore[no-untyped-def]
    """(server, database URL) of this test's own: stored state from an earlier version is
    appended while it is stopped (tests.helpers.legacy)."""
    if backend == "sqlite":
        return server_factory("sqlite"), None
    url = request.getfixturevalue("pg_url")
    return server_factory("postgres", database_url=url), url


@pytest.fixture
def bkt(make_bucket, client):  # type: ignore[no-untyped-def]
    return make_bucket(client)


@pytest.fixture(autouse=True)
def no_traceback_in_server_log(srv):  # type: ignore[no-untyped-def]
    before = len(srv.stderr_text())
    yield
    new = srv.stderr_text()[before:]
    assert "Traceback" not in new, f"server log has a traceback:\n{new[-4000:]}"


def keys_of(client, bucket: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]


def listing(srv, bucket: str, query: str) -> ET.Element:  # type: ignore[no-untyped-def]
    """A listing fetched raw and parsed with expat, as boto3 parses it."""
    resp = s3_request(srv, "GET", object_path(bucket), query)
    assert resp.status == 200, resp
    try:
        return ET.fromstring(resp.body)
    except ET.ParseError as exc:
        raise AssertionError(f"GET ?{query}: not well-formed XML ({exc}): {resp.body[:600]!r}") from exc


# The listings and the element each listed key sits in.
LISTINGS = {
    "v1": ("", "Contents"),
    "v2": ("list-type=2", "Contents"),
    "versions": ("versions", "Version"),
    "uploads": ("uploads", "Upload"),
}


def listed_keys(doc: ET.Element, container: str) -> list[str]:
    return [k.text or "" for c in doc.iter(NS + container) for k in c if k.tag == NS + "Key"]


def with_query(query: str, extra: str) -> str:
    return "&".join(q for q in (query, extra) if q)


# ---- bytes that are not UTF-8 ---------------------------------------------------------------


def test_key_that_is_not_utf8_is_invalid_uri(srv, client, bkt):  # type: ignore[no-untyped-def]
    for raw in ("a%FF%FEb", "a%FE%FFb", "%C3", "x%ED%A0%80y"):  # the last: an encoded surrogate
        for method in ("PUT", "GET", "HEAD", "DELETE"):
            resp = s3_request(srv, method, f"/{bkt}/{raw}", body=b"one" if method == "PUT" else b"")
            assert resp.status == 400, (raw, method, resp)
            if method != "HEAD":
                assert_s3_error(resp, 400, "InvalidURI")
    assert keys_of(client, bkt) == []
    # U+FFFD itself is a character like any other: its own key.
    client.put_object(Bucket=bkt, Key="a\ufffd\ufffdb", Body=b"replacement")
    assert keys_of(client, bkt) == ["a\ufffd\ufffdb"]
    assert client.get_object(Bucket=bkt, Key="a\ufffd\ufffdb")["Body"].read() == b"replacement"


@pytest.mark.parametrize(
    "query",
    [
        "prefix=%FF", "delimiter=%FE", "marker=a%FF", "list-type=2&start-after=%FF",
        "list-type=2&prefix=%C3", "versions&key-marker=%FF", "uploads&prefix=%FF",
    ],
)  # fmt: skip
def test_listing_parameter_that_is_not_utf8_is_invalid_uri(srv, client, bkt, query):  # type: ignore[no-untyped-def]
    client.put_object(Bucket=bkt, Key="\ufffd", Body=b"x")  # what a replaced %FF would match
    resp = s3_request(srv, "GET", object_path(bkt), query)
    assert_s3_error(resp, 400, "InvalidURI")


def encode_raw_form(fields: list[tuple[str, bytes]], file: bytes, filename: bytes) -> tuple[bytes, str]:
    boundary = "----chronicle" + os.urandom(8).hex()
    out = bytearray()
    for name, value in fields:
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value + b"\r\n"
    out += f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="'.encode()
    out += filename + b'"\r\nContent-Type: application/octet-stream\r\n\r\n' + file + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def post_raw_form(srv, bucket: str, fields, filename: bytes = b"f.bin"):  # type: ignore[no-untyped-def]
    body, ctype = encode_raw_form(fields, b"data", filename)
    hdrs = {
        "Host": f"127.0.0.1:{srv.port}",
        "Content-Type": ctype,
        "Content-Length": str(len(body)),
    }
    hdrs["Connection"] = "close"
    return exchange(srv, "POST", f"/{bucket}", hdrs, body)


def test_post_key_that_is_not_utf8_is_refused(srv, client, bkt):  # type: ignore[no-untyped-def]
    # The policy lets any key through: the form's own key field carries the bytes.
    signed = presigned(srv, bkt, "${filename}")
    for raw_key in (b"a\xff\xfeb", b"a\xfe\xffb"):
        fields = [(k, raw_key if k == "key" else v.encode()) for k, v in signed]
        err = assert_s3_error(post_raw_form(srv, bkt, fields), 400, "InvalidArgument")
        assert err["ArgumentName"] == "key"
    # ${filename} takes the file's name: its bytes must be UTF-8 too.
    fields = [(k, v.encode()) for k, v in signed]
    resp = post_raw_form(srv, bkt, fields, filename=b"n\xffme")
    assert assert_s3_error(resp, 400, "InvalidArgument")["ArgumentName"] == "filename"
    assert keys_of(client, bkt) == []
    assert post_raw_form(srv, bkt, fields, filename="n\u00e4me".encode()).status == 204
    assert keys_of(client, bkt) == ["n\u00e4me"]


# ---- control characters -----------------------------------------------------------------------

CONTROL_KEYS = ["ctrl\x01char", "nul\x00", "esc\x1b[0m", "ff\x0c", "\x1f", "bom\ufffe"]


@pytest.mark.parametrize("key", CONTROL_KEYS, ids=[repr(k) for k in CONTROL_KEYS])
def test_key_xml_cannot_carry_is_refused_on_every_write(srv, client, bkt, key):  # type: ignore[no-untyped-def]
    with s3_error("InvalidArgument", 400):
        client.put_object(Bucket=bkt, Key=key, Body=b"x")
    with s3_error("InvalidArgument", 400):
        client.create_multipart_upload(Bucket=bkt, Key=key)
    client.put_object(Bucket=bkt, Key="source", Body=b"src")
    with s3_error("InvalidArgument", 400):
        client.copy_object(Bucket=bkt, Key=key, CopySource={"Bucket": bkt, "Key": "source"})
    signed = presigned(srv, bkt, "${filename}")
    fields = [(k, key.encode() if k == "key" else v.encode()) for k, v in signed]
    assert_s3_error(post_raw_form(srv, bkt, fields), 400, "InvalidArgument")
    assert keys_of(client, bkt) == ["source"]
    assert client.list_multipart_uploads(Bucket=bkt).get("Uploads", []) == []
    # Listings stay parseable without encoding-type=url.
    for query, _ in LISTINGS.values():
        listing(srv, bkt, query)


WHITESPACE_KEYS = ["tab\there", "lf\nhere", "cr\rhere", "crlf\r\nhere", "\r"]


def test_tab_lf_cr_keys_list_exactly_without_encoding(srv, client, bkt):  # type: ignore[no-untyped-def]
    for key in WHITESPACE_KEYS:
        client.put_object(Bucket=bkt, Key=key, Body=key.encode())
        client.create_multipart_upload(Bucket=bkt, Key=key)
    want = sorted(WHITESPACE_KEYS, key=str.encode)
    for name, (query, path) in LISTINGS.items():
        for extra in ("", "encoding-type=url"):
            doc = listing(srv, bkt, with_query(query, extra))
            got = listed_keys(doc, path)
            if extra:
                got = [unquote(k) for k in got]
            assert got == want, (name, extra, got)
    # boto3 lists uploads without encoding-type: the keys arrive exact.
    uploads = client.list_multipart_uploads(Bucket=bkt)["Uploads"]
    assert sorted((u["Key"] for u in uploads), key=str.encode) == want
    for u in uploads:
        assert client.list_parts(Bucket=bkt, Key=u["Key"], UploadId=u["UploadId"])["Key"] == u["Key"]
        client.abort_multipart_upload(Bucket=bkt, Key=u["Key"], UploadId=u["UploadId"])
    # DeleteObjects echoes the keys it deleted (a CR sent as &#13;, as XML needs it).
    body = "<Delete>" + "".join(
        f"<Object><Key>{k.replace(chr(13), '&#13;')}</Key></Object>" for k in WHITESPACE_KEYS
    ) + "</Delete>"  # fmt: skip
    data = body.encode()
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    resp = s3_request(srv, "POST", object_path(bkt), "delete", {"Content-MD5": md5}, data)
    assert resp.status == 200, resp
    doc = ET.fromstring(resp.body)
    deleted = [e.text or "" for e in doc.iter(NS + "Key")]
    assert sorted(deleted, key=str.encode) == want
    assert keys_of(client, bkt) == []


@pytest.mark.parametrize("name", list(LISTINGS))
@pytest.mark.parametrize("param", ["prefix", "delimiter", "marker"])
def test_listing_echoes_control_characters_as_well_formed_xml(srv, client, bkt, name, param):  # type: ignore[no-untyped-def]
    query, _ = LISTINGS[name]
    marker = {
        "v1": "marker",
        "v2": "start-after",
        "versions": "key-marker",
        "uploads": "key-marker",
    }
    key = marker[name] if param == "marker" else param
    client.put_object(Bucket=bkt, Key="k", Body=b"x")
    for extra in ("", "encoding-type=url"):
        doc = listing(srv, bkt, with_query(query, with_query(f"{key}=a%01b", extra)))
        if extra and name != "v1":  # v1 answers Prefix unencoded, as botocore expects
            echoed = [e.text for e in doc.iter() if e.text and "a" in e.text and "b" in e.text]
            assert "a%01b" in echoed, (name, param, ET.tostring(doc)[:600])


def test_tag_xml_cannot_carry_is_refused(srv, client, bkt):  # type: ignore[no-untyped-def]
    for tagging, code in (
        ("k=a%01b", "InvalidTag"),
        ("a%01=v", "InvalidTag"),
        ("k=%FF", "InvalidArgument"),
    ):
        with s3_error(code, 400):
            client.put_object(Bucket=bkt, Key="t", Body=b"x", Tagging=tagging)
    assert keys_of(client, bkt) == []
    client.put_object(Bucket=bkt, Key="t", Body=b"x", Tagging="k=tab%09ok")
    assert client.get_object_tagging(Bucket=bkt, Key="t")["TagSet"] == [{"Key": "k", "Value": "tab\tok"}]


# ---- keys stored before the refusal ---------------------------------------------------------


def test_keys_stored_before_are_listed_as_well_formed_xml(own_server):  # type: ignore[no-untyped-def]
    srv, database_url = own_server
    client = srv.client()
    bkt = "legacy-keys"
    client.create_bucket(Bucket=bkt)
    key, upload_key = "legacy\x01key", "legacy\x01upload"
    upload = legacy.open_upload(bkt, upload_key)
    legacy.append(srv, database_url, legacy.empty_version(bkt, key), upload)
    upload_id = upload.id.hex
    for name, (query, container) in LISTINGS.items():
        want = upload_key if name == "uploads" else key
        doc = listing(srv, bkt, query)
        assert listed_keys(doc, container) == [want.replace("\x01", "\ufffd")], name
        doc = listing(srv, bkt, with_query(query, "encoding-type=url"))
        assert listed_keys(doc, container) == [quote(want, safe="/")], name
    # boto3 asks for encoding-type=url on its own for these three, and decodes.
    assert [o["Key"] for o in client.list_objects(Bucket=bkt)["Contents"]] == [key]
    assert [o["Key"] for o in client.list_objects_v2(Bucket=bkt)["Contents"]] == [key]
    assert [v["Key"] for v in client.list_object_versions(Bucket=bkt)["Versions"]] == [key]
    # Not for uploads: without it the answer is still XML boto3 parses; with it, exact.
    assert [u["Key"] for u in client.list_multipart_uploads(Bucket=bkt)["Uploads"]] == [
        upload_key.replace("\x01", "\ufffd")
    ]
    got = client.list_multipart_uploads(Bucket=bkt, EncodingType="url")["Uploads"]
    assert [unquote(u["Key"]) for u in got] == [upload_key]
    parts = client.list_parts(Bucket=bkt, Key=upload_key, UploadId=upload_id)
    assert parts["UploadId"] == upload_id
    # The object is readable, copyable to a clean key, and deletable by its exact key.
    assert client.get_object(Bucket=bkt, Key=key)["Body"].read() == b""
    client.copy_object(Bucket=bkt, Key="clean", CopySource={"Bucket": bkt, "Key": key})
    with s3_error("NoSuchKey", 404):
        client.copy_object(Bucket=bkt, Key="clean2", CopySource={"Bucket": bkt, "Key": key + "x"})
    client.delete_object(Bucket=bkt, Key=key)
    client.abort_multipart_upload(Bucket=bkt, Key=upload_key, UploadId=upload_id)
    assert keys_of(client, bkt) == ["clean"]
    assert "Traceback" not in srv.stderr_text(), srv.stderr_text()[-4000:]

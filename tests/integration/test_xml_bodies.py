"""XML request bodies are parsed with DTDs, entity declarations and external references refused
by the parser (defusedxml), whatever the body's encoding: a search for "<!DOCTYPE" in the raw
bytes misses it in UTF-16, and the tagging then stored the entity's expansion. Such a body is
MalformedXML (MalformedACLError for an ACL, as for any malformed ACL document) and changes
nothing. Bodies in UTF-16 without a DTD are still read."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from tests.integration.test_bad_input import assert_s3_error, object_path, s3_request

DTD = '<!DOCTYPE d [<!ENTITY x "EXPANDED">]>'
ENCODINGS = {
    "utf-8": lambda doc: doc.encode("utf-8"),
    "utf-8-declared": lambda doc: ('<?xml version="1.0" encoding="UTF-8"?>' + doc).encode(),
    "utf-16": lambda doc: ('<?xml version="1.0" encoding="UTF-16"?>' + doc).encode("utf-16"),
    "utf-16be-bom": lambda doc: b"\xfe\xff" + doc.encode("utf-16-be"),
    "utf-16le-bom": lambda doc: b"\xff\xfe" + doc.encode("utf-16-le"),
}


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


@pytest.fixture(autouse=True)
def no_traceback_in_server_log(srv):  # type: ignore[no-untyped-def]
    before = len(srv.stderr_text())
    yield
    new = srv.stderr_text()[before:]
    assert "Traceback" not in new, f"server log has a traceback:\n{new[-4000:]}"


def send(srv, method: str, path: str, query: str, body: bytes):  # type: ignore[no-untyped-def]
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    return s3_request(srv, method, path, query, {"Content-MD5": md5}, body)


def expanded(doc: str, encoding: str) -> bytes:
    """The document with the DTD in front and &x; where the attacker wants the expansion."""
    return ENCODINGS[encoding](DTD + doc)


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_object_tagging_with_dtd_is_refused(srv, client, bkt, encoding):  # type: ignore[no-untyped-def]
    client.put_object(Bucket=bkt, Key="k", Body=b"x")
    client.put_object_tagging(Bucket=bkt, Key="k", Tagging={"TagSet": [{"Key": "keep", "Value": "me"}]})
    doc = "<Tagging><TagSet><Tag><Key>k</Key><Value>&x;</Value></Tag></TagSet></Tagging>"
    resp = send(srv, "PUT", object_path(bkt, "k"), "tagging", expanded(doc, encoding))
    assert_s3_error(resp, 400, "MalformedXML")
    assert client.get_object_tagging(Bucket=bkt, Key="k")["TagSet"] == [{"Key": "keep", "Value": "me"}]
    # The same document without the DTD, in the same encoding, is read.
    plain = ENCODINGS[encoding](doc.replace("&x;", "plain"))
    assert send(srv, "PUT", object_path(bkt, "k"), "tagging", plain).status == 200
    assert client.get_object_tagging(Bucket=bkt, Key="k")["TagSet"] == [{"Key": "k", "Value": "plain"}]


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_bucket_tagging_with_dtd_is_refused(srv, client, bkt, encoding):  # type: ignore[no-untyped-def]
    doc = "<Tagging><TagSet><Tag><Key>k</Key><Value>&x;</Value></Tag></TagSet></Tagging>"
    resp = send(srv, "PUT", object_path(bkt), "tagging", expanded(doc, encoding))
    assert_s3_error(resp, 400, "MalformedXML")
    resp = s3_request(srv, "GET", object_path(bkt), "tagging")
    assert_s3_error(resp, 404, "NoSuchTagSet")


@pytest.mark.parametrize("encoding", list(ENCODINGS))
@pytest.mark.parametrize("level", ["bucket", "object"])
def test_acl_with_dtd_is_refused(srv, client, bkt, encoding, level):  # type: ignore[no-untyped-def]
    client.put_object(Bucket=bkt, Key="k", Body=b"x")
    path = object_path(bkt, "k") if level == "object" else object_path(bkt)
    before = s3_request(srv, "GET", path, "acl").body
    doc = (
        "<AccessControlPolicy><Owner><ID>&x;</ID></Owner><AccessControlList><Grant>"
        '<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group">'
        "<URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee>"
        "<Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>"
    )
    resp = send(srv, "PUT", path, "acl", expanded(doc, encoding))
    assert_s3_error(resp, 400, "MalformedACLError")
    assert s3_request(srv, "GET", path, "acl").body == before
    assert b"AllUsers" not in before


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_delete_objects_with_dtd_is_refused(srv, client, bkt, encoding):  # type: ignore[no-untyped-def]
    client.put_object(Bucket=bkt, Key="EXPANDED", Body=b"x")
    doc = "<Delete><Object><Key>&x;</Key></Object></Delete>"
    resp = send(srv, "POST", object_path(bkt), "delete", expanded(doc, encoding))
    assert_s3_error(resp, 400, "MalformedXML")
    assert [o["Key"] for o in client.list_objects_v2(Bucket=bkt)["Contents"]] == ["EXPANDED"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
@pytest.mark.parametrize(
    ("query", "doc"),
    [
        ("versioning", "<VersioningConfiguration><Status>&x;</Status></VersioningConfiguration>"),
        (
            "ownershipControls",
            "<OwnershipControls><Rule><ObjectOwnership>&x;</ObjectOwnership></Rule></OwnershipControls>",
        ),
        (
            "publicAccessBlock",
            "<PublicAccessBlockConfiguration><BlockPublicAcls>&x;</BlockPublicAcls></PublicAccessBlockConfiguration>",
        ),
        ("notification", "<NotificationConfiguration>&x;</NotificationConfiguration>"),
    ],
    ids=["versioning", "ownership", "public-access-block", "notification"],
)  # fmt: skip
def test_bucket_configuration_with_dtd_is_refused(srv, client, bkt, encoding, query, doc):  # type: ignore[no-untyped-def]
    before = configuration(srv, bkt, query)
    resp = send(srv, "PUT", object_path(bkt), query, expanded(doc, encoding))
    assert_s3_error(resp, 400, "MalformedXML")
    assert configuration(srv, bkt, query) == before


def configuration(srv, bucket: str, query: str) -> tuple[int, bytes]:  # type: ignore[no-untyped-def]
    """GET ?query: status and body, the request's own id left out."""
    resp = s3_request(srv, "GET", object_path(bucket), query)
    return resp.status, re.sub(rb"<RequestId>[^<]*</RequestId>", b"", resp.body)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_complete_multipart_upload_with_dtd_is_refused(srv, client, bkt, encoding):  # type: ignore[no-untyped-def]
    up = client.create_multipart_upload(Bucket=bkt, Key="mp")
    part = client.upload_part(Bucket=bkt, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"p")
    doc = (
        f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{part['ETag']}</ETag></Part>&x;"
        "</CompleteMultipartUpload>"
    )
    resp = send(srv, "POST", object_path(bkt, "mp"), f"uploadId={up['UploadId']}", expanded(doc, encoding))
    assert_s3_error(resp, 400, "MalformedXML")
    assert [u["UploadId"] for u in client.list_multipart_uploads(Bucket=bkt)["Uploads"]] == [up["UploadId"]]
    assert client.list_objects_v2(Bucket=bkt)["KeyCount"] == 0


def test_unknown_declared_encoding_is_malformed_xml(srv, client, bkt):  # type: ignore[no-untyped-def]
    client.put_object(Bucket=bkt, Key="k", Body=b"x")
    body = b'<?xml version="1.0" encoding="no-such-encoding"?><Tagging><TagSet/></Tagging>'
    assert_s3_error(send(srv, "PUT", object_path(bkt, "k"), "tagging", body), 400, "MalformedXML")

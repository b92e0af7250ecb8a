"""ACLs through a real server: canned ACLs on buckets and objects, grants by header and by
AccessControlPolicy XML, and what they let anonymous callers do (plain urllib, no signature)."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from domain.acl import ALL_USERS, AUTHENTICATED_USERS
from tests.helpers.s3 import parse_error_xml, raw_get, s3_error

S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def cid(name: str) -> str:
    return hashlib.sha256(f"chronicle-user:{name}".encode()).hexdigest()


def grants_of(resp) -> set[tuple[str, str, str]]:
    out = set()
    for g in resp["Grants"]:
        grantee = g["Grantee"]
        who = grantee.get("ID") or grantee.get("URI")
        out.add((grantee["Type"], who, g["Permission"]))
    return out


def owner_grant(server) -> tuple[str, str, str]:
    return ("CanonicalUser", cid(server.access_key), "FULL_CONTROL")


def url(server, bucket: str, key: str = "") -> str:
    return f"{server.endpoint}/{bucket}/{key}" if key else f"{server.endpoint}/{bucket}"


@pytest.mark.parametrize(
    ("canned", "extra"),
    [
        ("private", set()),
        ("public-read", {("Group", ALL_USERS, "READ")}),
        ("public-read-write", {("Group", ALL_USERS, "READ"), ("Group", ALL_USERS, "WRITE")}),
        ("authenticated-read", {("Group", AUTHENTICATED_USERS, "READ")}),
    ],
)
def test_canned_bucket_acl_round_trips(server, s3, make_bucket, canned, extra):
    name = make_bucket()
    s3.put_bucket_acl(Bucket=name, ACL=canned)
    resp = s3.get_bucket_acl(Bucket=name)
    assert resp["Owner"] == {"ID": cid(server.access_key), "DisplayName": server.access_key}
    assert grants_of(resp) == {owner_grant(server)} | extra
    users = [g["Grantee"] for g in resp["Grants"] if g["Grantee"]["Type"] == "CanonicalUser"]
    assert [u["DisplayName"] for u in users] == [server.access_key]


def test_create_bucket_with_canned_acl(server, s3, bucket_name):
    s3.create_bucket(Bucket=bucket_name, ACL="public-read")
    try:
        assert grants_of(s3.get_bucket_acl(Bucket=bucket_name)) == {owner_grant(server), ("Group", ALL_USERS, "READ")}
        status, _, body = raw_get(url(server, bucket_name))
        assert status == 200 and b"ListBucketResult" in body
    finally:
        s3.delete_bucket(Bucket=bucket_name)


def test_default_acls_are_owner_full_control(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert grants_of(s3.get_bucket_acl(Bucket=bucket)) == {owner_grant(server)}
    resp = s3.get_object_acl(Bucket=bucket, Key="k")
    assert resp["Owner"]["ID"] == cid(server.access_key)
    assert grants_of(resp) == {owner_grant(server)}


def test_raw_acl_xml_names_xsi_types(server, s3, bucket):
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    presigned = s3.generate_presigned_url("get_bucket_acl", Params={"Bucket": bucket})
    status, _, body = raw_get(presigned)
    assert status == 200
    text = body.decode()
    assert 'xsi:type="CanonicalUser"' in text and 'xsi:type="Group"' in text
    assert f"<Owner><ID>{cid(server.access_key)}</ID><DisplayName>{server.access_key}</DisplayName></Owner>" in text


def test_public_read_object_is_readable_anonymously(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="public.txt", Body=b"hello world", ACL="public-read")
    s3.put_object(Bucket=bucket, Key="private.txt", Body=b"secret")
    status, _, body = raw_get(url(server, bucket, "public.txt"))
    assert (status, body) == (200, b"hello world")
    status, _, _ = raw_get(url(server, bucket, "public.txt"), method="HEAD")
    assert status == 200
    status, _, body = raw_get(url(server, bucket, "private.txt"))
    assert status == 403 and parse_error_xml(body)["Code"] == "AccessDenied"
    # the object ACL does not open the bucket listing, nor writes
    assert raw_get(url(server, bucket))[0] == 403
    assert raw_get(url(server, bucket, "public.txt"), method="PUT", data=b"overwrite")[0] == 403
    assert grants_of(s3.get_object_acl(Bucket=bucket, Key="public.txt")) == {
        owner_grant(server),
        ("Group", ALL_USERS, "READ"),
    }


def test_object_acl_made_private_again(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"data", ACL="public-read")
    assert raw_get(url(server, bucket, "k"))[0] == 200
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="private")
    assert raw_get(url(server, bucket, "k"))[0] == 403
    # an overwrite without an ACL is private again too
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="public-read")
    s3.put_object(Bucket=bucket, Key="k", Body=b"new")
    assert raw_get(url(server, bucket, "k"))[0] == 403


def test_public_read_bucket_lists_anonymously_but_objects_stay_private(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    status, _, body = raw_get(url(server, bucket))
    assert status == 200 and b"<Key>k</Key>" in body
    assert raw_get(url(server, bucket, "k"))[0] == 403


def test_public_read_write_bucket_accepts_anonymous_put(server, s3, bucket):
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    status, _, _ = raw_get(url(server, bucket, "anon.txt"), method="PUT", data=b"from nobody")
    assert status == 200
    assert s3.get_object(Bucket=bucket, Key="anon.txt")["Body"].read() == b"from nobody"
    # the anonymous writer's object belongs to the bucket owner, and is private
    assert s3.get_object_acl(Bucket=bucket, Key="anon.txt")["Owner"]["ID"] == cid(server.access_key)
    assert raw_get(url(server, bucket, "anon.txt"))[0] == 403
    # anonymous PUT with a canned ACL
    status, _, _ = raw_get(
        url(server, bucket, "anon2.txt"), method="PUT", data=b"open", headers={"x-amz-acl": "public-read"}
    )
    assert status == 200
    assert raw_get(url(server, bucket, "anon2.txt"))[2] == b"open"
    assert raw_get(url(server, bucket, "anon.txt"), method="DELETE")[0] == 204
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    assert raw_get(url(server, bucket, "anon3.txt"), method="PUT", data=b"x")[0] == 403


def test_grants_by_header(server, s3, bucket):
    me = cid(server.access_key)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_object_acl(
        Bucket=bucket, Key="k",
        GrantRead=f'uri="{ALL_USERS}"',
        GrantFullControl=f'id="{me}"',
        GrantReadACP=f'id={me}, uri="{AUTHENTICATED_USERS}"',
    )  # fmt: skip
    assert grants_of(s3.get_object_acl(Bucket=bucket, Key="k")) == {
        ("Group", ALL_USERS, "READ"),
        ("CanonicalUser", me, "FULL_CONTROL"),
        ("CanonicalUser", me, "READ_ACP"),
        ("Group", AUTHENTICATED_USERS, "READ_ACP"),
    }
    assert raw_get(url(server, bucket, "k"))[2] == b"x"
    s3.put_bucket_acl(Bucket=bucket, GrantWrite=f'uri="{ALL_USERS}"', GrantFullControl=f'id="{me}"')
    assert grants_of(s3.get_bucket_acl(Bucket=bucket)) == {
        ("Group", ALL_USERS, "WRITE"),
        ("CanonicalUser", me, "FULL_CONTROL"),
    }
    assert raw_get(url(server, bucket, "w"), method="PUT", data=b"y")[0] == 200


def test_put_object_with_grant_headers(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"z", GrantRead=f'uri="{ALL_USERS}"')
    assert grants_of(s3.get_object_acl(Bucket=bucket, Key="k")) == {("Group", ALL_USERS, "READ")}
    assert raw_get(url(server, bucket, "k"))[2] == b"z"


def test_grants_by_xml(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    acl = s3.get_object_acl(Bucket=bucket, Key="k")
    grants = acl["Grants"] + [{"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"}]
    s3.put_object_acl(Bucket=bucket, Key="k", AccessControlPolicy={"Owner": acl["Owner"], "Grants": grants})
    assert grants_of(s3.get_object_acl(Bucket=bucket, Key="k")) == {owner_grant(server), ("Group", ALL_USERS, "READ")}
    assert raw_get(url(server, bucket, "k"))[0] == 200
    bacl = s3.get_bucket_acl(Bucket=bucket)
    s3.put_bucket_acl(
        Bucket=bucket,
        AccessControlPolicy={
            "Owner": bacl["Owner"],
            "Grants": bacl["Grants"] + [{"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"}],
        },
    )
    assert raw_get(url(server, bucket))[0] == 200


def test_object_acl_by_version(server, s3, make_bucket):
    bucket = make_bucket(versioning="Enabled")
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    resp = s3.put_object_acl(Bucket=bucket, Key="k", VersionId=v1, ACL="public-read")
    assert resp["ResponseMetadata"]["HTTPHeaders"].get("x-amz-version-id") == v1
    assert ("Group", ALL_USERS, "READ") in grants_of(s3.get_object_acl(Bucket=bucket, Key="k", VersionId=v1))
    assert grants_of(s3.get_object_acl(Bucket=bucket, Key="k", VersionId=v2)) == {owner_grant(server)}
    assert raw_get(url(server, bucket, f"k?versionId={v1}"))[2] == b"one"
    assert raw_get(url(server, bucket, "k"))[0] == 403


def test_multipart_copy_and_post_take_canned_acls(server, s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ACL="public-read")
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"parts")
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert raw_get(url(server, bucket, "mp"))[2] == b"parts"
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "mp"}, ACL="public-read")
    assert raw_get(url(server, bucket, "copy"))[2] == b"parts"
    s3.copy_object(Bucket=bucket, Key="copy2", CopySource={"Bucket": bucket, "Key": "mp"})
    assert raw_get(url(server, bucket, "copy2"))[0] == 403
    post = s3.generate_presigned_post(
        bucket, "posted", Fields={"acl": "public-read"}, Conditions=[{"acl": "public-read"}]
    )
    import requests  # botocore depends on urllib3 only; requests is in the test environment

    resp = requests.post(post["url"], data=post["fields"], files={"file": ("f", b"posted body")}, timeout=30)
    assert resp.status_code == 204, resp.text
    assert raw_get(url(server, bucket, "posted"))[2] == b"posted body"


def test_invalid_acls_are_rejected(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with s3_error("InvalidArgument", 400):
        s3.put_object(Bucket=bucket, Key="k2", Body=b"x", ACL="world-writable")
    with s3_error("InvalidArgument", 400):
        s3.put_bucket_acl(Bucket=bucket, ACL="nope")
    with s3_error("InvalidArgument", 400):
        s3.create_bucket(Bucket=f"acl-{uuid.uuid4().hex[:20]}", ACL="nope")
    with s3_error("InvalidArgument", 400):
        s3.put_object_acl(Bucket=bucket, Key="k", GrantRead='id="0123456789abcdef"')
    with s3_error("UnresolvableGrantByEmailAddress", 400):
        s3.put_object_acl(Bucket=bucket, Key="k", GrantRead='emailAddress="nobody@example.com"')
    with s3_error("InvalidArgument", 400):
        s3.put_bucket_acl(Bucket=bucket, GrantRead='uri="http://acs.amazonaws.com/groups/global/Nobody"')
    # the object was not changed by the failed calls
    assert grants_of(s3.get_object_acl(Bucket=bucket, Key="k")) == {owner_grant(server)}
    assert s3.head_object(Bucket=bucket, Key="k")["ContentLength"] == 1


@pytest.mark.parametrize(
    "body",
    [
        b"<AccessControlPolicy><AccessControlList>",
        b"<NotAnAcl/>",
        b"<AccessControlPolicy><Owner><ID>x</ID></Owner></AccessControlPolicy>",
        b'<AccessControlPolicy><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>EVERYTHING</Permission></Grant></AccessControlList></AccessControlPolicy>',
    ],
)
def test_malformed_acl_xml(server, s3, bucket, body):
    presigned = s3.generate_presigned_url("put_bucket_acl", Params={"Bucket": bucket})
    status, _, resp = raw_get(presigned, method="PUT", data=body)
    assert status == 400
    assert parse_error_xml(resp)["Code"] == "MalformedACLError"


def test_acl_of_missing_things(s3, bucket, bucket_name):
    with s3_error("NoSuchBucket", 404):
        s3.get_bucket_acl(Bucket=bucket_name)
    with s3_error("NoSuchKey", 404):
        s3.get_object_acl(Bucket=bucket, Key="absent")
    with s3_error("NoSuchKey", 404):
        s3.put_object_acl(Bucket=bucket, Key="absent", ACL="public-read")

"""domain.acl: canned ACLs, grant headers, AccessControlPolicy XML, evaluation."""

from __future__ import annotations

import pytest

from api.errors import S3Error
from api.s3.xml import parse
from domain.acl import (
    ALL_USERS,
    AUTHENTICATED_USERS,
    LOG_DELIVERY,
    acl_allows,
    acl_permission,
    acl_xml,
    canned_acl,
    grants_from_headers,
    parse_acl_xml,
    private_acl,
)
from domain.errors import DomainError

USERS = {"id-alice": "alice", "id-bob": "bob"}
resolve = USERS.get


def perms(acl):
    return {(g.get("id") or g.get("uri"), g["permission"]) for g in acl["grants"]}


def test_canned_acls():
    assert perms(canned_acl("private", "id-alice", "alice")) == {("id-alice", "FULL_CONTROL")}
    assert perms(canned_acl("public-read-write", "id-alice", "alice")) == {
        ("id-alice", "FULL_CONTROL"), (ALL_USERS, "READ"), (ALL_USERS, "WRITE"),
    }  # fmt: skip
    assert (AUTHENTICATED_USERS, "READ") in perms(canned_acl("authenticated-read", "id-alice", "alice"))
    bo = canned_acl("bucket-owner-read", "id-bob", "bob", bucket_owner_id="id-alice", bucket_owner_name="alice")
    assert perms(bo) == {("id-bob", "FULL_CONTROL"), ("id-alice", "READ")}
    same = canned_acl("bucket-owner-full-control", "id-alice", "alice", bucket_owner_id="id-alice")
    assert perms(same) == {("id-alice", "FULL_CONTROL")}
    assert perms(canned_acl("log-delivery-write", "id-alice", "alice")) >= {
        (LOG_DELIVERY, "WRITE"),
        (LOG_DELIVERY, "READ_ACP"),
    }
    with pytest.raises(DomainError) as e:
        canned_acl("everyone", "id-alice", "alice")
    assert e.value.code == "InvalidArgument"


def test_grant_headers():
    grants = grants_from_headers(
        {"x-amz-grant-read": f'uri="{ALL_USERS}", id="id-bob"', "x-amz-grant-full-control": "id=id-alice"}, resolve
    )
    assert [(g.get("id") or g.get("uri"), g["permission"]) for g in grants] == [
        (ALL_USERS, "READ"), ("id-bob", "READ"), ("id-alice", "FULL_CONTROL"),
    ]  # fmt: skip
    assert grants[1]["name"] == "bob"
    for bad, code in (
        ('id="nobody"', "InvalidArgument"),
        ('emailAddress="a@b.c"', "UnresolvableGrantByEmailAddress"),
        ('uri="http://example.com/group"', "InvalidArgument"),
        ("garbage", "InvalidArgument"),
    ):
        with pytest.raises(DomainError) as e:
            grants_from_headers({"x-amz-grant-write": bad}, resolve)
        assert e.value.code == code


def test_xml_round_trip():
    acl = canned_acl("public-read", "id-alice", "alice")
    acl["grants"].append({"type": "CanonicalUser", "id": "id-bob", "name": "bob", "permission": "WRITE_ACP"})
    owner, grants = parse_acl_xml(parse(acl_xml(acl)), resolve)
    assert owner == "id-alice"
    # groups are listed first (RGW's order, which s3-tests rely on)
    assert [g["type"] for g in grants] == ["Group", "CanonicalUser", "CanonicalUser"]
    assert sorted(map(str, grants)) == sorted(map(str, acl["grants"]))


@pytest.mark.parametrize(
    "body",
    [b"", b"<x", b"<Other/>", b"<AccessControlPolicy/>",
     b"<AccessControlPolicy><AccessControlList><Grant><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>"],
)  # fmt: skip
def test_malformed_xml(body):
    with pytest.raises((DomainError, S3Error)) as e:
        parse_acl_xml(parse(body, error="MalformedACLError"), resolve)
    assert e.value.code == "MalformedACLError"


def test_acl_allows():
    acl = canned_acl("public-read", "id-alice", "alice")
    assert acl_allows(acl, principal_canonical_id=None, authenticated=False, permission="READ")
    assert not acl_allows(acl, principal_canonical_id=None, authenticated=False, permission="WRITE")
    assert acl_allows(acl, principal_canonical_id="id-alice", authenticated=True, permission="WRITE_ACP")
    auth = canned_acl("authenticated-read", "id-alice", "alice")
    assert not acl_allows(auth, principal_canonical_id=None, authenticated=False, permission="READ")
    assert acl_allows(auth, principal_canonical_id="id-bob", authenticated=True, permission="READ")
    assert not acl_allows(
        private_acl("id-alice", "alice"), principal_canonical_id="id-bob", authenticated=True, permission="READ"
    )
    assert not acl_allows(None, principal_canonical_id="id-bob", authenticated=True, permission="READ")


def test_action_permissions():
    assert acl_permission("s3:GetObject") == ("object", "READ")
    assert acl_permission("s3:PutObject") == ("bucket", "WRITE")
    assert acl_permission("s3:ListBucket") == ("bucket", "READ")
    assert acl_permission("s3:PutBucketAcl") == ("bucket", "WRITE_ACP")
    assert acl_permission("s3:GetObjectVersionAcl") == ("object", "READ_ACP")
    assert acl_permission("s3:PutBucketPolicy") is None

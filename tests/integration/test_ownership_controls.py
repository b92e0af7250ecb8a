"""Bucket ownership controls through boto3: Put/Get/DeleteBucketOwnershipControls,
x-amz-object-ownership on CreateBucket, and what each mode does to objects another user
writes into the bucket (ObjectWriter, BucketOwnerPreferred, BucketOwnerEnforced)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import unique_bucket_name
from tests.integration.test_sts import client, error, make_user

CREATE_OWN = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:CreateBucket", "s3:ListAllMyBuckets"],
            "Resource": ["arn:aws:s3:::*"],
        }
    ],
}


def rules(mode: str) -> dict:
    return {"Rules": [{"ObjectOwnership": mode}]}


def mode_of(s3, bucket: str) -> str:
    return s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"][0]["ObjectOwnership"]


def open_to_all(s3, bucket: str) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            }
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


@pytest.fixture
def writer(server):
    """Another user, (its name, its client); it reaches the bucket through its policy."""
    name, key, secret = make_user(server, CREATE_OWN)
    return name, client(server, "s3", key, secret)


def owner_of(s3, bucket: str, key: str) -> str:
    return s3.get_object_acl(Bucket=bucket, Key=key)["Owner"]["DisplayName"]


def test_round_trip_and_delete(s3, bucket):
    with pytest.raises(Exception) as exc:
        s3.get_bucket_ownership_controls(Bucket=bucket)
    assert error(exc) == ("OwnershipControlsNotFoundError", 404)
    for mode in ("ObjectWriter", "BucketOwnerPreferred", "BucketOwnerEnforced"):
        s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=rules(mode))
        assert mode_of(s3, bucket) == mode
    s3.delete_bucket_ownership_controls(Bucket=bucket)
    with pytest.raises(Exception) as exc:
        s3.get_bucket_ownership_controls(Bucket=bucket)
    assert error(exc) == ("OwnershipControlsNotFoundError", 404)
    s3.delete_bucket_ownership_controls(Bucket=bucket)  # again: nothing to delete is fine


def test_bad_configuration_is_malformed(s3, bucket):
    with pytest.raises(Exception) as exc:
        s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=rules("Nobody"))
    assert error(exc) == ("MalformedXML", 400)


def test_create_bucket_with_object_ownership(server, s3, make_bucket):
    name = unique_bucket_name()
    s3.create_bucket(Bucket=name, ObjectOwnership="BucketOwnerEnforced")
    try:
        assert mode_of(s3, name) == "BucketOwnerEnforced"
    finally:
        s3.delete_bucket(Bucket=name)
    with pytest.raises(Exception) as exc:
        s3.create_bucket(Bucket=unique_bucket_name(), ObjectOwnership="BucketOwnerEnforced", ACL="public-read")
    assert error(exc) == ("InvalidBucketAclWithObjectOwnership", 400)


def test_enforced_refused_while_the_bucket_acl_is_public(s3, bucket):
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    with pytest.raises(Exception) as exc:
        s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=rules("BucketOwnerEnforced"))
    assert error(exc) == ("InvalidBucketAclWithObjectOwnership", 400)
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=rules("BucketOwnerEnforced"))


def test_enforced_disables_acls(server, s3, bucket, writer):
    root = server.access_key
    _name, other = writer
    s3.put_object(Bucket=bucket, Key="public", Body=b"x", ACL="public-read")
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=rules("BucketOwnerEnforced"))
    open_to_all(s3, bucket)
    other.put_object(Bucket=bucket, Key="plain", Body=b"x")
    other.put_object(Bucket=bucket, Key="bofc", Body=b"x", ACL="bucket-owner-full-control")
    assert owner_of(other, bucket, "plain") == root and owner_of(other, bucket, "bofc") == root
    for call in (
        lambda: other.put_object(Bucket=bucket, Key="p", Body=b"x", ACL="private"),
        lambda: other.create_multipart_upload(Bucket=bucket, Key="m", ACL="public-read"),
        lambda: other.copy_object(Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "plain"}, ACL="private"),
        lambda: s3.put_bucket_acl(Bucket=bucket, ACL="private"),
        lambda: s3.put_object_acl(Bucket=bucket, Key="plain", ACL="private"),
    ):
        with pytest.raises(Exception) as exc:
            call()
        assert error(exc) == ("AccessControlListNotSupported", 400)
    upload = other.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    assert other.list_parts(Bucket=bucket, Key="m", UploadId=upload)["Owner"]["DisplayName"] == root
    listed = other.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Owner"]["DisplayName"], u["Initiator"]["DisplayName"]) for u in listed] == [(root, _name)]
    other.abort_multipart_upload(Bucket=bucket, Key="m", UploadId=upload)
    # the object made public-read before no longer opens to anonymous callers
    s3.delete_bucket_policy(Bucket=bucket)
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as http:
        urllib.request.urlopen(f"{server.endpoint}/{bucket}/public")
    assert http.value.code == 403


def test_preferred_and_object_writer(server, s3, make_bucket, writer):
    root = server.access_key
    name, other = writer
    for mode, bofc_owner in (("BucketOwnerPreferred", root), ("ObjectWriter", name)):
        bucket = make_bucket()
        s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=rules(mode))
        open_to_all(s3, bucket)
        other.put_object(Bucket=bucket, Key="plain", Body=b"x")
        other.put_object(Bucket=bucket, Key="bofc", Body=b"x", ACL="bucket-owner-full-control")
        other.put_object(Bucket=bucket, Key="private", Body=b"x", ACL="private")
        assert owner_of(other, bucket, "plain") == name
        assert owner_of(other, bucket, "bofc") == bofc_owner
        assert owner_of(other, bucket, "private") == name
        # An upload's ListParts shows as Owner whose the object will be; the Initiator stays.
        for acl, expected in (("bucket-owner-full-control", bofc_owner), ("private", name)):
            upload = other.create_multipart_upload(Bucket=bucket, Key=f"mpu-{acl}", ACL=acl)
            parts = other.list_parts(Bucket=bucket, Key=f"mpu-{acl}", UploadId=upload["UploadId"])
            assert (parts["Owner"]["DisplayName"], parts["Initiator"]["DisplayName"]) == (expected, name)
            listed = other.list_multipart_uploads(Bucket=bucket, Prefix=f"mpu-{acl}")["Uploads"]
            assert [(u["Owner"]["DisplayName"], u["Initiator"]["DisplayName"]) for u in listed] == [(expected, name)]
        other.put_object_acl(Bucket=bucket, Key="plain", ACL="private")
        other.put_bucket_acl(Bucket=bucket, ACL="private")

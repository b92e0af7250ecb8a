"""CopyObject and UploadPartCopy read their source: a user may copy only what it may read
(s3:GetObject on the source by its policies, the source bucket's policy or the object's ACL)."""

from __future__ import annotations

import json

import pytest

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


@pytest.fixture
def source(server, make_bucket):
    """Root's bucket with public/foo (readable by anyone through the bucket policy) and private/foo."""
    bucket = make_bucket()
    root = server.client()
    for key in ("public/foo", "private/foo"):
        root.put_object(Bucket=bucket, Key=key, Body=key.encode())
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/public/*",
            }
        ],
    }
    root.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    return bucket


@pytest.fixture
def user_s3(server, make_bucket):
    """A user that may only create buckets, and a bucket of its own: (client, its bucket)."""
    _name, key, secret = make_user(server, CREATE_OWN)
    s3 = client(server, "s3", key, secret)
    return s3, make_bucket(client=s3)


def test_copy_object_needs_read_access_to_the_source(source, user_s3):
    s3, own = user_s3
    s3.copy_object(Bucket=own, Key="copy", CopySource={"Bucket": source, "Key": "public/foo"})
    assert s3.get_object(Bucket=own, Key="copy")["Body"].read() == b"public/foo"
    with pytest.raises(Exception) as exc:
        s3.copy_object(Bucket=own, Key="stolen", CopySource={"Bucket": source, "Key": "private/foo"})
    assert error(exc) == ("AccessDenied", 403)
    # a key the user may not read is denied whether it exists or not (nothing is told)
    with pytest.raises(Exception) as exc:
        s3.copy_object(Bucket=own, Key="stolen", CopySource={"Bucket": source, "Key": "private/none"})
    assert error(exc) == ("AccessDenied", 403)
    with pytest.raises(Exception) as exc:
        s3.head_object(Bucket=own, Key="stolen")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_upload_part_copy_needs_read_access_to_the_source(source, user_s3):
    s3, own = user_s3
    upload = s3.create_multipart_upload(Bucket=own, Key="mp")["UploadId"]
    part = s3.upload_part_copy(
        Bucket=own,
        Key="mp",
        PartNumber=1,
        UploadId=upload,
        CopySource={"Bucket": source, "Key": "public/foo"},
    )
    s3.complete_multipart_upload(
        Bucket=own, Key="mp", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]},
    )  # fmt: skip
    assert s3.get_object(Bucket=own, Key="mp")["Body"].read() == b"public/foo"
    upload = s3.create_multipart_upload(Bucket=own, Key="mp2")["UploadId"]
    with pytest.raises(Exception) as exc:
        s3.upload_part_copy(
            Bucket=own,
            Key="mp2",
            PartNumber=1,
            UploadId=upload,
            CopySource={"Bucket": source, "Key": "private/foo"},
        )
    assert error(exc) == ("AccessDenied", 403)
    assert s3.list_parts(Bucket=own, Key="mp2", UploadId=upload).get("Parts", []) == []
    s3.abort_multipart_upload(Bucket=own, Key="mp2", UploadId=upload)


def test_object_acl_opens_a_source_version(server, make_bucket, user_s3):
    """A public-read ACL on one version of the source lets the user copy that version only."""
    s3, own = user_s3
    bucket = make_bucket(versioning="Enabled")
    root = server.client()
    v1 = root.put_object(Bucket=bucket, Key="k", Body=b"one", ACL="public-read")["VersionId"]
    v2 = root.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    s3.copy_object(Bucket=own, Key="c", CopySource={"Bucket": bucket, "Key": "k", "VersionId": v1})
    assert s3.get_object(Bucket=own, Key="c")["Body"].read() == b"one"
    for src in ({"Bucket": bucket, "Key": "k", "VersionId": v2}, {"Bucket": bucket, "Key": "k"}):
        with pytest.raises(Exception) as exc:
            s3.copy_object(Bucket=own, Key="c2", CopySource=src)
        assert error(exc) == ("AccessDenied", 403)


def test_root_copies_anything(server, source, make_bucket):
    root = server.client()
    dest = make_bucket()
    root.copy_object(Bucket=dest, Key="c", CopySource={"Bucket": source, "Key": "private/foo"})
    assert root.get_object(Bucket=dest, Key="c")["Body"].read() == b"private/foo"

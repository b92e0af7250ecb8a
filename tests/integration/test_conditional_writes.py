"""Conditional writes and deletes, evaluated atomically with the append."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import ClientError

from tests.helpers.s3 import s3_error


def test_put_if_none_match_star_admits_exactly_one_concurrent_writer(s3, bucket):
    def attempt(i: int) -> bool:
        try:
            s3.put_object(Bucket=bucket, Key="once", Body=str(i).encode(), IfNoneMatch="*")
            return True
        except ClientError as err:
            assert err.response["Error"]["Code"] == "PreconditionFailed"
            return False

    with ThreadPoolExecutor(8) as pool:
        wins = list(pool.map(attempt, range(16)))
    assert wins.count(True) == 1
    winner = wins.index(True)
    assert s3.get_object(Bucket=bucket, Key="once")["Body"].read() == str(winner).encode()


def test_put_if_none_match_etag(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"a")["ETag"]
    with s3_error("PreconditionFailed", 412):
        s3.put_object(Bucket=bucket, Key="k", Body=b"b", IfNoneMatch=etag)
    s3.put_object(Bucket=bucket, Key="k", Body=b"c", IfNoneMatch='"00000000000000000000000000000000"')
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"c"


def test_put_if_match(s3, bucket):
    with s3_error("NoSuchKey", 404):
        s3.put_object(Bucket=bucket, Key="k", Body=b"a", IfMatch='"abc"')
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"a")["ETag"]
    with s3_error("PreconditionFailed", 412):
        s3.put_object(Bucket=bucket, Key="k", Body=b"b", IfMatch='"0000"')
    s3.put_object(Bucket=bucket, Key="k", Body=b"c", IfMatch=etag)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"c"


def test_complete_multipart_if_none_match(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"old")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="k")
    part = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload["UploadId"], PartNumber=1, Body=b"new")
    with s3_error("PreconditionFailed", 412):
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="k",
            UploadId=upload["UploadId"],
            IfNoneMatch="*",
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        )
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"old"


def test_delete_if_match_and_size(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"abc")["ETag"]
    with s3_error("PreconditionFailed", 412):
        s3.delete_object(Bucket=bucket, Key="k", IfMatch='"bad"')
    with s3_error("PreconditionFailed", 412):
        s3.delete_object(Bucket=bucket, Key="k", IfMatchSize=99)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"abc"
    s3.delete_object(Bucket=bucket, Key="k", IfMatch=etag, IfMatchSize=3)
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="k")
    # A missing target is not a failed precondition.
    assert s3.delete_object(Bucket=bucket, Key="k", IfMatch='"bad"')["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_delete_objects_with_etag_conditions(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="a", Body=b"1")["ETag"]
    s3.put_object(Bucket=bucket, Key="b", Body=b"2")
    resp = s3.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": "a", "ETag": etag}, {"Key": "b", "ETag": '"bad"'}]},
    )
    assert [d["Key"] for d in resp["Deleted"]] == ["a"]
    assert [(e["Key"], e["Code"]) for e in resp["Errors"]] == [("b", "PreconditionFailed")]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["b"]


def test_conditional_delete_in_versioned_bucket_checks_newest_object_version(s3, make_bucket):
    bucket = make_bucket(versioning="Enabled")
    # No object version at all: nothing to fail.
    assert s3.delete_object(Bucket=bucket, Key="k", IfMatch='"bad"')["ResponseMetadata"]["HTTPStatusCode"] == 204
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"abc")["ETag"]
    with s3_error("PreconditionFailed", 412):
        s3.delete_object(Bucket=bucket, Key="k", IfMatchSize=7)
    assert s3.delete_object(Bucket=bucket, Key="k", IfMatch=etag)["DeleteMarker"]
    # Under the delete marker the object version is still what conditions are checked against.
    with s3_error("PreconditionFailed", 412):
        s3.delete_object(Bucket=bucket, Key="k", IfMatch='"bad"')
    versions = s3.list_object_versions(Bucket=bucket)
    # (The first delete, of a key with no versions, still left a delete marker, as S3 does.)
    assert len(versions["Versions"]) == 1 and len(versions["DeleteMarkers"]) == 2

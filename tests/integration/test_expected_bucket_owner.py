"""x-amz-expected-bucket-owner: a request naming another owner is refused."""

from __future__ import annotations

import hashlib

import pytest
from botocore.exceptions import ClientError


def test_expected_bucket_owner(s3, bucket):
    owner = hashlib.sha256(b"chronicle-user:" + s3._request_signer._credentials.access_key.encode()).hexdigest()
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ExpectedBucketOwner=owner)
    assert s3.list_objects(Bucket=bucket, ExpectedBucketOwner=owner)["Contents"][0]["Key"] == "k"
    for call in (
        lambda: s3.list_objects(Bucket=bucket, ExpectedBucketOwner=owner + "foo"),
        lambda: s3.put_object(Bucket=bucket, Key="k2", Body=b"y", ExpectedBucketOwner="111111111111"),
    ):
        with pytest.raises(ClientError) as info:
            call()
        assert (
            info.value.response["Error"]["Code"],
            info.value.response["ResponseMetadata"]["HTTPStatusCode"],
        ) == ("AccessDenied", 403)

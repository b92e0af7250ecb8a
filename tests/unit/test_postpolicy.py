"""POST policy verification: AWS's documented form, boto3 generate_presigned_post, violations."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.config import Config

from api.auth.postpolicy import check_content_length, verify_post_policy
from api.auth.signing import derive_signing_key, hmac_hex
from api.errors import S3Error

AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
lookup = {AK: SK}.get

# "Example: Browser-Based Upload using HTTP POST (Using AWS Signature Version 4)".
DOC_POLICY = (
    "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6"
    "ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbC"
    "I6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5z"
    "My5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLC"
    "AiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRl"
    "LWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7In"
    "gtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0K"
    "ICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMD"
    "AwWiIgfQ0KICBdDQp9"
)
DOC_SIGNATURE = "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e"
DOC_NOW = datetime(2015, 12, 29, 0, 0, tzinfo=UTC)


def doc_fields() -> dict[str, str]:
    return {
        "key": "user/user1/${filename}",
        "acl": "public-read",
        "success_action_redirect": "http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html",
        "Content-Type": "image/jpeg",
        "x-amz-meta-uuid": "14365123651274",
        "x-amz-server-side-encryption": "AES256",
        "X-Amz-Credential": "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request",
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Date": "20151229T000000Z",
        "x-amz-meta-tag": "",
        "Policy": DOC_POLICY,
        "X-Amz-Signature": DOC_SIGNATURE,
    }


def verify_doc(fields: dict[str, str], **kw: object) -> object:
    args: dict[str, object] = {
        "bucket": "sigv4examplebucket", "key": "user/user1/photo.jpg", "content_length": 1000,
        "lookup_secret": lookup, "now": DOC_NOW,
    }  # fmt: skip
    args.update(kw)
    return verify_post_policy(fields, **args)  # type: ignore[arg-type]


def test_doc_example() -> None:
    ctx = verify_doc(doc_fields())
    assert ctx.access_key == AK and ctx.mode == "post"  # type: ignore[attr-defined]
    assert ctx.content_length_range is None  # type: ignore[attr-defined]
    assert ctx.scope == "20151229/us-east-1/s3/aws4_request"  # type: ignore[attr-defined]


def test_doc_example_violations() -> None:
    cases = [
        ({"Content-Type": "text/html"}, {}, "Policy Condition failed"),
        ({"acl": "private"}, {}, 'Policy Condition failed: ["eq", "$acl", "public-read"]'),
        ({}, {"key": "user/user2/photo.jpg"}, '["starts-with", "$key", "user/user1/"]'),
        ({}, {"bucket": "otherbucket"}, '["eq", "$bucket", "sigv4examplebucket"]'),
        ({"x-amz-meta-extra": "1"}, {}, "Extra input fields: x-amz-meta-extra"),
        ({}, {"now": datetime(2015, 12, 30, 12, 0, 1, tzinfo=UTC)}, "Policy expired."),
    ]
    for field_changes, kw, fragment in cases:
        with pytest.raises(S3Error) as e:
            verify_doc({**doc_fields(), **field_changes}, **kw)
        assert e.value.code == "AccessDenied", fragment
        assert e.value.message.startswith("Invalid according to Policy: ")
        assert fragment in e.value.message
    # Fields a condition names but the form lacks fail their condition.
    fields = doc_fields()
    del fields["x-amz-meta-uuid"]
    with pytest.raises(S3Error) as e:
        verify_doc(fields)
    assert '"$x-amz-meta-uuid"' in e.value.message


def test_doc_example_ignored_fields() -> None:
    fields = {**doc_fields(), "x-ignore-anything": "1", "file": "..."}
    verify_doc(fields)


def test_doc_example_bad_signature() -> None:
    with pytest.raises(S3Error) as e:
        verify_doc({**doc_fields(), "X-Amz-Signature": "0" * 64})
    assert e.value.code == "SignatureDoesNotMatch"
    with pytest.raises(S3Error) as e:
        verify_doc(doc_fields(), lookup_secret={AK: "other"}.get)
    assert e.value.code == "SignatureDoesNotMatch"
    with pytest.raises(S3Error) as e:
        verify_doc(doc_fields(), lookup_secret={}.get)
    assert e.value.code == "InvalidAccessKeyId"


def boto3_post(
    key: str = "uploads/${filename}",
    fields: dict[str, str] | None = None,
    conditions: list[object] | None = None,
    expires: int = 3600,
) -> dict[str, str]:
    client = boto3.client(
        "s3", endpoint_url="http://127.0.0.1:9000", aws_access_key_id=AK,
        aws_secret_access_key=SK, region_name="us-east-1",
        config=Config(signature_version="s3v4"),
    )  # fmt: skip
    post = client.generate_presigned_post("bucket", key, Fields=fields, Conditions=conditions, ExpiresIn=expires)
    return dict(post["fields"])


def verify(fields: dict[str, str], **kw: object) -> object:
    args: dict[str, object] = {
        "bucket": "bucket", "key": "uploads/a.png", "content_length": None, "lookup_secret": lookup,
    }  # fmt: skip
    args.update(kw)
    return verify_post_policy(fields, **args)  # type: ignore[arg-type]


def test_boto3_presigned_post() -> None:
    fields = boto3_post(
        fields={"acl": "public-read", "Content-Type": "image/png"},
        conditions=[
            {"acl": "public-read"},
            ["starts-with", "$Content-Type", "image/"],
            ["content-length-range", 10, 100],
        ],
    )
    ctx = verify(fields)
    assert ctx.access_key == AK and ctx.content_length_range == (10, 100)  # type: ignore[attr-defined]
    check_content_length(ctx.content_length_range, 10)  # type: ignore[attr-defined]
    check_content_length(ctx.content_length_range, 100)  # type: ignore[attr-defined]
    with pytest.raises(S3Error) as e:
        check_content_length(ctx.content_length_range, 101)  # type: ignore[attr-defined]
    assert e.value.code == "EntityTooLarge" and e.value.extra["MaxSizeAllowed"] == "100"
    with pytest.raises(S3Error) as e:
        verify(fields, content_length=9)
    assert e.value.code == "EntityTooSmall"
    verify(fields, content_length=50)
    with pytest.raises(S3Error) as e:
        verify({**fields, "Content-Type": "text/plain"})
    assert e.value.code == "AccessDenied"
    with pytest.raises(S3Error) as e:
        verify(fields, key="elsewhere/a.png")
    assert e.value.code == "AccessDenied"


def test_boto3_presigned_post_exact_key_and_token() -> None:
    client = boto3.client(
        "s3", endpoint_url="http://127.0.0.1:9000", aws_access_key_id=AK,
        aws_secret_access_key=SK, aws_session_token="TOKEN", region_name="us-east-1",
        config=Config(signature_version="s3v4"),
    )  # fmt: skip
    fields = dict(client.generate_presigned_post("bucket", "exact.txt")["fields"])
    ctx = verify(fields, key="exact.txt")
    assert ctx.security_token == "TOKEN"  # type: ignore[attr-defined]
    with pytest.raises(S3Error):
        verify(fields, key="exact.txt2")


def test_boto3_presigned_post_expired() -> None:
    fields = boto3_post(expires=60)
    verify(fields, now=datetime.now(UTC) + timedelta(seconds=30))
    with pytest.raises(S3Error) as e:
        verify(fields, now=datetime.now(UTC) + timedelta(seconds=120))
    assert e.value.message == "Invalid according to Policy: Policy expired."


def test_field_names_case_insensitive() -> None:
    fields = {k.upper(): v for k, v in boto3_post().items()}
    verify(fields)


def signed_fields(policy: dict[str, object], **extra: str) -> dict[str, str]:
    """A form for an arbitrary policy document, signed with the test key."""
    date = datetime.now(UTC).strftime("%Y%m%d")
    credential = f"{AK}/{date}/us-east-1/s3/aws4_request"
    policy_b64 = base64.b64encode(json.dumps(policy).encode()).decode()
    key = derive_signing_key(SK, date, "us-east-1", "s3")
    return {
        "key": "uploads/a.png",
        "x-amz-algorithm": "AWS4-HMAC-SHA256",
        "x-amz-credential": credential,
        "x-amz-date": f"{date}T000000Z",
        "policy": policy_b64,
        "x-amz-signature": hmac_hex(key, policy_b64),
        **extra,
    }


def base_conditions() -> list[object]:
    return [
        {"bucket": "bucket"},
        ["starts-with", "$key", ""],
        ["starts-with", "$x-amz-algorithm", ""],
        ["starts-with", "$x-amz-credential", ""],
        ["starts-with", "$x-amz-date", ""],
    ]


def future() -> str:
    return (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@pytest.mark.parametrize(
    "policy",
    [
        {"conditions": []},  # no expiration
        {"expiration": "tomorrow", "conditions": []},
        {"expiration": "FUTURE"},  # no conditions
        {"expiration": "FUTURE", "conditions": [{"a": "1", "b": "2"}]},
        {"expiration": "FUTURE", "conditions": [["matches", "$key", "x"]]},
        {"expiration": "FUTURE", "conditions": [["eq", "key", "x"]]},
        {"expiration": "FUTURE", "conditions": [["content-length-range", 10, 1]]},
        {"expiration": "FUTURE", "conditions": [["content-length-range", "a", 1]]},
        {"expiration": "FUTURE", "conditions": ["string"]},
    ],
)
def test_invalid_policy_documents(policy: dict[str, object]) -> None:
    if policy.get("expiration") == "FUTURE":
        policy["expiration"] = future()
    with pytest.raises(S3Error) as e:
        verify(signed_fields(policy))
    assert e.value.code == "InvalidPolicyDocument"
    assert e.value.message.startswith("Invalid Policy: ")


def test_policy_not_json() -> None:
    fields = signed_fields({"expiration": future(), "conditions": []})
    date = fields["x-amz-credential"].split("/")[1]
    bogus = base64.b64encode(b"{not json").decode()
    fields["policy"] = bogus
    fields["x-amz-signature"] = hmac_hex(derive_signing_key(SK, date, "us-east-1", "s3"), bogus)
    with pytest.raises(S3Error) as e:
        verify(fields)
    assert e.value.code == "InvalidPolicyDocument"


def test_condition_operators() -> None:
    conditions = [
        *base_conditions(),
        ["eq", "$x-amz-meta-a", "exact"],
        ["starts-with", "$Content-Type", "image/"],
        ["content-length-range", "0", "5"],
        {"success_action_status": "201"},
    ]
    fields = signed_fields(
        {"expiration": future(), "conditions": conditions},
        **{
            "x-amz-meta-a": "exact",
            "content-type": "image/png,image/gif",
            "success_action_status": "201",
        },
    )
    assert verify(fields).content_length_range == (0, 5)  # type: ignore[attr-defined]
    with pytest.raises(S3Error):
        verify({**fields, "content-type": "image/png,text/html"})
    with pytest.raises(S3Error):
        verify({**fields, "x-amz-meta-a": "exactly"})
    # starts-with "" accepts anything, and also covers the field.
    verify({**fields, "key": "anything/at/all"}, key="anything/at/all")


def test_missing_signature_fields_and_anonymous() -> None:
    ctx = verify({"key": "k", "acl": "public-read"})
    assert ctx.access_key is None and ctx.mode == "post"  # type: ignore[attr-defined]
    fields = boto3_post()
    for name in ("x-amz-credential", "x-amz-signature", "x-amz-date", "x-amz-algorithm"):
        broken = {k: v for k, v in fields.items() if k != name}
        with pytest.raises(S3Error) as e:
            verify(broken)
        assert e.value.code == "InvalidArgument" and name in e.value.message
    with pytest.raises(S3Error):
        verify({k: v for k, v in fields.items() if k != "policy"})
    with pytest.raises(S3Error) as e:  # SigV2 POST
        verify({"key": "k", "AWSAccessKeyId": AK, "policy": "e30=", "signature": "x"})
    assert e.value.code == "InvalidRequest"
    with pytest.raises(S3Error) as e:
        verify({**fields, "x-amz-credential": "bad"})
    assert e.value.code == "InvalidArgument"

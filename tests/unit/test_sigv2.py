"""SigV2 verification: AWS documentation vectors, botocore's HmacV1 signers, boto3, tampering."""

from __future__ import annotations

import base64
import hmac
import json
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import HmacV1Auth, HmacV1QueryAuth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.config import Config
from botocore.credentials import Credentials

from api.auth.postpolicy import check_policy
from api.auth.signature import authenticate
from api.auth.signing import UNSIGNED_PAYLOAD
from api.auth.sigv2 import canonical_resource, query_items, sign, verify_post_signature
from api.errors import S3Error

AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
lookup = {AK: SK, "OTHER": "othersecret"}.get


def code(excinfo: pytest.ExceptionInfo[S3Error]) -> str:
    return excinfo.value.code


# ---- "Signing and Authenticating REST Requests" examples ----------------------------------


def test_doc_object_get() -> None:
    headers = {
        "host": "awsexamplebucket1.us-west-1.s3.amazonaws.com",
        "date": "Tue, 27 Mar 2007 19:36:42 +0000",
        "authorization": f"AWS {AK}:qgk2+6Sv9/oM7G3qLEjTH1a1l1g=",
    }
    now = datetime(2007, 3, 27, 19, 40, tzinfo=UTC)
    ctx = authenticate("GET", "/photos/puppy.jpg", "", headers, lookup, now=now)
    assert ctx.access_key == AK and ctx.mode == "header-v2"
    assert ctx.payload_hash == UNSIGNED_PAYLOAD


def test_doc_string_to_sign_shapes() -> None:
    items = query_items("acl&versionId=3%2F4&prefix=x&response-content-type=text%2Fplain")
    assert canonical_resource("/b/k", items, frozenset({"acl", "versionId"})) == ("/b/k?acl&versionId=3/4")
    assert canonical_resource("/b/k", query_items("prefix=a&max-keys=2"), frozenset()) == "/b/k"
    assert sign("secret", "x") == base64.b64encode(hmac.digest(b"secret", b"x", "sha1")).decode()


# ---- botocore signers ----------------------------------------------------------------------


def wire(req: AWSRequest) -> tuple[str, str, str, dict[str, str]]:
    """What the server sees: header values as ASGI gives them (latin-1 text of UTF-8 bytes)."""
    parts = urlsplit(req.url)
    headers = {}
    for k, v in req.headers.items():
        raw = v if isinstance(v, bytes) else str(v).encode("utf-8")
        headers[k.lower()] = raw.decode("latin-1")
    headers.setdefault("host", parts.netloc)
    return req.method, parts.path, parts.query, headers


def v1_signed(
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    auth_path: str | None = None,
    secret: str = SK,
) -> tuple[str, str, str, dict[str, str]]:
    req = AWSRequest(method=method, url=url, headers=headers or {}, auth_path=auth_path)
    HmacV1Auth(Credentials(AK, secret)).add_auth(req)
    return wire(req)


def v1_presigned(
    method: str, url: str, headers: dict[str, str] | None = None, expires: int = 300
) -> tuple[str, str, str, dict[str, str]]:
    req = AWSRequest(method=method, url=url, headers=headers or {})
    HmacV1QueryAuth(Credentials(AK, SK), expires=expires).add_auth(req)
    method, path, query, _ = wire(req)
    return method, path, query, {"host": urlsplit(url).netloc}


URLS = [
    "http://localhost:9000/bucket",
    "http://localhost:9000/bucket/key",
    "http://localhost:9000/bucket/a%20b/c%2Bd%26e%3D%21%27%28%29%2A~",
    "http://localhost:9000/bucket/%E6%97%A5%E6%9C%AC%E8%AA%9E.txt",
    "http://localhost:9000/bucket?acl",
    "http://localhost:9000/bucket?uploads&prefix=a",
    "http://localhost:9000/bucket/key?partNumber=1&uploadId=abc%3D%3D",
    "http://localhost:9000/bucket/key?versionId=3%2F4&tagging=",
    "http://localhost:9000/bucket/key?response-content-type=text%2Fplain%3B%20a%3Db&x-id=Get",
    "http://localhost:9000/bucket?list-type=2&prefix=a%20b%2Fc%2B&delimiter=%2F",
    "http://localhost:9000/bucket?cors",
    "http://localhost:9000/bucket?versions&delete",
]


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_hmacv1_header_roundtrip(method: str, url: str) -> None:
    headers = {
        "Content-Type": "text/plain",
        "Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg==",
        "x-amz-meta-b": "two",
        "X-Amz-Meta-A": "  日本語 über ",
    }
    m, path, query, hdrs = v1_signed(method, url, headers)
    ctx = authenticate(m, path, query, hdrs, lookup)
    assert ctx.access_key == AK and ctx.mode == "header-v2"


def test_virtual_host_style() -> None:
    m, path, query, headers = v1_signed(
        "GET", "http://my.bucket.s3.example.com:9000/k%20y?acl", auth_path="/my.bucket/k%20y"
    )
    assert path == "/k%20y"
    assert authenticate(m, path, query, headers, lookup).access_key == AK


@pytest.mark.parametrize("url", URLS)
def test_hmacv1_query_roundtrip(url: str) -> None:
    m, path, query, headers = v1_presigned("GET", url)
    ctx = authenticate(m, path, query, headers, lookup)
    assert ctx.access_key == AK and ctx.mode == "presigned-v2"
    assert ctx.payload_hash == UNSIGNED_PAYLOAD


def test_query_signed_headers_moved_to_query() -> None:
    m, path, query, headers = v1_presigned(
        "PUT",
        "http://localhost:9000/b/k",
        {"Content-Type": "image/png", "x-amz-meta-x": "1", "x-amz-security-token": "tok"},
    )
    assert "x-amz-meta-x=1" in query and "content-type=image%2Fpng" in query
    ctx = authenticate(m, path, query, headers, lookup)
    assert ctx.security_token == "tok"
    # Sending the same Content-Type header also verifies; a different one does not.
    authenticate(m, path, query, {**headers, "content-type": "image/png"}, lookup)
    with pytest.raises(S3Error) as e:
        authenticate(m, path, query, {**headers, "content-type": "text/html"}, lookup)
    assert code(e) == "SignatureDoesNotMatch"


def test_header_tampering() -> None:
    m, path, query, headers = v1_signed(
        "PUT", "http://localhost:9000/b/k?acl", {"x-amz-meta-a": "1", "Content-Type": "a/b"}
    )
    for mutated in (
        ("GET", path, query, headers),
        (m, "/b/other", query, headers),
        (m, path, "tagging", headers),
        (m, path, query, {**headers, "x-amz-meta-a": "2"}),
        (m, path, query, {**headers, "x-amz-meta-new": "x"}),
        (m, path, query, {**headers, "content-type": "a/c"}),
        (m, path, query, {**headers, "content-md5": "1B2M2Y8AsgTpgAmY7PhCfg=="}),
    ):
        with pytest.raises(S3Error) as e:
            authenticate(*mutated, lookup)
        assert code(e) == "SignatureDoesNotMatch"
        assert "StringToSign" in e.value.extra
    # Unsigned query parameters (not subresources) may change freely, as in AWS.
    authenticate(m, path, query + "&prefix=x", headers, lookup)


def test_wrong_secret_unknown_key_and_malformed() -> None:
    m, path, query, headers = v1_signed("GET", "http://localhost:9000/b/k", secret="nope")
    with pytest.raises(S3Error) as e:
        authenticate(m, path, query, headers, lookup)
    assert code(e) == "SignatureDoesNotMatch"
    bad = {**headers, "authorization": headers["authorization"].replace(AK, "NOSUCHKEY")}
    with pytest.raises(S3Error) as e:
        authenticate(m, path, query, bad, lookup)
    assert code(e) == "InvalidAccessKeyId"
    with pytest.raises(S3Error) as e:
        authenticate(m, path, query, {**headers, "authorization": "AWS nocolon"}, lookup)
    assert code(e) == "InvalidArgument"


def test_date_skew_and_missing_date() -> None:
    m, path, query, headers = v1_signed("GET", "http://localhost:9000/b/k")
    late = datetime.now(UTC) + timedelta(minutes=16)
    with pytest.raises(S3Error) as e:
        authenticate(m, path, query, headers, lookup, now=late)
    assert code(e) == "RequestTimeTooSkewed"
    authenticate(m, path, query, headers, lookup, now=datetime.now(UTC) + timedelta(minutes=14))
    before_epoch = {**headers, "x-amz-date": "Tue, 07 Jul 1950 21:53:04 GMT"}
    with pytest.raises(S3Error) as e:
        authenticate(m, path, query, before_epoch, lookup)
    assert code(e) == "AccessDenied"
    with pytest.raises(S3Error) as e:
        authenticate(m, path, query, {**headers, "x-amz-date": "Tue, 07 Jul 2010 21:53:04 GMT"}, lookup)
    assert code(e) == "RequestTimeTooSkewed"
    no_date = {k: v for k, v in headers.items() if k != "date"}
    with pytest.raises(S3Error) as e:
        authenticate(m, path, query, no_date, lookup)
    assert code(e) == "AccessDenied"


def test_x_amz_date_empties_the_date_line() -> None:
    amz_date = formatdate(usegmt=True)
    sts = f"GET\n\n\n\nx-amz-date:{amz_date}\n/b/k"
    headers = {"host": "h", "x-amz-date": amz_date, "authorization": f"AWS {AK}:{sign(SK, sts)}"}
    assert authenticate("GET", "/b/k", "", headers, lookup).access_key == AK
    # A Date header alongside is ignored for signing (the empty line still verifies).
    authenticate("GET", "/b/k", "", {**headers, "date": "Thu, 01 Jan 2015 00:00:00 GMT"}, lookup)


def test_query_expiry_and_missing_parameters() -> None:
    m, path, query, headers = v1_presigned("GET", "http://localhost:9000/b/k", expires=60)
    authenticate(m, path, query, headers, lookup)
    with pytest.raises(S3Error) as e:
        authenticate(m, path, query, headers, lookup, now=datetime.now(UTC) + timedelta(hours=1))
    assert code(e) == "AccessDenied" and e.value.message == "Request has expired"
    for drop in ("AWSAccessKeyId", "Expires"):
        trimmed = "&".join(p for p in query.split("&") if not p.startswith(drop + "="))
        with pytest.raises(S3Error) as e:
            authenticate(m, path, trimmed, headers, lookup)
        assert code(e) in ("AccessDenied", "SignatureDoesNotMatch")
    expires = next(p for p in query.split("&") if p.startswith("Expires=")).split("=")[1]
    tampered = query.replace(f"Expires={expires}", f"Expires={int(expires) - 1}")
    with pytest.raises(S3Error) as e:
        authenticate(m, path, tampered, headers, lookup)
    assert code(e) == "SignatureDoesNotMatch"
    # More than a week after the request time: refused as SigV4 refuses it, before the
    # signature is looked at.
    far = query.replace(f"Expires={expires}", f"Expires={int(expires) + 7 * 24 * 3600}")
    with pytest.raises(S3Error) as e:
        authenticate(m, path, far, headers, lookup)
    assert code(e) == "AuthorizationQueryParametersError" and "604800" in e.value.message
    with pytest.raises(S3Error) as e:
        authenticate(m, "/b/other", query, headers, lookup)
    assert code(e) == "SignatureDoesNotMatch"


# ---- boto3 -----------------------------------------------------------------------------------


def v2_client() -> boto3.client:
    return boto3.client(
        "s3", endpoint_url="http://127.0.0.1:9000", aws_access_key_id=AK,
        aws_secret_access_key=SK, region_name="us-east-1",
    )  # fmt: skip


def test_boto3_default_presigned_urls_are_sigv2_and_verify() -> None:
    client = v2_client()
    for verb, method, params in (
        ("GET", "get_object", {"Bucket": "b", "Key": "a b/ü", "ResponseContentType": "text/x"}),
        ("GET", "get_object", {"Bucket": "b", "Key": "k", "VersionId": "v1"}),
        ("PUT", "put_object", {"Bucket": "b", "Key": "k"}),
        ("DELETE", "delete_object", {"Bucket": "b", "Key": "k"}),
        ("GET", "list_objects", {"Bucket": "b", "Prefix": "p/"}),
    ):
        parts = urlsplit(client.generate_presigned_url(method, Params=params, ExpiresIn=300))
        assert "AWSAccessKeyId=" in parts.query
        ctx = authenticate(verb, parts.path, parts.query, {"host": parts.netloc}, lookup)
        assert ctx.mode == "presigned-v2"


def test_boto3_s3_signature_version_client_requests() -> None:
    client = boto3.client(
        "s3", endpoint_url="http://127.0.0.1:9000", aws_access_key_id=AK,
        aws_secret_access_key=SK, region_name="us-east-1",
        config=Config(signature_version="s3", retries={"total_max_attempts": 1}),
    )  # fmt: skip
    seen: list[tuple[str, str, str, dict[str, str]]] = []

    def hook(request, **_: object) -> AWSResponse:  # type: ignore[no-untyped-def]
        seen.append(wire(request))

        class Raw:
            def stream(self, **_: object):  # type: ignore[no-untyped-def]
                return iter([b""])

        return AWSResponse(request.url, 200, {"ETag": '"e"'}, Raw())

    client.meta.events.register("before-send", hook)
    key = "dir/a b+c&d=e!'()*~ü.txt"
    client.put_object(Bucket="bucket", Key=key, Body=b"hi", Metadata={"m": "v"})
    client.get_object(Bucket="bucket", Key=key, Range="bytes=0-1")
    client.list_objects(Bucket="bucket", Prefix="a b/ü+&=", Delimiter="/")
    client.delete_object(Bucket="bucket", Key=key, VersionId="v/1+2")
    client.put_object_tagging(Bucket="bucket", Key=key, Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    assert len(seen) == 5
    for m, path, query, headers in seen:
        assert headers["authorization"].startswith("AWS ")
        assert authenticate(m, path, query, headers, lookup).access_key == AK


# ---- POST forms ------------------------------------------------------------------------------


def test_boto3_presigned_post_sigv2() -> None:
    post = v2_client().generate_presigned_post(
        "b", "uploads/${filename}", Conditions=[["content-length-range", 1, 10]], ExpiresIn=60
    )
    form = {k.lower(): v for k, v in post["fields"].items()}
    assert "signature" in form and "awsaccesskeyid" in form
    assert verify_post_signature(form, lookup) == AK
    assert check_policy(form["policy"], form, bucket="b", key="uploads/x.txt") == (1, 10)
    with pytest.raises(S3Error) as e:
        verify_post_signature({**form, "signature": sign("wrong", form["policy"])}, lookup)
    assert code(e) == "SignatureDoesNotMatch"
    with pytest.raises(S3Error) as e:
        verify_post_signature({**form, "awsaccesskeyid": "NOPE"}, lookup)
    assert code(e) == "InvalidAccessKeyId"
    with pytest.raises(S3Error) as e:
        verify_post_signature({k: v for k, v in form.items() if k != "signature"}, lookup)
    assert code(e) == "InvalidArgument"


def test_post_policy_v2_conditions() -> None:
    policy = {
        "expiration": "2000-01-01T00:00:00Z",
        "conditions": [{"bucket": "b"}, ["starts-with", "$key", "foo"]],
    }
    b64 = base64.b64encode(json.dumps(policy).encode()).decode()
    form = {"awsaccesskeyid": AK, "policy": b64, "signature": sign(SK, b64), "key": "foo"}
    assert verify_post_signature(form, lookup) == AK
    with pytest.raises(S3Error) as e:
        check_policy(b64, form, bucket="b", key="foo")
    assert code(e) == "AccessDenied" and "expired" in e.value.message

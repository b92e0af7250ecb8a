"""SigV4 verification: AWS documentation vectors, botocore/boto3/awscrt-signed requests, tampering."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.config import Config
from botocore.credentials import Credentials

from api.auth.signature import authenticate
from api.auth.signing import EMPTY_SHA256, STREAMING_UNSIGNED_TRAILER, UNSIGNED_PAYLOAD, derive_signing_key
from api.errors import S3Error

AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SECRETS = {AK: SK, "OTHERKEY": "othersecret"}
lookup = SECRETS.get
DOC_NOW = datetime(2013, 5, 24, 0, 1, tzinfo=UTC)
DOC_SCOPE = f"{AK}/20130524/us-east-1/s3/aws4_request"
DOC_HOST = "examplebucket.s3.amazonaws.com"


def doc_auth(signed: str, signature: str) -> str:
    return f"AWS4-HMAC-SHA256 Credential={DOC_SCOPE},SignedHeaders={signed},Signature={signature}"


def err(excinfo: pytest.ExceptionInfo[S3Error]) -> str:
    return excinfo.value.code


# ---- AWS documentation examples (sig-v4-header-based-auth / query-string-auth) ------------


def test_doc_get_object() -> None:
    headers = {
        "host": DOC_HOST,
        "range": "bytes=0-9",
        "x-amz-content-sha256": EMPTY_SHA256,
        "x-amz-date": "20130524T000000Z",
        "authorization": doc_auth(
            "host;range;x-amz-content-sha256;x-amz-date",
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        ),
    }
    ctx = authenticate("GET", "/test.txt", "", headers, lookup, now=DOC_NOW)
    assert ctx.access_key == AK and ctx.mode == "header"
    assert ctx.payload_hash == EMPTY_SHA256
    assert ctx.scope == "20130524/us-east-1/s3/aws4_request"
    assert ctx.region == "us-east-1" and ctx.service == "s3" and ctx.amz_date == "20130524T000000Z"
    assert ctx.seed_signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    assert ctx.signing_key == derive_signing_key(SK, "20130524", "us-east-1", "s3")
    # The same request with a changed header no longer verifies.
    with pytest.raises(S3Error) as e:
        authenticate("GET", "/test.txt", "", {**headers, "range": "bytes=0-10"}, lookup, now=DOC_NOW)
    assert err(e) == "SignatureDoesNotMatch"
    assert "CanonicalRequest" in e.value.extra and "StringToSign" in e.value.extra


def test_doc_put_object() -> None:
    headers = {
        "host": DOC_HOST,
        "date": "Fri, 24 May 2013 00:00:00 GMT",
        "x-amz-date": "20130524T000000Z",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "x-amz-content-sha256": "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
        "authorization": doc_auth(
            "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
        ),
    }
    ctx = authenticate("PUT", "/test%24file.text", "", headers, lookup, now=DOC_NOW)
    assert ctx.payload_hash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"


def test_doc_get_lifecycle_and_list_objects() -> None:
    base = {
        "host": DOC_HOST,
        "x-amz-date": "20130524T000000Z",
        "x-amz-content-sha256": EMPTY_SHA256,
    }
    signed = "host;x-amz-content-sha256;x-amz-date"
    lifecycle = {
        **base,
        "authorization": doc_auth(signed, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
    }
    authenticate("GET", "/", "lifecycle", lifecycle, lookup, now=DOC_NOW)
    listing = {
        **base,
        "authorization": doc_auth(signed, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
    }
    # Query parameters arrive in any order; the canonical form sorts them.
    authenticate("GET", "/", "prefix=J&max-keys=2", listing, lookup, now=DOC_NOW)
    authenticate("GET", "/", "max-keys=2&prefix=J", listing, lookup, now=DOC_NOW)


DOC_PRESIGNED = (
    "X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
    "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
)


def test_doc_presigned_url() -> None:
    ctx = authenticate("GET", "/test.txt", DOC_PRESIGNED, {"host": DOC_HOST}, lookup, now=DOC_NOW)
    assert ctx.mode == "presigned" and ctx.access_key == AK
    assert ctx.payload_hash == UNSIGNED_PAYLOAD
    # Still valid just before expiry (86400 s), expired just after.
    late = datetime(2013, 5, 24, 23, 59, 59, tzinfo=UTC)
    authenticate("GET", "/test.txt", DOC_PRESIGNED, {"host": DOC_HOST}, lookup, now=late)
    with pytest.raises(S3Error) as e:
        authenticate(
            "GET", "/test.txt", DOC_PRESIGNED, {"host": DOC_HOST}, lookup,
            now=late + timedelta(seconds=2),
        )  # fmt: skip
    assert err(e) == "AccessDenied" and e.value.message == "Request has expired"
    assert e.value.extra["X-Amz-Expires"] == "86400"
    with pytest.raises(S3Error) as e:
        authenticate("GET", "/other.txt", DOC_PRESIGNED, {"host": DOC_HOST}, lookup, now=DOC_NOW)
    assert err(e) == "SignatureDoesNotMatch"


def test_doc_presigned_not_yet_valid() -> None:
    early = datetime(2013, 5, 23, 23, 40, tzinfo=UTC)
    with pytest.raises(S3Error) as e:
        authenticate("GET", "/test.txt", DOC_PRESIGNED, {"host": DOC_HOST}, lookup, now=early)
    assert err(e) == "AccessDenied" and e.value.message == "Request is not yet valid"
    # Within the 15 minute allowance it is accepted.
    authenticate(
        "GET", "/test.txt", DOC_PRESIGNED, {"host": DOC_HOST}, lookup,
        now=datetime(2013, 5, 23, 23, 50, tzinfo=UTC),
    )  # fmt: skip


# ---- botocore signers --------------------------------------------------------------------


def wire(req: AWSRequest) -> tuple[str, str, str, dict[str, str]]:
    """What a server sees: method, raw path, raw query, lower-case headers."""
    parts = urlsplit(req.url)
    headers = {k.lower(): v.decode() if isinstance(v, bytes) else str(v) for k, v in req.headers.items()}
    headers.setdefault("host", parts.netloc)
    return req.method, parts.path, parts.query, headers


def header_signed(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    secret: str = SK,
    region: str = "us-east-1",
    token: str | None = None,
) -> tuple[str, str, str, dict[str, str]]:
    req = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    S3SigV4Auth(Credentials(AK, secret, token), "s3", region).add_auth(req)
    return wire(req)


def query_signed(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    expires: int = 3600,
    secret: str = SK,
    region: str = "us-east-1",
    token: str | None = None,
) -> tuple[str, str, str, dict[str, str]]:
    req = AWSRequest(method=method, url=url, headers=headers or {})
    S3SigV4QueryAuth(Credentials(AK, secret, token), "s3", region, expires=expires).add_auth(req)
    return wire(req)


URLS = [
    "http://localhost:9000/bucket",
    "http://localhost:9000/bucket/key",
    "http://localhost:9000/bucket/a%20b/c%2Bd%26e%3D%21%27%28%29%2A~",
    "http://localhost:9000/bucket/%E6%97%A5%E6%9C%AC%E8%AA%9E.txt",
    "http://localhost:9000/bucket/dir//double/slash/../dot",
    "http://localhost:9000/bucket?list-type=2&prefix=a%20b%2Fc%2B&delimiter=%2F",
    "http://localhost:9000/bucket?uploads",
    "http://localhost:9000/bucket/key?partNumber=1&uploadId=abc%3D%3D",
    "https://bucket.s3.example.com/key?versionId=3%2F4&tagging=",
    "http://localhost:9000/bucket?prefix=%E2%9C%93&max-keys=10&encoding-type=url",
]


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_botocore_header_auth_roundtrip(method: str, url: str) -> None:
    m, path, query, headers = header_signed(
        method, url, headers={"x-amz-meta-a": "  two   spaces  ", "content-type": "text/plain"},
        body=b"payload",
    )  # fmt: skip
    ctx = authenticate(m, path, query, headers, lookup)
    assert ctx.access_key == AK and ctx.mode == "header"
    assert len(ctx.payload_hash) == 64


@pytest.mark.parametrize("url", URLS)
def test_botocore_presigned_roundtrip(url: str) -> None:
    m, path, query, headers = query_signed("GET", url)
    ctx = authenticate(m, path, query, headers, lookup)
    assert ctx.mode == "presigned" and ctx.payload_hash == UNSIGNED_PAYLOAD


def test_utf8_header_value_as_asgi_presents_it() -> None:
    # botocore signs the str value and sends it as UTF-8; ASGI decodes the bytes as latin-1.
    text = "Hello World\xe9  日本語 über à"
    m, path, query, headers = header_signed(
        "PUT", "http://localhost:9000/bucket/k", headers={"x-amz-meta-title": text}, body=b"x"
    )
    asgi = {**headers, "x-amz-meta-title": text.encode("utf-8").decode("latin-1")}
    assert authenticate(m, path, query, asgi, lookup).access_key == AK
    tampered = {
        **asgi,
        "x-amz-meta-title": "Hello World\xe9 日本語 uber".encode().decode("latin-1"),
    }
    with pytest.raises(S3Error) as e:
        authenticate(m, path, query, tampered, lookup)
    assert err(e) == "SignatureDoesNotMatch"


def test_non_utf8_header_bytes_signed_as_latin1_text() -> None:
    # Bytes that are not UTF-8 keep their latin-1 reading (a signer that sent latin-1).
    m, path, query, headers = header_signed(
        "PUT", "http://localhost:9000/bucket/k", headers={"x-amz-meta-a": "caf\xe9"}, body=b"x"
    )
    assert authenticate(m, path, query, headers, lookup).access_key == AK


def test_tampering_rejected() -> None:
    url = "http://localhost:9000/bucket/key?x-id=PutObject&tagging=a"
    m, path, query, headers = header_signed("PUT", url, headers={"x-amz-acl": "private"}, body=b"x")
    authenticate(m, path, query, headers, lookup)
    cases = [
        ("GET", path, query, headers),
        (m, "/bucket/other", query, headers),
        (m, path + "x", query, headers),
        (m, path, query + "&extra=1", headers),
        (m, path, query.replace("tagging=a", "tagging=b"), headers),
        (m, path, query, {**headers, "x-amz-acl": "public-read"}),
        (m, path, query, {**headers, "host": "evil:9000"}),
        (m, path, query, {**headers, "x-amz-content-sha256": EMPTY_SHA256}),
    ]
    for case in cases:
        with pytest.raises(S3Error) as e:
            authenticate(*case, lookup)
        assert err(e) == "SignatureDoesNotMatch", case


def test_wrong_secret_and_unknown_key() -> None:
    m, path, query, headers = header_signed("GET", "http://localhost:9000/b/k", secret="wrong")
    with pytest.raises(S3Error) as e:
        authenticate(m, path, query, headers, lookup)
    assert err(e) == "SignatureDoesNotMatch"
    with pytest.raises(S3Error) as e:
        authenticate(m, path, query, headers, {}.get)
    assert err(e) == "InvalidAccessKeyId" and e.value.extra["AWSAccessKeyId"] == AK
    m, path, query, headers = query_signed("GET", "http://localhost:9000/b/k", secret="wrong")
    with pytest.raises(S3Error) as e:
        authenticate(m, path, query, headers, lookup)
    assert err(e) == "SignatureDoesNotMatch"


def test_presigned_tampering() -> None:
    m, path, query, headers = query_signed("GET", "http://localhost:9000/b/k?versionId=1")
    for q in (query.replace("versionId=1", "versionId=2"), query + "&response-content-type=x"):
        with pytest.raises(S3Error) as e:
            authenticate(m, path, q, headers, lookup)
        assert err(e) == "SignatureDoesNotMatch"
    with pytest.raises(S3Error) as e:
        authenticate("PUT", path, query, headers, lookup)
    assert err(e) == "SignatureDoesNotMatch"


def test_skew() -> None:
    m, path, query, headers = header_signed("GET", "http://localhost:9000/b/k")
    now = datetime.now(UTC)
    authenticate(m, path, query, headers, lookup, now=now + timedelta(minutes=14))
    authenticate(m, path, query, headers, lookup, now=now - timedelta(minutes=14))
    for delta in (timedelta(minutes=16), -timedelta(minutes=16), timedelta(days=3)):
        with pytest.raises(S3Error) as e:
            authenticate(m, path, query, headers, lookup, now=now + delta)
        assert err(e) == "RequestTimeTooSkewed"
        assert e.value.status == 403
        assert e.value.extra["MaxAllowedSkewMilliseconds"] == "900000"


def test_presigned_expiry_and_future() -> None:
    m, path, query, headers = query_signed("GET", "http://localhost:9000/b/k", expires=60)
    now = datetime.now(UTC)
    # Presigned URLs are not subject to the 15 minute skew, only to their expiry.
    authenticate(m, path, query, headers, lookup, now=now + timedelta(seconds=50))
    with pytest.raises(S3Error) as e:
        authenticate(m, path, query, headers, lookup, now=now + timedelta(seconds=70))
    assert e.value.message == "Request has expired"
    with pytest.raises(S3Error) as e:
        authenticate(m, path, query, headers, lookup, now=now - timedelta(minutes=20))
    assert e.value.message == "Request is not yet valid"
    m, path, query, headers = query_signed("GET", "http://localhost:9000/b/k", expires=604800)
    authenticate(m, path, query, headers, lookup, now=now + timedelta(days=6))


@pytest.mark.parametrize(
    ("expires", "message"),
    [
        ("604801", "X-Amz-Expires must be less than a week (in seconds) that is; 604800"),
        ("0", "X-Amz-Expires must be non-negative"),
        ("-5", "X-Amz-Expires must be non-negative"),
        ("abc", "X-Amz-Expires should be a number"),
    ],
)
def test_presigned_bad_expires(expires: str, message: str) -> None:
    m, path, query, headers = query_signed("GET", "http://localhost:9000/b/k")
    query = "&".join(f"X-Amz-Expires={expires}" if p.startswith("X-Amz-Expires=") else p for p in query.split("&"))
    with pytest.raises(S3Error) as e:
        authenticate(m, path, query, headers, lookup)
    assert err(e) == "AuthorizationQueryParametersError" and e.value.message == message


@pytest.mark.parametrize(
    "drop",
    ["X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Expires"],
)
def test_presigned_missing_parameter(drop: str) -> None:
    m, path, query, headers = query_signed("GET", "http://localhost:9000/b/k")
    query = "&".join(p for p in query.split("&") if not p.startswith(drop + "="))
    with pytest.raises(S3Error) as e:
        authenticate(m, path, query, headers, lookup)
    assert err(e) == "AuthorizationQueryParametersError"


def test_presigned_bad_parameters() -> None:
    m, path, query, headers = query_signed("GET", "http://localhost:9000/b/k")
    bad_algo = query.replace("X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-HMAC-SHA1")
    with pytest.raises(S3Error) as e:
        authenticate(m, path, bad_algo, headers, lookup)
    assert e.value.message == 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"'
    bad_cred = query.replace("%2Fs3%2F", "%2F")
    with pytest.raises(S3Error) as e:
        authenticate(m, path, bad_cred, headers, lookup)
    assert err(e) == "AuthorizationQueryParametersError" and "mal-formed" in e.value.message
    other_service = query.replace("%2Fs3%2F", "%2Fec2%2F")
    with pytest.raises(S3Error) as e:
        authenticate(m, path, other_service, headers, lookup)
    assert 'incorrect service "ec2"' in e.value.message
    today = datetime.now(UTC).strftime("%Y%m%d")
    wrong_day = query.replace(f"%2F{today}%2F", "%2F20200101%2F")
    with pytest.raises(S3Error) as e:
        authenticate(m, path, wrong_day, headers, lookup)
    assert err(e) == "AuthorizationQueryParametersError" and "Invalid credential date" in e.value.message


def test_presigned_unsigned_amz_header_rejected() -> None:
    m, path, query, headers = query_signed("PUT", "http://localhost:9000/b/k")
    with pytest.raises(S3Error) as e:
        authenticate(m, path, query, {**headers, "x-amz-acl": "public-read"}, lookup)
    assert err(e) == "AccessDenied" and e.value.extra["HeadersNotSigned"] == "x-amz-acl"
    # Signing the header makes it acceptable; client-describing ones may stay unsigned.
    m, path, query, headers = query_signed("PUT", "http://localhost:9000/b/k", headers={"x-amz-acl": "public-read"})
    authenticate(m, path, query, {**headers, "x-amz-user-agent": "js"}, lookup)


def test_presigned_with_signed_content_sha256() -> None:
    # Some SDKs sign a real x-amz-content-sha256 into presigned URLs instead of UNSIGNED-PAYLOAD.
    now = int(time.time())
    amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    from api.auth.signing import hmac_hex
    from api.auth.sigv4 import canonical_query, canonical_request, split_query, string_to_sign

    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    query = (
        f"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={AK}%2F{scope.replace('/', '%2F')}"
        f"&X-Amz-Date={amz_date}&X-Amz-Expires=300&X-Amz-SignedHeaders=host%3Bx-amz-content-sha256"
    )
    headers = {"host": "h", "x-amz-content-sha256": EMPTY_SHA256}
    creq = canonical_request(
        "PUT", "/b/k", canonical_query(split_query(query)), headers, "host;x-amz-content-sha256",
        EMPTY_SHA256,
    )  # fmt: skip
    key = derive_signing_key(SK, amz_date[:8], "us-east-1", "s3")
    sig = hmac_hex(key, string_to_sign(amz_date, scope, creq))
    ctx = authenticate("PUT", "/b/k", f"{query}&X-Amz-Signature={sig}", headers, lookup)
    assert ctx.payload_hash == EMPTY_SHA256


def test_security_token() -> None:
    m, path, query, headers = header_signed("GET", "http://localhost:9000/b/k", token="TOKEN/+=")
    assert authenticate(m, path, query, headers, lookup).security_token == "TOKEN/+="
    m, path, query, headers = query_signed("GET", "http://localhost:9000/b/k", token="TOKEN/+=")
    assert authenticate(m, path, query, headers, lookup).security_token == "TOKEN/+="


def test_empty_region_accepted() -> None:
    m, path, query, headers = header_signed("GET", "http://localhost:9000/b/k", region="")
    ctx = authenticate(m, path, query, headers, lookup)
    assert ctx.region == "" and ctx.scope is not None and "//s3/" in ctx.scope
    m, path, query, headers = query_signed("GET", "http://localhost:9000/b/k", region="")
    assert authenticate(m, path, query, headers, lookup).region == ""


def test_other_region_passed_through() -> None:
    m, path, query, headers = header_signed("GET", "http://localhost:9000/b/k", region="eu-west-3")
    assert authenticate(m, path, query, headers, lookup).region == "eu-west-3"


# ---- header parsing and errors ------------------------------------------------------------


def signed_headers_case() -> tuple[str, str, str, dict[str, str]]:
    return header_signed("GET", "http://localhost:9000/b/k")


def test_authorization_spacing_tolerated() -> None:
    m, path, query, headers = signed_headers_case()
    auth = headers["authorization"]
    for variant in (
        auth.replace(", ", ","),
        auth.replace(", ", " ,  "),
        auth.replace("AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA256   "),
    ):
        authenticate(m, path, query, {**headers, "authorization": variant}, lookup)


@pytest.mark.parametrize(
    ("mutate", "code", "fragment"),
    [
        (lambda a: a.split(", Signature=")[0], "AuthorizationHeaderMalformed", "three components"),
        (
            lambda a: a.replace("Credential=", "Credential"),
            "AuthorizationHeaderMalformed",
            "component",
        ),
        (lambda a: a.replace("/s3/", "/"), "AuthorizationHeaderMalformed", "mal-formed"),
        (lambda a: a.replace("/s3/", "/sqs/"), "AuthorizationHeaderMalformed", "incorrect service"),
        (
            lambda a: a.replace("aws4_request", "aws5_request"),
            "AuthorizationHeaderMalformed",
            "terminal",
        ),
        (lambda a: a.replace("host;", ""), "AccessDenied", "not signed"),
        (
            lambda a: "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
            "SignatureDoesNotMatch",
            "signature",
        ),
        (lambda a: "Bearer abc", "InvalidArgument", "Unsupported Authorization Type"),
        (
            lambda a: a.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256"),
            "NotImplemented",
            "SigV4a",
        ),
    ],
)
def test_malformed_authorization(mutate, code: str, fragment: str) -> None:  # type: ignore[no-untyped-def]
    m, path, query, headers = signed_headers_case()
    with pytest.raises(S3Error) as e:
        authenticate(m, path, query, {**headers, "authorization": mutate(headers["authorization"])}, lookup)
    assert err(e) == code and fragment in e.value.message


def test_credential_date_must_match() -> None:
    m, path, query, headers = signed_headers_case()
    today = headers["x-amz-date"][:8]
    auth = headers["authorization"].replace(f"/{today}/", "/20200101/")
    with pytest.raises(S3Error) as e:
        authenticate(m, path, query, {**headers, "authorization": auth}, lookup)
    assert err(e) == "AuthorizationHeaderMalformed" and "Invalid credential date" in e.value.message


def test_missing_or_invalid_content_sha256() -> None:
    m, path, query, headers = signed_headers_case()
    without = {k: v for k, v in headers.items() if k != "x-amz-content-sha256"}
    with pytest.raises(S3Error) as e:
        authenticate(m, path, query, without, lookup)
    assert err(e) == "InvalidRequest"
    assert e.value.message == "Missing required header for this request: x-amz-content-sha256"
    with pytest.raises(S3Error) as e:
        authenticate(m, path, query, {**headers, "x-amz-content-sha256": "abc"}, lookup)
    assert err(e) == "InvalidArgument" and "x-amz-content-sha256 must be" in e.value.message


def test_missing_date() -> None:
    m, path, query, headers = signed_headers_case()
    without = {k: v for k, v in headers.items() if k != "x-amz-date"}
    with pytest.raises(S3Error) as e:
        authenticate(m, path, query, without, lookup)
    assert err(e) == "AccessDenied" and "Date" in e.value.message
    with pytest.raises(S3Error) as e:
        authenticate(m, path, query, {**headers, "x-amz-date": "2013-05-24T00:00:00Z"}, lookup)
    assert err(e) == "AccessDenied"


def test_date_header_instead_of_x_amz_date() -> None:
    # SigV4 allows the timestamp in Date; the string to sign uses its ISO basic form.
    now = int(time.time())
    from api.auth.signing import hmac_hex
    from api.auth.sigv4 import canonical_request, string_to_sign

    amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    http_date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now))
    headers = {"host": "h", "date": http_date, "x-amz-content-sha256": EMPTY_SHA256}
    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    creq = canonical_request("GET", "/b", "", headers, "date;host;x-amz-content-sha256", EMPTY_SHA256)
    sig = hmac_hex(
        derive_signing_key(SK, amz_date[:8], "us-east-1", "s3"),
        string_to_sign(amz_date, scope, creq),
    )
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={AK}/{scope},SignedHeaders=date;host;x-amz-content-sha256,Signature={sig}"
    )
    assert authenticate("GET", "/b", "", headers, lookup).amz_date == amz_date


def test_anonymous_and_mixed_mechanisms() -> None:
    ctx = authenticate("GET", "/b/k", "", {"host": "h"}, lookup)
    assert ctx.mode == "anonymous" and ctx.access_key is None and ctx.payload_hash == UNSIGNED_PAYLOAD
    ctx = authenticate("PUT", "/b/k", "", {"x-amz-content-sha256": STREAMING_UNSIGNED_TRAILER}, lookup)
    assert ctx.payload_hash == STREAMING_UNSIGNED_TRAILER
    m, path, query, headers = query_signed("GET", "http://localhost:9000/b/k")
    with pytest.raises(S3Error) as e:
        authenticate(m, path, query, {**headers, "authorization": "AWS4-HMAC-SHA256 x"}, lookup)
    assert err(e) == "InvalidArgument" and "Only one auth mechanism" in e.value.message
    with pytest.raises(S3Error) as e:  # SigV2 query auth (tests/unit/test_sigv2.py)
        authenticate("GET", "/b/k", "AWSAccessKeyId=AK&Expires=1&Signature=x", {}, lookup)
    assert err(e) == "AccessDenied" and e.value.message == "Request has expired"


def test_expected_service() -> None:
    req = AWSRequest(method="POST", url="http://localhost:9000/", data=b"Action=AssumeRole")
    from botocore.auth import SigV4Auth

    SigV4Auth(Credentials(AK, SK), "sts", "us-east-1").add_auth(req)
    m, path, query, headers = wire(req)
    import hashlib

    body_hash = hashlib.sha256(b"Action=AssumeRole").hexdigest()
    ctx = authenticate(m, path, query, headers, lookup, expected_service="sts", payload_sha256=body_hash)
    assert ctx.service == "sts"
    with pytest.raises(S3Error) as e:
        authenticate(m, path, query, headers, lookup, payload_sha256=body_hash)
    assert err(e) == "AuthorizationHeaderMalformed"
    with pytest.raises(S3Error):
        authenticate(m, path, query, headers, lookup, expected_service="sts", payload_sha256=EMPTY_SHA256)


def test_normalised_path_fallback() -> None:
    # A client that signs "%21" but sends a literal "!" still verifies.
    _, path, query, headers = header_signed("GET", "http://localhost:9000/b/a%21b")
    assert path == "/b/a%21b"
    authenticate("GET", "/b/a!b", query, headers, lookup)


def test_signing_key_cache() -> None:
    m, path, query, headers = signed_headers_case()
    authenticate(m, path, query, headers, lookup)
    before = derive_signing_key.cache_info().hits
    authenticate(m, path, query, headers, lookup)
    assert derive_signing_key.cache_info().hits == before + 1


# ---- real boto3 clients (requests captured before they leave) -------------------------------


class Capture:
    def __init__(self, endpoint: str) -> None:
        self.requests: list[tuple[str, str, str, dict[str, str], bytes]] = []
        self.client = boto3.client(
            "s3", endpoint_url=endpoint, aws_access_key_id=AK, aws_secret_access_key=SK,
            region_name="us-east-1",
        )  # fmt: skip
        self.client.meta.events.register("before-send", self._hook)

    def _hook(self, request, **_: object) -> AWSResponse:  # type: ignore[no-untyped-def]
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        parts = urlsplit(request.url)
        headers = {k.lower(): v.decode() if isinstance(v, bytes) else str(v) for k, v in request.headers.items()}
        self.requests.append((request.method, parts.path, parts.query, headers, body or b""))

        class Raw:
            def stream(self, **_: object):  # type: ignore[no-untyped-def]
                return iter([b""])

        return AWSResponse(request.url, 200, {"ETag": '"e"'}, Raw())


@pytest.mark.parametrize("endpoint", ["https://s3.example.test", "http://127.0.0.1:9000"])
def test_boto3_client_requests(endpoint: str) -> None:
    cap = Capture(endpoint)
    key = "dir/a b+c&d=e!'()*~ü.txt"
    cap.client.put_object(Bucket="bucket", Key=key, Body=b"hello world", Metadata={"m": "v"})
    cap.client.put_object(Bucket="bucket", Key="k", Body=io.BytesIO(b"x" * 10000))
    cap.client.get_object(Bucket="bucket", Key=key, Range="bytes=0-1")
    cap.client.list_objects_v2(Bucket="bucket", Prefix="a b/ü+&=", Delimiter="/")
    cap.client.delete_object(Bucket="bucket", Key=key, VersionId="v/1+2")
    for method, path, query, headers, _ in cap.requests:
        ctx = authenticate(method, path, query, headers, lookup)
        assert ctx.access_key == AK
    # Over https boto3 streams with trailing checksums.
    if endpoint.startswith("https"):
        assert cap.requests[0][3]["x-amz-content-sha256"] == STREAMING_UNSIGNED_TRAILER


def test_boto3_presigned_urls() -> None:
    # boto3 presigns with SigV2 unless told otherwise; only SigV4 URLs are supported.
    client = boto3.client(
        "s3", endpoint_url="http://127.0.0.1:9000", aws_access_key_id=AK,
        aws_secret_access_key=SK, region_name="us-east-1",
        config=Config(signature_version="s3v4"),
    )  # fmt: skip
    for method, params in (
        ("get_object", {"Bucket": "b", "Key": "a b/ü", "ResponseContentType": "text/x; a=b"}),
        ("put_object", {"Bucket": "b", "Key": "k"}),
        ("list_objects_v2", {"Bucket": "b", "Prefix": "p/"}),
    ):
        url = client.generate_presigned_url(method, Params=params, ExpiresIn=300)
        parts = urlsplit(url)
        verb = {"get_object": "GET", "put_object": "PUT", "list_objects_v2": "GET"}[method]
        ctx = authenticate(verb, parts.path, parts.query, {"host": parts.netloc}, lookup)
        assert ctx.mode == "presigned"


def test_awscrt_signer() -> None:
    """CRT-based clients (aws-cli's CRT transfer, mountpoint) sign through aws-c-auth."""
    from awscrt.auth import (
        AwsCredentialsProvider,
        AwsSignatureType,
        AwsSignedBodyHeaderType,
        AwsSigningAlgorithm,
        AwsSigningConfig,
        aws_sign_request,
    )
    from awscrt.http import HttpHeaders, HttpRequest

    for sig_type in (
        AwsSignatureType.HTTP_REQUEST_HEADERS,
        AwsSignatureType.HTTP_REQUEST_QUERY_PARAMS,
    ):
        request = HttpRequest("GET", "/bucket/a%20b?prefix=x%2By", HttpHeaders([("host", "localhost:9000")]))
        config = AwsSigningConfig(
            algorithm=AwsSigningAlgorithm.V4,
            signature_type=sig_type,
            credentials_provider=AwsCredentialsProvider.new_static(AK, SK),
            region="us-east-1",
            service="s3",
            use_double_uri_encode=False,
            should_normalize_uri_path=False,
            signed_body_value="UNSIGNED-PAYLOAD",
            signed_body_header_type=AwsSignedBodyHeaderType.X_AMZ_CONTENT_SHA_256,
            expiration_in_seconds=300 if sig_type == AwsSignatureType.HTTP_REQUEST_QUERY_PARAMS else None,
        )
        signed = aws_sign_request(request, config).result(5)
        path, _, query = signed.path.partition("?")
        headers = {k.lower(): v for k, v in signed.headers}
        ctx = authenticate("GET", path, query, headers, lookup)
        assert ctx.access_key == AK

"""AWS Signature Version 4 verification for S3: Authorization header and presigned query.

Pure Python, no web framework. ``authenticate`` runs on every request, so it parses each
input once, caches derived signing keys and only builds fallback canonical forms after a
mismatch. Messages follow what AWS S3 returns so that clients' error handling matches.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote, unquote

from api.errors import S3Error

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_PAYLOAD = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_PAYLOAD_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
STREAMING_MODES = frozenset({STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER, STREAMING_UNSIGNED_TRAILER})
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
MAX_SKEW_SECONDS = 900
MAX_EXPIRES_SECONDS = 604800

# Values AWS accepts in x-amz-content-sha256 besides a hex digest. The ECDSA ones are SigV4a
# streaming modes: accepted as values, but SigV4a itself is refused when the header is parsed.
_SPECIAL_PAYLOADS = frozenset(
    {
        UNSIGNED_PAYLOAD,
        STREAMING_PAYLOAD,
        STREAMING_PAYLOAD_TRAILER,
        STREAMING_UNSIGNED_TRAILER,
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
    }
)
_BAD_CONTENT_SHA256 = (
    "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER "
    "or a valid sha256 value."
)
_CRED_SHAPE = 'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
_HDR = "The authorization header is malformed; "
_QRY = "Error parsing the X-Amz-Credential parameter; "
_PRESIGN_REQUIRED = (
    "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
    "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
)
_PRESIGN_KEYS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-Date",
    "X-Amz-SignedHeaders",
    "X-Amz-Expires",
)
# x-amz-* headers a presigned request may carry unsigned: they describe framing or the client,
# not the operation (signing them is impossible for some SDKs).
_UNSIGNED_OK = frozenset(
    {
        "x-amz-user-agent",
        "x-amz-content-sha256",
        "x-amz-date",
        "x-amz-decoded-content-length",
        "x-amz-trailer",
        "x-amz-security-token",
    }
)
# Already-canonical query components need no unquote/quote round trip (the common case).
_PLAIN = re.compile(r"[A-Za-z0-9\-_.~]*").fullmatch
_HEX = frozenset("0123456789abcdefABCDEF")


@dataclass(slots=True)
class AuthContext:
    access_key: str | None  # None = anonymous
    mode: str  # "header" | "presigned" | "anonymous" | "post" | "header-v2" | "presigned-v2"
    payload_hash: str  # x-amz-content-sha256 value, or UNSIGNED-PAYLOAD
    signing_key: bytes | None = None
    seed_signature: str | None = None
    scope: str | None = None  # "20130524/us-east-1/s3/aws4_request"
    amz_date: str | None = None  # "20130524T000000Z"
    region: str | None = None
    service: str | None = None
    security_token: str | None = None
    # POST policy only: ("content-length-range" min, max), checked once the size is known.
    content_length_range: tuple[int, int] | None = None


@lru_cache(maxsize=4096)
def derive_signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request").

    Cached by secret (not access key) so that a rotated secret can never hit a stale key.
    """
    k = hmac.digest(("AWS4" + secret).encode(), date.encode(), "sha256")
    k = hmac.digest(k, region.encode(), "sha256")
    k = hmac.digest(k, service.encode(), "sha256")
    return hmac.digest(k, b"aws4_request", "sha256")


_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


@lru_cache(maxsize=4096)
def _hmac_states(key: bytes) -> tuple[Any, Any]:
    """HMAC-SHA256's inner and outer hashes after the padded key (RFC 2104)."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return hashlib.sha256(key.translate(_IPAD)), hashlib.sha256(key.translate(_OPAD))


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 from the key's cached hash states. hmac.digest costs ~7 us on OpenSSL 3
    (it looks the algorithm up on every call) and releases the GIL around that, so on a
    busy server each signature check also waited for the GIL; this is ~1 us and keeps it."""
    inner, outer = _hmac_states(key)
    inner = inner.copy()
    inner.update(message)
    outer = outer.copy()
    outer.update(inner.digest())
    return outer.digest()


def hmac_hex(key: bytes, message: str) -> str:
    return hmac_sha256(key, message.encode()).hex()


def string_to_sign(amz_date: str, scope: str, canonical_request: str) -> str:
    digest = hashlib.sha256(canonical_request.encode()).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def aws_quote(value: str) -> str:
    """URI-encode everything but the unreserved set A-Za-z0-9-_.~ (AWS's UriEncode)."""
    return quote(value, safe="")


def _canon_component(raw: str) -> str:
    return raw if _PLAIN(raw) else _reencode(raw)


@lru_cache(maxsize=4096)
def _reencode(raw: str) -> str:
    # Cached: the same encoded credential / prefix values recur on every request.
    return quote(unquote(raw), safe="")


@lru_cache(maxsize=4096)
def _unquote(raw: str) -> str:
    return unquote(raw)


def canonical_query(pairs: list[tuple[str, str]], skip_signature: bool = False) -> str:
    """Canonical query string from raw (still percent-encoded) key/value pairs."""
    out = [
        (_canon_component(k), _canon_component(v)) for k, v in pairs if not (skip_signature and k == "X-Amz-Signature")
    ]
    out.sort()
    return "&".join(f"{k}={v}" for k, v in out)


def split_query(query_string: str) -> list[tuple[str, str]]:
    pairs = []
    for item in query_string.split("&"):
        if item:
            k, _, v = item.partition("=")
            pairs.append((k, v))
    return pairs


def _canon_value(value: str) -> str:
    if not value.isascii():
        return _canon_text(value)
    value = value.strip()
    return " ".join(value.split()) if "  " in value or "\t" in value else value


@lru_cache(maxsize=1024)
def _canon_text(value: str) -> str:
    """A non-ASCII header value: ASGI hands over the latin-1 text of the wire bytes, while
    clients (botocore, the AWS SDKs) send UTF-8 and sign the decoded text. Re-decode it as
    UTF-8 where the bytes are valid UTF-8, then trim as the signer does (str.split)."""
    try:
        value = value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        pass
    return " ".join(value.split())


def canonical_request(
    method: str,
    uri: str,
    canon_query: str,
    headers: Mapping[str, str],
    signed_headers: str,
    payload_hash: str,
) -> str:
    lines = [f"{name}:{_canon_value(headers.get(name, ''))}\n" for name in signed_headers.lower().split(";")]
    return f"{method}\n{uri}\n{canon_query}\n{''.join(lines)}\n{signed_headers}\n{payload_hash}"


_AMZ_DATES: dict[str, int | None] = {}  # recent values: most requests of a second share one


def parse_amz_date(value: str) -> int | None:
    """Epoch seconds for "YYYYMMDDTHHMMSSZ", None if malformed (no regex, no strptime: hot path)."""
    try:
        return _AMZ_DATES[value]
    except (KeyError, TypeError):
        pass
    result = _parse_amz_date(value)
    if type(value) is str:
        if len(_AMZ_DATES) >= 64:
            _AMZ_DATES.clear()
        _AMZ_DATES[value] = result
    return result


def _parse_amz_date(value: str) -> int | None:
    if len(value) != 16 or value[8] != "T" or value[15] != "Z":
        return None
    digits = value[:8] + value[9:15]
    if not (digits.isascii() and digits.isdigit()):
        return None
    y, mo, d = int(value[0:4]), int(value[4:6]), int(value[6:8])
    h, mi, s = int(value[9:11]), int(value[11:13]), int(value[13:15])
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and s <= 60):
        return None
    return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))


def format_amz_date(ts: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(ts))


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def now_timestamp(now: datetime | None) -> float:
    if now is None:
        return time.time()
    if now.tzinfo is None:  # naive datetimes are taken as UTC, never local time
        now = now.replace(tzinfo=UTC)
    return now.timestamp()


def _parse_credential(value: str) -> tuple[str, str, str, str, str] | None:
    parts = value.split("/")
    if len(parts) != 5 or not parts[0] or len(parts[1]) != 8 or not parts[1].isdigit():
        return None
    return parts[0], parts[1], parts[2], parts[3], parts[4]


def _scope(credential: str, code: str, lead: str, expected_service: str | None) -> tuple[str, str, str, str]:
    """(access key, date, region, service) of a Credential value, or the error `code`
    (header or query flavour) with AWS's message."""
    cred = _parse_credential(credential)
    if cred is None:
        raise S3Error(code, lead + _CRED_SHAPE)
    access_key, date, region, service, terminal = cred
    if terminal != TERMINATOR:
        raise S3Error(code, f'{lead}incorrect terminal "{terminal}". This endpoint uses "{TERMINATOR}".')
    if expected_service is not None and service != expected_service:
        raise S3Error(code, f'{lead}incorrect service "{service}". This endpoint belongs to "{expected_service}".')
    return access_key, date, region, service


def _valid_payload_hash(value: str) -> bool:
    return value in _SPECIAL_PAYLOADS or (len(value) == 64 and _HEX.issuperset(value))


def _anonymous(headers: Mapping[str, str]) -> AuthContext:
    payload = headers.get("x-amz-content-sha256", UNSIGNED_PAYLOAD)
    if not _valid_payload_hash(payload):
        raise S3Error("InvalidArgument", _BAD_CONTENT_SHA256, extra=_arg("x-amz-content-sha256", payload))
    return AuthContext(None, "anonymous", payload, security_token=headers.get("x-amz-security-token"))


def _arg(name: str, value: str) -> dict[str, str]:
    return {"ArgumentName": name, "ArgumentValue": value}


def authenticate(
    method: str,
    raw_path: str,
    query_string: str,
    headers: Mapping[str, str],
    lookup_secret: Callable[[str], str | None],
    *,
    now: datetime | None = None,
    expected_service: str | None = "s3",
    payload_sha256: str | None = None,
) -> AuthContext:
    """Verify a request's SigV4 or SigV2 signature (header or presigned), or classify it as
    anonymous.

    ``headers`` has lower-case names; ``raw_path``/``query_string`` are exactly as on the wire.
    Raises S3Error on any failure. The payload itself is verified later by the caller
    (hex x-amz-content-sha256) or by AwsChunkedDecoder (streaming modes). ``payload_sha256``
    is the body's hex SHA-256 for non-S3 services (STS) whose clients sign the body without
    sending x-amz-content-sha256.
    """
    pairs = split_query(query_string) if query_string else []
    authorization = headers.get("authorization")
    presigned = False
    sigv2_query = False
    for k, _ in pairs:
        if k == "X-Amz-Algorithm":
            presigned = True
        elif k == "AWSAccessKeyId" or k == "Signature":
            sigv2_query = True
    if authorization is not None and (presigned or sigv2_query):
        raise S3Error(
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
            "Signature query string parameter or the Authorization header should be specified",
            extra=_arg("Authorization", authorization),
        )
    if authorization is not None and authorization.startswith("AWS "):
        from api.auth import sigv2

        return sigv2.authenticate_header(method, raw_path, query_string, headers, authorization, lookup_secret, now)
    if authorization is not None:
        return _authenticate_header(
            method,
            raw_path,
            pairs,
            headers,
            authorization,
            lookup_secret,
            now,
            expected_service,
            payload_sha256,
        )
    if presigned:
        return _authenticate_presigned(method, raw_path, pairs, headers, lookup_secret, now, expected_service)
    if sigv2_query:
        from api.auth import sigv2

        return sigv2.authenticate_query(method, raw_path, query_string, headers, lookup_secret, now)
    return _anonymous(headers)


def _authenticate_header(
    method: str,
    raw_path: str,
    pairs: list[tuple[str, str]],
    headers: Mapping[str, str],
    authorization: str,
    lookup_secret: Callable[[str], str | None],
    now: datetime | None,
    expected_service: str | None,
    payload_sha256: str | None,
) -> AuthContext:
    if not authorization.startswith(ALGORITHM + " "):
        if authorization.startswith("AWS4-ECDSA-P256-SHA256"):
            raise S3Error("NotImplemented", "SigV4a (AWS4-ECDSA-P256-SHA256) is not supported.")
        raise S3Error(
            "InvalidArgument",
            "Unsupported Authorization Type",
            extra=_arg("Authorization", authorization),
        )

    credential = signed_headers = signature = None
    for component in authorization[len(ALGORITHM) + 1 :].split(","):
        component = component.strip()
        if not component:
            continue
        name, eq, value = component.partition("=")
        if not eq:
            raise S3Error(
                "AuthorizationHeaderMalformed",
                f'{_HDR}the authorization component "{component}" is malformed.',
            )
        name = name.strip()
        if name == "Credential":
            credential = value.strip()
        elif name == "SignedHeaders":
            signed_headers = value.strip()
        elif name == "Signature":
            signature = value.strip()
    if credential is None or signed_headers is None or signature is None:
        raise S3Error(
            "AuthorizationHeaderMalformed",
            f"{_HDR}the authorization header requires three components: Credential, SignedHeaders, and Signature.",
        )
    access_key, date, region, service = _scope(credential, "AuthorizationHeaderMalformed", _HDR, expected_service)

    # S3 requires x-amz-content-sha256 with header auth (other services hash the body).
    payload_hash = headers.get("x-amz-content-sha256")
    if expected_service == "s3" or payload_hash is not None:
        if payload_hash is None:
            raise S3Error("InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
        if not _valid_payload_hash(payload_hash):
            raise S3Error(
                "InvalidArgument",
                _BAD_CONTENT_SHA256,
                extra=_arg("x-amz-content-sha256", payload_hash),
            )

    amz_date = headers.get("x-amz-date")
    request_ts = parse_amz_date(amz_date) if amz_date is not None else None
    if amz_date is None and "date" in headers:
        # SigV4 with only a Date header: the string to sign still uses the ISO basic form.
        amz_date, request_ts = _from_date_header(headers["date"])
    if request_ts is None or amz_date is None:
        raise S3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header")
    if amz_date[:8] != date:
        raise S3Error(
            "AuthorizationHeaderMalformed",
            f"{_HDR}Invalid credential date. Date is not the same as X-Amz-Date.",
        )
    now_ts = now_timestamp(now)
    if abs(request_ts - now_ts) > MAX_SKEW_SECONDS:
        raise S3Error(
            "RequestTimeTooSkewed",
            extra={
                "RequestTime": amz_date,
                "ServerTime": _iso(now_ts),
                "MaxAllowedSkewMilliseconds": str(MAX_SKEW_SECONDS * 1000),
            },
        )
    secret = lookup_secret(access_key)
    if secret is None:
        raise S3Error("InvalidAccessKeyId", extra={"AWSAccessKeyId": access_key})
    _require_host_signed(signed_headers)

    scope = f"{date}/{region}/{service}/{TERMINATOR}"
    key = derive_signing_key(secret, date, region, service)
    if payload_hash is None:  # non-S3 service without the header: the caller hashed the body
        payload_hash = payload_sha256 or EMPTY_SHA256
    _verify(
        method,
        raw_path,
        canonical_query(pairs),
        headers,
        signed_headers,
        (payload_hash,),
        key,
        amz_date,
        scope,
        signature,
        access_key,
    )
    return AuthContext(
        access_key=access_key,
        mode="header",
        payload_hash=payload_hash,
        signing_key=key,
        seed_signature=signature,
        scope=scope,
        amz_date=amz_date,
        region=region,
        service=service,
        security_token=headers.get("x-amz-security-token"),
    )


def _from_date_header(value: str) -> tuple[str | None, int | None]:
    ts = parse_amz_date(value)
    if ts is not None:
        return value, ts
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None, None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    ts = int(parsed.timestamp())
    return format_amz_date(ts), ts


def _require_host_signed(signed_headers: str) -> None:
    if "host" not in signed_headers.lower().split(";"):
        raise S3Error(
            "AccessDenied",
            "There were headers present in the request which were not signed",
            extra={"HeadersNotSigned": "host"},
        )


def _authenticate_presigned(
    method: str,
    raw_path: str,
    pairs: list[tuple[str, str]],
    headers: Mapping[str, str],
    lookup_secret: Callable[[str], str | None],
    now: datetime | None,
    expected_service: str | None,
) -> AuthContext:
    params: dict[str, str] = {}
    for k, v in pairs:
        if k.startswith("X-Amz-"):
            params.setdefault(k, _unquote(v) if "%" in v else v)
    if any(not params.get(name) for name in _PRESIGN_KEYS):
        raise S3Error("AuthorizationQueryParametersError", _PRESIGN_REQUIRED)
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise S3Error("AuthorizationQueryParametersError", f'X-Amz-Algorithm only supports "{ALGORITHM}"')
    access_key, date, region, service = _scope(
        params["X-Amz-Credential"], "AuthorizationQueryParametersError", _QRY, expected_service
    )
    expires_raw = params["X-Amz-Expires"]
    if not (expires_raw.isascii() and expires_raw.lstrip("-").isdigit()):
        raise S3Error("AuthorizationQueryParametersError", "X-Amz-Expires should be a number")
    expires = int(expires_raw)
    if expires < 1:
        raise S3Error("AuthorizationQueryParametersError", "X-Amz-Expires must be non-negative")
    if expires > MAX_EXPIRES_SECONDS:
        raise S3Error(
            "AuthorizationQueryParametersError",
            f"X-Amz-Expires must be less than a week (in seconds) that is; {MAX_EXPIRES_SECONDS}",
        )
    amz_date = params["X-Amz-Date"]
    request_ts = parse_amz_date(amz_date)
    if request_ts is None:
        raise S3Error(
            "AuthorizationQueryParametersError",
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
        )
    if amz_date[:8] != date:
        raise S3Error(
            "AuthorizationQueryParametersError",
            f'Invalid credential date "{date}". This date is not the same as X-Amz-Date: "{amz_date[:8]}".',
        )
    now_ts = now_timestamp(now)
    if request_ts - now_ts > MAX_SKEW_SECONDS:
        raise S3Error(
            "AccessDenied",
            "Request is not yet valid",
            extra={"X-Amz-Date": amz_date, "ServerTime": _iso(now_ts)},
        )
    if now_ts > request_ts + expires:
        raise S3Error(
            "AccessDenied",
            "Request has expired",
            extra={
                "X-Amz-Expires": str(expires),
                "Expires": _iso(request_ts + expires),
                "ServerTime": _iso(now_ts),
            },
        )
    secret = lookup_secret(access_key)
    if secret is None:
        raise S3Error("InvalidAccessKeyId", extra={"AWSAccessKeyId": access_key})
    signed_headers = params["X-Amz-SignedHeaders"]
    _require_host_signed(signed_headers)
    signed = set(signed_headers.lower().split(";"))
    unsigned = [h for h in headers if h.startswith("x-amz-") and h not in signed and h not in _UNSIGNED_OK]
    if unsigned:
        raise S3Error(
            "AccessDenied",
            "There were headers present in the request which were not signed",
            extra={"HeadersNotSigned": ", ".join(sorted(unsigned))},
        )

    # botocore always signs UNSIGNED-PAYLOAD; other SDKs sign a signed x-amz-content-sha256.
    payloads = [UNSIGNED_PAYLOAD]
    header_payload = headers.get("x-amz-content-sha256")
    if header_payload is not None and "x-amz-content-sha256" in signed:
        if not _valid_payload_hash(header_payload):
            raise S3Error(
                "InvalidArgument",
                _BAD_CONTENT_SHA256,
                extra=_arg("x-amz-content-sha256", header_payload),
            )
        payloads.append(header_payload)
    scope = f"{date}/{region}/{service}/{TERMINATOR}"
    key = derive_signing_key(secret, date, region, service)
    signature = params["X-Amz-Signature"]
    payload_hash = _verify(
        method,
        raw_path,
        canonical_query(pairs, skip_signature=True),
        headers,
        signed_headers,
        tuple(payloads),
        key,
        amz_date,
        scope,
        signature,
        access_key,
    )
    token = params.get("X-Amz-Security-Token") or headers.get("x-amz-security-token")
    return AuthContext(
        access_key=access_key,
        mode="presigned",
        payload_hash=payload_hash,
        signing_key=key,
        seed_signature=signature,
        scope=scope,
        amz_date=amz_date,
        region=region,
        service=service,
        security_token=token,
    )


def _verify(
    method: str,
    raw_path: str,
    canon_query: str,
    headers: Mapping[str, str],
    signed_headers: str,
    payloads: tuple[str, ...],
    key: bytes,
    amz_date: str,
    scope: str,
    signature: str,
    access_key: str,
) -> str:
    """Check the signature; returns the payload hash that matched.

    The raw path is tried first (S3 signs the path as sent). Only after a mismatch, the
    AWS-normalised encoding of the path is tried too, for clients that send characters such as
    '!' or '~' differently from how they sign them.
    """
    uris = [raw_path or "/"]
    first_canonical = first_sts = ""
    provided = signature.encode() if signature.isascii() else b""
    for i, uri in enumerate(uris):
        for payload in payloads:
            creq = canonical_request(method, uri, canon_query, headers, signed_headers, payload)
            sts = string_to_sign(amz_date, scope, creq)
            expected = hmac_sha256(key, sts.encode()).hex().encode()
            if hmac.compare_digest(expected, provided):
                return payload
            if not first_canonical:
                first_canonical, first_sts = creq, sts
        if i == 0:
            normalised = quote(unquote(uris[0]), safe="/~")
            if normalised != uris[0]:
                uris.append(normalised)
    raise S3Error(
        "SignatureDoesNotMatch",
        extra={
            "AWSAccessKeyId": access_key,
            "StringToSign": first_sts,
            "SignatureProvided": signature,
            "CanonicalRequest": first_canonical,
        },
    )

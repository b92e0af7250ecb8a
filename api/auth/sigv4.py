"""AWS Signature Version 4 verification for S3: Authorization header and presigned query.

Pure Python, no web framework. Authentication runs on every request, so it parses each
input once, caches derived signing keys and only builds fallback canonical forms after a
mismatch. Messages follow what AWS S3 returns so that clients' error handling matches.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import lru_cache
from urllib.parse import quote, unquote

from api.auth.signing import (
    ALGORITHM,
    BAD_CONTENT_SHA256,
    EMPTY_SHA256,
    MAX_EXPIRES_SECONDS,
    MAX_SKEW_SECONDS,
    TERMINATOR,
    UNSIGNED_PAYLOAD,
    AuthContext,
    argument,
    derive_signing_key,
    from_date_header,
    hmac_sha256,
    iso_time,
    now_timestamp,
    parse_amz_date,
    valid_payload_hash,
)
from api.errors import S3Error

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


def authenticate_header(
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
    credential, signed_headers, signature = _header_components(authorization)
    access_key, date, region, service = _scope(credential, "AuthorizationHeaderMalformed", _HDR, expected_service)
    payload_hash = _header_payload_hash(headers, expected_service)
    amz_date = _header_date(headers, date, now)
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


def _header_components(authorization: str) -> tuple[str, str, str]:
    """(Credential, SignedHeaders, Signature) of a SigV4 Authorization header."""
    if not authorization.startswith(ALGORITHM + " "):
        if authorization.startswith("AWS4-ECDSA-P256-SHA256"):
            raise S3Error("NotImplemented", "SigV4a (AWS4-ECDSA-P256-SHA256) is not supported.")
        raise S3Error(
            "InvalidArgument",
            "Unsupported Authorization Type",
            extra=argument("Authorization", authorization),
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
    return credential, signed_headers, signature


def _header_payload_hash(headers: Mapping[str, str], expected_service: str | None) -> str | None:
    """x-amz-content-sha256, which S3 requires with header auth (other services hash the body)."""
    payload_hash = headers.get("x-amz-content-sha256")
    if expected_service == "s3" or payload_hash is not None:
        if payload_hash is None:
            raise S3Error("InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
        if not valid_payload_hash(payload_hash):
            raise S3Error(
                "InvalidArgument",
                BAD_CONTENT_SHA256,
                extra=argument("x-amz-content-sha256", payload_hash),
            )
    return payload_hash


def _header_date(headers: Mapping[str, str], date: str, now: datetime | None) -> str:
    """The request's x-amz-date (or Date, in the ISO basic form), checked against the
    credential's date and the server's clock."""
    amz_date = headers.get("x-amz-date")
    request_ts = parse_amz_date(amz_date) if amz_date is not None else None
    if amz_date is None and "date" in headers:
        # SigV4 with only a Date header: the string to sign still uses the ISO basic form.
        amz_date, request_ts = from_date_header(headers["date"])
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
                "ServerTime": iso_time(now_ts),
                "MaxAllowedSkewMilliseconds": str(MAX_SKEW_SECONDS * 1000),
            },
        )
    return amz_date


def _require_host_signed(signed_headers: str) -> None:
    if "host" not in signed_headers.lower().split(";"):
        raise S3Error(
            "AccessDenied",
            "There were headers present in the request which were not signed",
            extra={"HeadersNotSigned": "host"},
        )


def authenticate_presigned(
    method: str,
    raw_path: str,
    pairs: list[tuple[str, str]],
    headers: Mapping[str, str],
    lookup_secret: Callable[[str], str | None],
    now: datetime | None,
    expected_service: str | None,
) -> AuthContext:
    params = _presigned_params(pairs)
    access_key, date, region, service = _scope(
        params["X-Amz-Credential"], "AuthorizationQueryParametersError", _QRY, expected_service
    )
    amz_date = _presigned_date(params, date, now)
    secret = lookup_secret(access_key)
    if secret is None:
        raise S3Error("InvalidAccessKeyId", extra={"AWSAccessKeyId": access_key})
    signed_headers = params["X-Amz-SignedHeaders"]
    _require_host_signed(signed_headers)
    signed = set(signed_headers.lower().split(";"))
    payloads = _presigned_payloads(headers, signed)
    scope = f"{date}/{region}/{service}/{TERMINATOR}"
    key = derive_signing_key(secret, date, region, service)
    signature = params["X-Amz-Signature"]
    payload_hash = _verify(
        method,
        raw_path,
        canonical_query(pairs, skip_signature=True),
        headers,
        signed_headers,
        payloads,
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


def _presigned_params(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """The X-Amz-* query parameters (the first of each), all the required ones present."""
    params: dict[str, str] = {}
    for k, v in pairs:
        if k.startswith("X-Amz-"):
            params.setdefault(k, _unquote(v) if "%" in v else v)
    if any(not params.get(name) for name in _PRESIGN_KEYS):
        raise S3Error("AuthorizationQueryParametersError", _PRESIGN_REQUIRED)
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise S3Error("AuthorizationQueryParametersError", f'X-Amz-Algorithm only supports "{ALGORITHM}"')
    return params


def _presigned_date(params: dict[str, str], date: str, now: datetime | None) -> str:
    """X-Amz-Date, once X-Amz-Expires is valid and the URL is valid now."""
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
            extra={"X-Amz-Date": amz_date, "ServerTime": iso_time(now_ts)},
        )
    if now_ts > request_ts + expires:
        raise S3Error(
            "AccessDenied",
            "Request has expired",
            extra={
                "X-Amz-Expires": str(expires),
                "Expires": iso_time(request_ts + expires),
                "ServerTime": iso_time(now_ts),
            },
        )
    return amz_date


def _presigned_payloads(headers: Mapping[str, str], signed: set[str]) -> tuple[str, ...]:
    """The payload hashes the signature may have been made with, after refusing x-amz-*
    headers the URL did not sign."""
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
        if not valid_payload_hash(header_payload):
            raise S3Error(
                "InvalidArgument",
                BAD_CONTENT_SHA256,
                extra=argument("x-amz-content-sha256", header_payload),
            )
        payloads.append(header_payload)
    return tuple(payloads)


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

"""AWS Signature Version 2 (HMAC-SHA1) for S3: Authorization header, query string, POST forms.

Follows "Signing and Authenticating REST Requests":

    StringToSign = VERB \\n Content-MD5 \\n Content-Type \\n Date \\n
                   CanonicalizedAmzHeaders CanonicalizedResource

Date is empty when x-amz-date is sent, and is the Expires value in query-string auth. The
resource is the path (with "/bucket" in front for virtual-host style) plus the sorted
subresources, whose values are signed decoded. The first attempt uses AWS's documented
subresource list; only after a mismatch are the alternatives tried (botocore's longer list,
virtual-host bucket prefixes, the Date header beside x-amz-date).
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from urllib.parse import quote, unquote

from api.auth.signing import (
    MAX_EXPIRES_SECONDS,
    MAX_SKEW_SECONDS,
    UNSIGNED_PAYLOAD,
    AuthContext,
    from_date_header,
    iso_time,
    now_timestamp,
)
from api.errors import S3Error

# AWS's documented subresources, plus the response-* overrides of GET Object.
SUBRESOURCES = frozenset(
    {
        "acl", "delete", "lifecycle", "location", "logging", "notification", "partNumber",
        "policy", "requestPayment", "tagging", "torrent", "uploadId", "uploads", "versionId",
        "versioning", "versions", "website", "response-content-type", "response-content-language",
        "response-expires", "response-cache-control", "response-content-disposition",
        "response-content-encoding",
    }
)  # fmt: skip
# botocore's HmacV1Auth also signs these; tried when the documented list does not verify.
SDK_SUBRESOURCES = SUBRESOURCES | {
    "accelerate", "analytics", "cors", "defaultObjectAcl", "inventory", "metrics", "object-lock",
    "replication", "restore", "select", "select-type", "storageClass",
}  # fmt: skip
_QUERY_REQUIRED = "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters"


def sign(secret: str, string_to_sign: str) -> str:
    """base64(HMAC-SHA1(secret, UTF-8 string to sign))."""
    digest = hmac.digest(secret.encode(), string_to_sign.encode(), "sha1")
    return base64.b64encode(digest).decode()


def _text(value: str) -> str:
    """The text a client signed: ASGI gives latin-1 text of the wire bytes, clients send UTF-8."""
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def canonical_amz_headers(headers: Mapping[str, str]) -> str:
    """Sorted "name:value\\n" lines of the x-amz-* headers (names lower-case, values trimmed)."""
    lines = []
    for name in sorted(h for h in headers if h.startswith("x-amz-")):
        value = ",".join(v.strip() for v in _text(headers[name]).split("\n"))
        lines.append(f"{name}:{value.strip()}\n")
    return "".join(lines)


def query_items(query_string: str) -> list[tuple[str, str | None]]:
    """(name, decoded value) pairs; the value is None when the item has no '=' ("?acl")."""
    items: list[tuple[str, str | None]] = []
    for item in query_string.split("&"):
        if item:
            name, eq, value = item.partition("=")
            items.append((name, unquote(value) if eq else None))
    return items


def canonical_resource(path: str, items: list[tuple[str, str | None]], names: frozenset[str]) -> str:
    """The path plus the signed subresources, sorted by name, values decoded."""
    subs = sorted((kv for kv in items if kv[0] in names), key=lambda kv: kv[0])
    if not subs:
        return path
    return path + "?" + "&".join(k if v is None else f"{k}={v}" for k, v in subs)


def string_to_sign(method: str, content_md5: str, content_type: str, date: str, amz: str, resource: str) -> str:
    return f"{method}\n{content_md5.strip()}\n{_text(content_type).strip()}\n{date}\n{amz}{resource}"


def _paths(raw_path: str, host: str) -> Iterator[str]:
    """The path as sent, then variants: re-encoded, with each possible virtual-host bucket in front."""
    path = raw_path or "/"
    yield path
    if path.count("/") == 1 and path != "/":  # "/bucket": signers use the "/bucket/" form
        yield path + "/"
    normalised = quote(unquote(path), safe="/~")
    if normalised != path:
        yield normalised
    hostname = host.rsplit(":", 1)[0] if host and not host.startswith("[") else ""
    labels = hostname.split(".")
    if len(labels) < 2 or hostname.replace(".", "").isdigit():
        return
    for i in range(1, len(labels) + 1):
        yield "/" + ".".join(labels[:i]) + path


def _verify(
    access_key: str,
    secret: str,
    signature: str,
    method: str,
    raw_path: str,
    items: list[tuple[str, str | None]],
    headers: Mapping[str, str],
    dates: list[str],
) -> None:
    md5 = headers.get("content-md5", "")
    ctype = headers.get("content-type", "")
    amz = canonical_amz_headers(headers)
    provided = signature.encode() if signature.isascii() else b""
    first = ""
    for names in (SUBRESOURCES, SDK_SUBRESOURCES):
        for path in _paths(raw_path, headers.get("host", "")):
            resource = canonical_resource(path, items, names)
            for date in dates:
                sts = string_to_sign(method, md5, ctype, date, amz, resource)
                if hmac.compare_digest(sign(secret, sts).encode(), provided):
                    return
                first = first or sts
        if not any(k in SDK_SUBRESOURCES and k not in SUBRESOURCES for k, _ in items):
            break
    raise S3Error(
        "SignatureDoesNotMatch",
        extra={
            "AWSAccessKeyId": access_key,
            "StringToSign": first,
            "SignatureProvided": signature,
            "StringToSignBytes": " ".join(f"{b:02x}" for b in first.encode()),
        },
    )


def _lookup(lookup_secret: Callable[[str], str | None], access_key: str) -> str:
    secret = lookup_secret(access_key)
    if secret is None:
        raise S3Error("InvalidAccessKeyId", extra={"AWSAccessKeyId": access_key})
    return secret


def authenticate_header(
    method: str,
    raw_path: str,
    query_string: str,
    headers: Mapping[str, str],
    authorization: str,
    lookup_secret: Callable[[str], str | None],
    now: datetime | None = None,
) -> AuthContext:
    """``Authorization: AWS AccessKeyId:Signature``."""
    access_key, colon, signature = authorization[4:].strip().rpartition(":")
    if not colon or not access_key or not signature:
        raise S3Error(
            "InvalidArgument",
            "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature",
            extra={"ArgumentName": "Authorization", "ArgumentValue": authorization},
        )
    amz_date = headers.get("x-amz-date")
    date = headers.get("date")
    stamp = amz_date if amz_date is not None else date
    request_ts = from_date_header(stamp)[1] if stamp else None
    if request_ts is None or request_ts < 0:  # AWS refuses dates before the epoch outright
        raise S3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header")
    now_ts = now_timestamp(now)
    if abs(request_ts - now_ts) > MAX_SKEW_SECONDS:
        raise S3Error(
            "RequestTimeTooSkewed",
            extra={
                "RequestTime": stamp or "",
                "ServerTime": iso_time(now_ts),
                "MaxAllowedSkewMilliseconds": str(MAX_SKEW_SECONDS * 1000),
            },
        )
    secret = _lookup(lookup_secret, access_key)
    # With x-amz-date the Date line is empty; some signers still put the Date header there.
    dates = [""] if amz_date is not None else [date or ""]
    if amz_date is not None and date:
        dates.append(date)
    items = query_items(query_string)
    _verify(access_key, secret, signature, method, raw_path, items, headers, dates)
    return AuthContext(
        access_key,
        "header-v2",
        UNSIGNED_PAYLOAD,
        security_token=headers.get("x-amz-security-token"),
    )


def authenticate_query(
    method: str,
    raw_path: str,
    query_string: str,
    headers: Mapping[str, str],
    lookup_secret: Callable[[str], str | None],
    now: datetime | None = None,
) -> AuthContext:
    """``?AWSAccessKeyId=..&Expires=..&Signature=..``: Expires takes the Date line's place."""
    items = query_items(query_string)
    params: dict[str, str] = {}
    for k, v in items:
        params.setdefault(k, v or "")
    access_key = params.get("AWSAccessKeyId", "")
    signature = params.get("Signature", "")
    expires = params.get("Expires", "")
    if not (access_key and signature and expires):
        raise S3Error("AccessDenied", _QUERY_REQUIRED)
    if not (expires.isascii() and expires.isdigit()):
        raise S3Error("AccessDenied", f"Invalid date (should be seconds since epoch): {expires}")
    now_ts = now_timestamp(now)
    if now_ts > int(expires):
        raise S3Error(
            "AccessDenied",
            "Request has expired",
            extra={"Expires": iso_time(int(expires)), "ServerTime": iso_time(now_ts)},
        )
    # AWS documents no limit for SigV2; a URL that outlives SigV4's week is refused as SigV4
    # refuses one, counted from the time of the request (SigV2 URLs carry no signing time).
    if int(expires) - now_ts > MAX_EXPIRES_SECONDS:
        raise S3Error(
            "AuthorizationQueryParametersError",
            f"Expires must be less than a week (in seconds) after the request time, that is; {MAX_EXPIRES_SECONDS}",
        )
    secret = _lookup(lookup_secret, access_key)
    # Signers move x-amz-*, Content-Type and Content-MD5 into the query; headers sent win.
    signed = dict(headers)
    for k, v in params.items():
        name = k.lower()
        if (name.startswith("x-amz-") or name in ("content-type", "content-md5")) and (name not in signed):
            signed[name] = v
    candidates = [signature]
    if " " in signature:  # a '+' left unencoded in the query
        candidates.append(signature.replace(" ", "+"))
    for i, sig in enumerate(candidates):
        try:
            _verify(access_key, secret, sig, method, raw_path, items, signed, [expires])
            break
        except S3Error:
            if i == len(candidates) - 1:
                raise
    return AuthContext(
        access_key,
        "presigned-v2",
        UNSIGNED_PAYLOAD,
        security_token=signed.get("x-amz-security-token"),
    )


def verify_post_signature(form: Mapping[str, str], lookup_secret: Callable[[str], str | None]) -> str:
    """A SigV2 POST form (lower-case field names): Signature = base64(HMAC-SHA1(policy)).

    Returns the access key; the caller then checks the policy's conditions.
    """
    for name, label in (("policy", "Policy"), ("signature", "Signature")):
        if not form.get(name):
            raise S3Error(
                "InvalidArgument",
                f"Bucket POST must contain a field named '{label}'.  "
                "If it is specified, please check the order of the fields.",
                extra={"ArgumentName": label, "ArgumentValue": ""},
            )
    access_key = form["awsaccesskeyid"]
    secret = _lookup(lookup_secret, access_key)
    policy, signature = form["policy"], form["signature"]
    if not (signature.isascii() and hmac.compare_digest(sign(secret, policy), signature)):
        raise S3Error(
            "SignatureDoesNotMatch",
            extra={
                "AWSAccessKeyId": access_key,
                "StringToSign": policy,
                "SignatureProvided": signature,
            },
        )
    return access_key

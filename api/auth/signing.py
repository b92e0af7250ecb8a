"""What the signature versions share (SigV4, SigV2, POST policies, aws-chunked bodies): the
authentication result (AuthContext), SigV4's payload modes and limits, HMAC-SHA256 and the
signing key, request dates, and the answer for an anonymous request."""

from __future__ import annotations

import calendar
import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any

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


BAD_CONTENT_SHA256 = (
    "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER "
    "or a valid sha256 value."
)


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


def iso_time(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def now_timestamp(now: datetime | None) -> float:
    if now is None:
        return time.time()
    if now.tzinfo is None:  # naive datetimes are taken as UTC, never local time
        now = now.replace(tzinfo=UTC)
    return now.timestamp()


def valid_payload_hash(value: str) -> bool:
    return value in _SPECIAL_PAYLOADS or (len(value) == 64 and _HEX.issuperset(value))


def anonymous(headers: Mapping[str, str]) -> AuthContext:
    payload = headers.get("x-amz-content-sha256", UNSIGNED_PAYLOAD)
    if not valid_payload_hash(payload):
        raise S3Error("InvalidArgument", BAD_CONTENT_SHA256, extra=argument("x-amz-content-sha256", payload))
    return AuthContext(None, "anonymous", payload, security_token=headers.get("x-amz-security-token"))


def argument(name: str, value: str) -> dict[str, str]:
    return {"ArgumentName": name, "ArgumentValue": value}


def from_date_header(value: str) -> tuple[str | None, int | None]:
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

"""Helpers shared by the handlers: time formats, metadata headers, bucket name rules."""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from api.errors import S3Error
from api.request import S3Request
from api.s3.xmltext import carries
from projections.namespace.queries import get_bucket

log = logging.getLogger("chronicle.api")

# Headers stored with an object and returned on GET/HEAD as they were sent.
STORED_HEADERS = (
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
    "x-amz-website-redirect-location",
    "x-amz-storage-class",
)
MAX_METADATA_BYTES = 2048
MAX_KEY_BYTES = 1024

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_RE = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
# Names MinIO reserves (isMinioReservedBucket, isMinioMetaBucket): /minio/admin/,
# /minio/health/ and /minio/v2/metrics/ are served before S3, so a bucket "minio" would hold
# keys no request can reach.
RESERVED_BUCKETS = frozenset({"minio", ".minio.sys"})

# What an HTTP response header value cannot hold: control characters other than tab (uvicorn
# refuses to send them and drops the connection). A header name is an RFC 9110 token.
_NOT_HEADER_VALUE = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def valid_bucket_name(name: str) -> bool:
    if not _BUCKET_RE.match(name) or ".." in name or ".-" in name or "-." in name:
        return False
    if _IP_RE.match(name) or name.startswith("xn--") or name.endswith("-s3alias"):
        return False
    return True


def iso8601(us: int) -> str:
    dt = datetime.fromtimestamp(us / 1_000_000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(us: int) -> str:
    """RFC 7231's IMF-fixdate, as email.utils.format_datetime(usegmt=True) writes it, without
    building a datetime (every GET and HEAD formats one)."""
    t = time.gmtime(us // 1_000_000)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def parse_http_date(value: str) -> int | None:
    """Microseconds since the epoch, or None when the date is not parseable (AWS then
    ignores the condition)."""
    try:
        dt = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp()) * 1_000_000


def header_value(name: str, value: str) -> str:
    """`value`, which a later response will carry in a header (stored metadata and headers,
    Content-Type, response-* overrides, redirect locations). Refused with InvalidArgument,
    before anything is stored, when HTTP cannot carry it: a CR/LF would let the value
    inject headers, and the server would drop every later GET of the object."""
    if _NOT_HEADER_VALUE.search(value) is not None:
        raise S3Error(
            "InvalidArgument",
            f"{name} contains a control character (such as CR or LF) that HTTP headers cannot carry.",
            extra={"ArgumentName": name, "ArgumentValue": value},
        )
    return value


def metadata_name(name: str) -> str:
    """A user metadata name (after x-amz-meta-), which GET answers as a header name."""
    if _TOKEN.fullmatch(f"x-amz-meta-{name}") is None:
        raise S3Error(
            "InvalidArgument",
            "User metadata names must be HTTP header names (letters, digits and !#$%&'*+-.^_`|~).",
            extra={"ArgumentName": f"x-amz-meta-{name}", "ArgumentValue": name},
        )
    return name


def user_metadata(req: S3Request) -> dict[str, str]:
    meta: dict[str, str] = {}
    size = 0
    for name, value in req.headers.items():
        if name.startswith("x-amz-meta-"):
            key = name[len("x-amz-meta-") :]
            # ASGI gives the header bytes as latin-1 text. Clients send UTF-8 (botocore) or
            # latin-1: keep the text they meant, UTF-8 when the bytes are valid UTF-8.
            raw = value.encode("latin-1")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = value
            meta[key] = header_value(name, text)
            size += len(key) + len(raw)
    if size > MAX_METADATA_BYTES:
        raise S3Error("MetadataTooLarge", extra={"Size": str(size), "MaxSizeAllowed": str(MAX_METADATA_BYTES)})
    return meta


def stored_content_type(value: str | None, default: str) -> str:
    """The Content-Type to store (answered on every GET and HEAD)."""
    return header_value("Content-Type", value) if value else default


def stored_headers(req: S3Request) -> dict[str, str]:
    stored = {name: header_value(name, req.headers[name]) for name in STORED_HEADERS if name in req.headers}
    if "content-encoding" in stored:
        # aws-chunked is transfer framing, not a property of the object.
        rest = [e.strip() for e in stored["content-encoding"].split(",") if e.strip() and e.strip() != "aws-chunked"]
        if rest:
            stored["content-encoding"] = ", ".join(rest)
        else:
            del stored["content-encoding"]
    return stored


def check_key(key: str) -> None:
    """A key a write may create: at most 1024 bytes, and only characters an XML 1.0 listing
    can carry. AWS accepts the other control characters and lists them as &#x1; and the like,
    which only XML 1.1 allows: boto3 and the aws cli (expat) cannot parse such a listing
    unless they asked for encoding-type=url, which boto3 never does for ListMultipartUploads."""
    if len(key.encode()) > MAX_KEY_BYTES:
        raise S3Error("KeyTooLongError", extra={"MaxSizeAllowed": str(MAX_KEY_BYTES), "Size": str(len(key.encode()))})
    if not carries(key):
        raise S3Error(
            "InvalidArgument",
            "Object keys cannot contain control characters other than tab, line feed and carriage return.",
            extra={"ArgumentName": "key", "ArgumentValue": key},
        )


def etag_header(etag: str) -> str:
    return f'"{etag}"'


def strip_etag(value: str) -> str:
    v = value.strip()
    if v.startswith("W/"):
        v = v[2:]
    return v.strip('"')


def etag_matches(header_value: str, etag: str) -> bool:
    for candidate in header_value.split(","):
        c = candidate.strip()
        if c == "*" or strip_etag(c) == etag:
            return True
    return False


def meta_header_value(text: str) -> str:
    """Header text for a stored metadata value: latin-1 bytes when it fits (what clients
    decode headers as), else its UTF-8 bytes."""
    try:
        text.encode("latin-1")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8").decode("latin-1")


def object_headers(row: dict[str, Any]) -> dict[str, str]:
    """The response headers describing a stored version."""
    h: dict[str, str] = {
        "etag": etag_header(row["etag"]),
        "last-modified": http_date(row["mtime_us"]),
        "accept-ranges": "bytes",
    }
    ctype = row.get("content_type") or ""
    if ctype:
        h["content-type"] = ctype
    stored = row.get("headers") or {}
    for name, value in stored.items():
        if name == "x-amz-storage-class" and value == "STANDARD":
            continue
        h[name] = value
    meta = row.get("metadata") or {}
    for name, value in meta.items():
        h[f"x-amz-meta-{name}"] = meta_header_value(value)
    if row["version_id"] != "null" or row.get("_versioned_bucket"):
        h["x-amz-version-id"] = row["version_id"]
    tags = row.get("tags") or {}
    if tags:
        h["x-amz-tagging-count"] = str(len(tags))
    # Only the stored strings can hold what HTTP cannot carry (versions written before they
    # were checked); one search over them all, on every GET and HEAD.
    if stored or meta:
        values = "\t".join((ctype, *stored.values(), *meta.values()))
        names_ok = not meta or _TOKEN.fullmatch("-".join(meta)) is not None
        sendable = names_ok and _NOT_HEADER_VALUE.search(values) is None
    else:
        sendable = _NOT_HEADER_VALUE.search(ctype) is None
    return h if sendable else _sendable(h, row)


def _sendable(headers: dict[str, str], row: dict[str, Any]) -> dict[str, str]:
    """The headers HTTP can carry. Versions written before such values were refused may hold
    a CR/LF or a name that is no header name: leaving those headers out keeps the object
    readable (uvicorn would drop the connection instead)."""
    out = {}
    for name, value in headers.items():
        if _TOKEN.fullmatch(name) is None or _NOT_HEADER_VALUE.search(value) is not None:
            log.warning(
                "%s/%s version %s: stored header %r cannot be sent over HTTP; left out",
                row["bucket"],
                row["key"],
                row["version_id"],
                name,
            )
            continue
        out[name] = value
    return out


def bucket_must_exist(tx: Any, bucket: str) -> dict[str, Any]:
    row = get_bucket(tx, bucket)
    if row is None:
        raise S3Error("NoSuchBucket", resource=f"/{bucket}", extra={"BucketName": bucket})
    return row

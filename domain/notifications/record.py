"""MinIO's event record (`internal/event/event.go`, built by `eventArgs.ToEvent` in
`cmd/event-notification.go`) and the target payloads around it, serialized byte for
byte as Go's encoding/json does.

    rec = build_record(event_name="s3:ObjectCreated:Put", bucket="images", key="a b.jpg",
                       event_time=dt, sequencer=sequencer_for(position), principal_id="minioadmin",
                       source_ip="127.0.0.1", request_id="...", size=2586, etag="...", ...)
    dumps_go(rec)            # the record
    namespace_value(rec)     # {"Records":[rec]}     Redis namespace, PostgreSQL, MySQL
    access_entry(rec)        # [{"Event":[rec],"EventTime":"..."}]   Redis access format
    log_body(name, namespace_key(bucket, key), rec)   # {"EventName","Key","Records"}  webhook, AMQP

`build_record` returns plain dicts whose insertion order is MinIO's struct field order,
with the Go maps (requestParameters, responseElements, userMetadata) already sorted;
`dumps_go` keeps dict order as given.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from domain.notifications.names import REMOVED_WITHOUT_OBJECT_INFO

# -- Go's encoding/json ------------------------------------------------------------------

_HTML_ESCAPES = (
    (b"<", b"\\u003c"),
    (b">", b"\\u003e"),
    (b"&", b"\\u0026"),
    ("\u2028".encode(), b"\\u2028"),
    ("\u2029".encode(), b"\\u2029"),
)

_GO_SHORT = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}
_GO_U = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _go_string(s: str) -> str:
    out = ['"']
    for ch in s:
        c = ord(ch)
        short = _GO_SHORT.get(ch)
        if short is not None:
            out.append(short)
        elif c < 0x20:
            out.append(f"\\u{c:04x}")
        elif ch in _GO_U:
            out.append(_GO_U[ch])
        elif 0xD800 <= c <= 0xDFFF:
            # A lone surrogate stands for a byte that is not valid UTF-8: Go writes \ufffd.
            out.append("\\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _go_encode(obj: Any, out: list[str]) -> None:
    if isinstance(obj, str):
        out.append(_go_string(obj))
    elif obj is None:
        out.append("null")
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif isinstance(obj, int):
        out.append(str(obj))
    elif isinstance(obj, Mapping):
        out.append("{")
        first = True
        for k, v in obj.items():
            if not first:
                out.append(",")
            first = False
            out.append(_go_string(str(k)))
            out.append(":")
            _go_encode(v, out)
        out.append("}")
    elif isinstance(obj, list | tuple):
        out.append("[")
        for i, v in enumerate(obj):
            if i:
                out.append(",")
            _go_encode(v, out)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(obj).__name__}")


def dumps_go(obj: Any) -> bytes:
    """`json.Marshal` of dicts/lists/str/int/bool/None: compact, dict order kept, raw
    UTF-8 except `<`, `>`, `&`, U+2028, U+2029 (→ \\u003c …), control characters as
    \\b \\f \\n \\r \\t or \\u00XX, invalid UTF-8 (lone surrogates) as \\ufffd."""
    try:
        data = orjson.dumps(obj)
    except (TypeError, orjson.JSONEncodeError):
        out: list[str] = []
        _go_encode(obj, out)
        return "".join(out).encode("utf-8")
    for raw, esc in _HTML_ESCAPES:
        if raw in data:
            data = data.replace(raw, esc)
    return data


# -- url.QueryEscape / QueryUnescape --------------------------------------------------------

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
_HEX = "0123456789ABCDEF"


def _escape(s: str, keep: frozenset[int]) -> str:
    out: list[str] = []
    for b in s.encode("utf-8", "surrogateescape"):
        if b in keep:
            out.append(chr(b))
        elif b == 0x20:
            out.append("+")
        else:
            out.append("%" + _HEX[b >> 4] + _HEX[b & 15])
    return "".join(out)


def query_escape(s: str) -> str:
    """Go's `url.QueryEscape`: A-Z a-z 0-9 - _ . ~ kept, space → `+`, every other byte of
    the UTF-8 form → `%XX` (uppercase)."""
    return _escape(s, _UNRESERVED)


_UNRESERVED_AND_SLASH = _UNRESERVED | {ord("/")}


def query_escape_aws(s: str) -> str:
    """Like `query_escape` but `/` is kept, as AWS writes keys in event records."""
    return _escape(s, _UNRESERVED_AND_SLASH)


def query_unescape(s: str) -> str:
    """Go's `url.QueryUnescape`: `+` → space, `%XX` → byte; a bad escape raises
    ValueError. Bytes that are not UTF-8 come back as lone surrogates."""
    out = bytearray()
    i = 0
    raw = s.encode("utf-8", "surrogateescape")
    n = len(raw)
    while i < n:
        b = raw[i]
        if b == 0x25:  # %
            h = raw[i + 1 : i + 3]
            if len(h) < 2 or not all(c in b"0123456789abcdefABCDEF" for c in h):
                raise ValueError(f"invalid URL escape {raw[i : i + 3].decode('latin-1')!r}")
            out.append(int(h, 16))
            i += 3
        elif b == 0x2B:  # +
            out.append(0x20)
            i += 1
        else:
            out.append(b)
            i += 1
    return out.decode("utf-8", "surrogateescape")


KEY_ENCODINGS = ("minio", "aws", "raw")


def encode_key(key: str, key_encoding: str = "minio") -> str:
    """`s3.object.key` as a target sees it: "minio" (url.QueryEscape, `/` → %2F; MinIO's
    default), "aws" (`/` kept), "raw" (unescaped, as the listen API sends it)."""
    if key_encoding == "minio":
        return query_escape(key)
    if key_encoding == "aws":
        return query_escape_aws(key)
    if key_encoding == "raw":
        return key
    raise ValueError(f"unknown key encoding {key_encoding!r}")


# -- record ---------------------------------------------------------------------------------

AMZ_TIME_FORMAT = "2006-01-02T15:04:05.000Z"  # Go layout, for reference
RESERVED_METADATA_PREFIX_LOWER = "x-minio-internal-"


def format_event_time(t: datetime) -> str:
    """Go's `Format("2006-01-02T15:04:05.000Z")` of the time in UTC (milliseconds
    truncated, not rounded). A naive datetime is taken as UTC."""
    if t.tzinfo is not None:
        t = t.astimezone(UTC)
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
        f".{t.microsecond // 1000:03d}Z"
    )


def parse_event_time(s: str) -> datetime:
    """The aware UTC datetime of an eventTime string (what the SQL targets store)."""
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def sequencer_for(position: int) -> str:
    """Our `sequencer`: the log position as 16 uppercase hex digits (monotonic per key in
    log order; MinIO uses `%X` of the object mtime in ns, which is not)."""
    return f"{position:016X}"


def _sorted_map(m: Mapping[str, str]) -> dict[str, str]:
    # Go sorts map keys by their bytes; UTF-8 byte order is code point order.
    return {k: m[k] for k in sorted(m)}


def build_record(
    *,
    event_name: str,
    bucket: str,
    key: str,
    event_time: datetime | str,
    sequencer: str,
    principal_id: str = "",
    region: str = "",
    source_ip: str = "",
    host: str | None = None,
    user_agent: str = "",
    request_id: str = "",
    node_id: str = "",
    deployment_id: str = "",
    origin_endpoint: str = "",
    content_length: str | int | None = None,
    range: str | None = None,
    size: int = 0,
    etag: str = "",
    content_type: str = "",
    user_metadata: Mapping[str, str] | None = None,
    version_id: str = "",
    key_encoding: str = "minio",
) -> dict[str, Any]:
    """One event record, as `ToEvent` builds it.

    principal_id: the request's access key, or its parent user for service accounts and
    STS credentials; also userIdentity and bucket.ownerIdentity. region: the server
    region (awsRegion and requestParameters.region). host: the client address in
    `source.host` (defaults to source_ip). node_id: x-amz-id-2. origin_endpoint:
    x-minio-origin-endpoint. content_length: only given when the response carried one.
    range: the request's Range header, if any. user_metadata: the object's stored
    metadata as MinIO keeps it (`X-Amz-Meta-*` keys and `content-type` etc.);
    `X-Minio-Internal-*` keys are dropped. size, etag, content_type and user_metadata are
    left out for s3:ObjectRemoved:{Delete,DeleteMarkerCreated,NoOP}; size 0, empty
    metadata and an empty version_id are left out as Go's omitempty does.
    """
    if isinstance(event_time, datetime):
        event_time = format_event_time(event_time)
    req: dict[str, str] = {
        "principalId": principal_id,
        "region": region,
        "sourceIPAddress": source_ip,
    }
    if range:
        req["range"] = range
    resp: dict[str, str] = {
        "x-amz-id-2": node_id,
        "x-amz-request-id": request_id,
        "x-minio-deployment-id": deployment_id,
        "x-minio-origin-endpoint": origin_endpoint,
    }
    if content_length is not None and str(content_length) != "":
        resp["content-length"] = str(content_length)

    obj: dict[str, Any] = {"key": encode_key(key, key_encoding)}
    if event_name not in REMOVED_WITHOUT_OBJECT_INFO:
        if size:
            obj["size"] = int(size)
        if etag:
            obj["eTag"] = etag
        if content_type:
            obj["contentType"] = content_type
        meta = {
            k: v for k, v in (user_metadata or {}).items() if not k.lower().startswith(RESERVED_METADATA_PREFIX_LOWER)
        }
        if meta:
            obj["userMetadata"] = _sorted_map(meta)
    if version_id:
        obj["versionId"] = version_id
    obj["sequencer"] = sequencer

    return {
        "eventVersion": "2.0",
        "eventSource": "minio:s3",
        "awsRegion": region,
        "eventTime": event_time,
        "eventName": event_name,
        "userIdentity": {"principalId": principal_id},
        "requestParameters": _sorted_map(req),
        "responseElements": _sorted_map(resp),
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "Config",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": principal_id},
                "arn": "arn:aws:s3:::" + bucket,
            },
            "object": obj,
        },
        "source": {
            "host": source_ip if host is None else host,
            "port": "",
            "userAgent": user_agent,
        },
    }


# -- target payloads -----------------------------------------------------------------------


def _record_bytes(record: Mapping[str, Any] | bytes) -> bytes:
    return record if isinstance(record, bytes) else dumps_go(record)


def namespace_key(bucket: str, object_name: str) -> str:
    """The row / hash field / document key and the `Key` of webhook and AMQP bodies:
    `bucket/object` with the object name unescaped."""
    return bucket + "/" + object_name


def namespace_key_from_record(record: Mapping[str, Any]) -> str:
    """What MinIO's targets compute: bucket + "/" + QueryUnescape(s3.object.key). Only
    for records whose key is escaped (not "raw")."""
    s3 = record["s3"]
    return namespace_key(s3["bucket"]["name"], query_unescape(s3["object"]["key"]))


def namespace_value(record: Mapping[str, Any] | bytes) -> bytes:
    """`{"Records":[<record>]}`: Redis namespace HSET value, PostgreSQL/MySQL value and
    event_data, the listen API's lines."""
    return b'{"Records":[' + _record_bytes(record) + b"]}"


def access_entry(record: Mapping[str, Any]) -> bytes:
    """Redis access format RPUSH value: `[{"Event":[<record>],"EventTime":"<eventTime>"}]`."""
    return b'[{"Event":[' + dumps_go(record) + b'],"EventTime":' + dumps_go(record["eventTime"]) + b"}]"


def log_body(event_name: str, key: str, record: Mapping[str, Any] | bytes) -> bytes:
    """`event.Log` (webhook POST body, AMQP message body):
    `{"EventName":"…","Key":"bucket/unescaped-key","Records":[<record>]}`; `key` is the
    namespace key (see `namespace_key`)."""
    return (
        b'{"EventName":'
        + dumps_go(event_name)
        + b',"Key":'
        + dumps_go(key)
        + b',"Records":['
        + _record_bytes(record)
        + b"]}"
    )

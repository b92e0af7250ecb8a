"""Bucket NotificationConfiguration XML: parse, validate and serialize as MinIO does
(`internal/event/config.go`, `cmd/bucket-notification-handlers.go`).

    config = parse_config(root, region=server_region, known_arns=arns_of_configured_targets)
    if config.is_empty: ...remove the bucket's rules...
    config.to_xml()  # what GET ?notification answers

Errors are NotificationError (a DomainError) with MinIO's S3 code and message
(`cmd/api-errors.go`); `.reason` holds MinIO's internal error text. Checks happen in
MinIO's order: while decoding, in document order (event names, ARN syntax, filter rule
names and values, duplicate prefix/suffix at the end of <S3Key>, missing or duplicate
events at the end of each <QueueConfiguration>); then identical QueueConfigurations;
then Topic/CloudFunction configurations; then, queue by queue, region and target
existence. Finally every queue's ARN takes the server region.

One deliberate difference: MinIO's FilterRule decoder validates the wrong variable, so
MinIO never rejects a filter value; here values are validated as MinIO means to (≤ 1024
bytes, valid UTF-8, no `\\`, no `.`/`..` path segment), as AWS does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any
from xml.etree import ElementTree as ET

from domain.notifications.arn import ARN, ARN_NOT_FOUND, parse_arn
from domain.notifications.names import NotificationError, parse_rule_name

S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"

MALFORMED_XML = "The XML you provided was not well-formed or did not validate against our published schema."
FILTER_NAME_INVALID = "filter rule name must be either prefix or suffix"
FILTER_NAME_PREFIX = "Cannot specify more than one prefix rule in a filter."
FILTER_NAME_SUFFIX = "Cannot specify more than one suffix rule in a filter."
FILTER_VALUE_INVALID = "Size of filter rule value cannot exceed 1024 bytes in UTF-8 representation"
OVERLAPPING_CONFIGS = "Configurations overlap. Configurations on the same bucket cannot share a common event type."
OVERLAPPING_FILTER = (
    "An object key name filtering rule defined with overlapping prefixes, overlapping suffixes, "
    "or overlapping combinations of prefixes and suffixes for the same event types."
)
REGION_MISMATCH = (
    "A specified destination is in a different region than the bucket. You must use a "
    "destination that resides in the same region as the bucket."
)
UNSUPPORTED_NOTIFICATION = "MinIO server does not support Topic or Cloud Function based notifications."


def _err(code: str, message: str, reason: str) -> NotificationError:
    return NotificationError(code, message, reason)


def _malformed(reason: str) -> NotificationError:
    return _err("MalformedXML", MALFORMED_XML, reason)


# -- model ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FilterRule:
    name: str  # "prefix" or "suffix"
    value: str


@dataclass(frozen=True)
class QueueConfig:
    """One <QueueConfiguration>: events as written (wildcards kept), rules in order."""

    id: str
    filter_rules: tuple[FilterRule, ...]
    events: tuple[str, ...]
    arn: ARN

    @property
    def prefix(self) -> str:
        return next((r.value for r in reversed(self.filter_rules) if r.name == "prefix"), "")

    @property
    def suffix(self) -> str:
        return next((r.value for r in reversed(self.filter_rules) if r.name == "suffix"), "")


@dataclass(frozen=True)
class NotificationConfig:
    queues: tuple[QueueConfig, ...] = ()
    xmlns: str = S3_XMLNS

    @property
    def is_empty(self) -> bool:
        """An empty configuration: PUT of it removes the bucket's rules."""
        return not self.queues

    def with_region(self, region: str) -> NotificationConfig:
        """`Config.SetRegion`: every queue's ARN takes `region`."""
        return replace(self, queues=tuple(replace(q, arn=q.arn.with_region(region)) for q in self.queues))

    def for_get(self, region: str, known_arns: Iterable[ARN | str | tuple[str, str]]) -> NotificationConfig:
        """What GET ?notification shows: ARNs in the server region, and queues whose
        target no longer exists left out (MinIO drops stale ARNs on GET; it drops only
        the first missing ARN per request, this drops all)."""
        known = _target_ids(known_arns)
        cfg = self.with_region(region)
        return replace(cfg, queues=tuple(q for q in cfg.queues if q.arn.target_id in known))

    def to_xml(self) -> bytes:
        """Go's `xml.Marshal(config)`: no XML declaration, no indentation, `<Id>` always,
        `<Filter>` only when it has rules."""
        out = [f'<NotificationConfiguration xmlns="{go_xml_escape(self.xmlns)}">']
        for q in self.queues:
            out.append(f"<QueueConfiguration><Id>{go_xml_escape(q.id)}</Id>")
            if q.filter_rules:
                out.append("<Filter><S3Key>")
                for r in q.filter_rules:
                    out.append(
                        f"<FilterRule><Name>{go_xml_escape(r.name)}</Name>"
                        f"<Value>{go_xml_escape(r.value)}</Value></FilterRule>"
                    )
                out.append("</S3Key></Filter>")
            for e in q.events:
                out.append(f"<Event>{go_xml_escape(e)}</Event>")
            out.append(f"<Queue>{go_xml_escape(str(q.arn))}</Queue></QueueConfiguration>")
        out.append("</NotificationConfiguration>")
        return "".join(out).encode("utf-8", "surrogatepass")

    # JSON-able form for event payloads.
    def to_dict(self) -> dict[str, Any]:
        return {
            "xmlns": self.xmlns,
            "queues": [
                {
                    "id": q.id,
                    "filter": [[r.name, r.value] for r in q.filter_rules],
                    "events": list(q.events),
                    "arn": [q.arn.region, q.arn.id, q.arn.type],
                }
                for q in self.queues
            ],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> NotificationConfig:
        if not d:
            return cls()
        return cls(
            queues=tuple(
                QueueConfig(
                    id=q.get("id", ""),
                    filter_rules=tuple(FilterRule(n, v) for n, v in q.get("filter", ())),
                    events=tuple(q.get("events", ())),
                    arn=ARN(*q["arn"]),
                )
                for q in d.get("queues", ())
            ),
            xmlns=d.get("xmlns") or S3_XMLNS,
        )


EMPTY = NotificationConfig()


# -- validation helpers ----------------------------------------------------------------


def validate_filter_value(value: str) -> None:
    """`ValidateFilterRuleValue` (also used for the listen API's prefix/suffix)."""
    ok = True
    for segment in value.split("/"):
        if segment in (".", ".."):
            ok = False
            break
    if ok:
        try:
            raw = value.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: not valid UTF-8
            ok = False
        else:
            ok = len(raw) <= 1024 and "\\" not in value
    if not ok:
        raise _err("InvalidArgument", FILTER_VALUE_INVALID, f"invalid filter value '{value}'")


def _target_ids(known: Iterable[ARN | str | tuple[str, str]]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for k in known:
        if isinstance(k, ARN):
            out.add(k.target_id)
        elif isinstance(k, str):
            out.add(parse_arn(k).target_id)
        else:
            out.add((k[0], k[1]))
    return out


# -- XML decoding (document order, like Go's streaming decoder) --------------------------


def _local(tag: Any) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def _chardata(el: ET.Element) -> str:
    """Go decodes a string field from the element's own character data (children skipped)."""
    parts = [el.text or ""]
    for child in el:
        parts.append(child.tail or "")
    return "".join(parts)


def _parse_filter_rule(el: ET.Element) -> FilterRule:
    name = value = ""
    for child in el:
        tag = _local(child.tag)
        if tag == "Name":
            name = _chardata(child)
        elif tag == "Value":
            value = _chardata(child)
    if name not in ("prefix", "suffix"):
        raise _err("InvalidArgument", FILTER_NAME_INVALID, f"invalid filter name '{name}'")
    validate_filter_value(value)
    return FilterRule(name, value)


def _parse_s3key(el: ET.Element) -> tuple[FilterRule, ...]:
    rules: list[FilterRule] = []
    for child in el:
        if _local(child.tag) == "FilterRule":
            rules.append(_parse_filter_rule(child))
    seen: set[str] = set()
    for r in rules:
        if r.name in seen:
            if r.name == "prefix":
                raise _err("InvalidArgument", FILTER_NAME_PREFIX, "more than one prefix in filter rule")
            raise _err("InvalidArgument", FILTER_NAME_SUFFIX, "more than one suffix in filter rule")
        seen.add(r.name)
    return tuple(rules)


def _parse_queue(el: ET.Element) -> QueueConfig:
    qid = ""
    rules: tuple[FilterRule, ...] = ()
    events: list[str] = []
    arn = ARN("", "", "")
    for child in el:
        tag = _local(child.tag)
        if tag == "Id":
            qid = _chardata(child)
        elif tag == "Filter":
            for sub in child:
                if _local(sub.tag) == "S3Key":
                    rules = _parse_s3key(sub)
        elif tag == "Event":
            events.append(parse_rule_name(_chardata(child)))
        elif tag == "Queue":
            arn = parse_arn(_chardata(child))
    if not events:
        raise _malformed("missing event name(s)")
    seen: set[str] = set()
    for e in events:
        if e in seen:
            raise _err("InvalidArgument", OVERLAPPING_CONFIGS, f"duplicate event name '{e}' found")
        seen.add(e)
    return QueueConfig(qid, rules, tuple(events), arn)


def decode_config(root: ET.Element) -> NotificationConfig:
    """The decoding half of `ParseConfig` (Config.UnmarshalXML): per-document checks of a
    document the caller parsed (the API's one XML parser, which refuses DTDs and entities),
    no target or region check."""
    if _local(root.tag) != "NotificationConfiguration":
        raise _malformed(f"expected element type <NotificationConfiguration> but have <{_local(root.tag)}>")
    xmlns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""

    queues: list[QueueConfig] = []
    other = False
    for child in root:
        tag = _local(child.tag)
        if tag == "QueueConfiguration":
            queues.append(_parse_queue(child))
        elif tag in ("CloudFunctionConfiguration", "TopicConfiguration"):
            other = True

    for i, q1 in enumerate(queues[:-1]):
        for q2 in queues[i + 1 :]:
            # MinIO compares with q2's region dropped when only q2 names one.
            if q2.arn.region and not q1.arn.region:
                q2 = replace(q2, arn=q2.arn.with_region(""))
            if q1 == q2:
                raise _err(
                    "InvalidArgument",
                    OVERLAPPING_FILTER,
                    "duplicate queue configuration " + _queue_xml(q1),
                )
    if other:
        raise _err(
            "UnsupportedNotification",
            UNSUPPORTED_NOTIFICATION,
            "topic or cloud function configuration is not supported",
        )
    return NotificationConfig(tuple(queues), xmlns or S3_XMLNS)


def validate_config(config: NotificationConfig, region: str, known_arns: Iterable[ARN | str | tuple[str, str]]) -> None:
    """`Config.Validate`: each queue's ARN is in the server region (when both name one)
    and names a configured target."""
    known = _target_ids(known_arns)
    for q in config.queues:
        if q.arn.region and region and q.arn.region != region:
            raise _err("InvalidArgument", REGION_MISMATCH, f"unknown region '{q.arn.region}'")
        if q.arn.target_id not in known:
            raise _err("InvalidArgument", ARN_NOT_FOUND, f"ARN '{q.arn}' not found")


def parse_config(
    root: ET.Element, *, region: str = "", known_arns: Iterable[ARN | str | tuple[str, str]] = ()
) -> NotificationConfig:
    """`event.ParseConfig`: decode, validate against the configured targets, set the
    server region on every ARN. An empty configuration parses to `is_empty`."""
    config = decode_config(root)
    validate_config(config, region, known_arns)
    return config.with_region(region)


def _queue_xml(q: QueueConfig) -> str:
    return (
        NotificationConfig((q,))
        .to_xml()
        .decode("utf-8", "replace")
        .removeprefix(f'<NotificationConfiguration xmlns="{S3_XMLNS}">')
        .removesuffix("</NotificationConfiguration>")
        .replace("QueueConfiguration>", "Queue>")
    )


# -- Go's XML text escaping (encoding/xml EscapeString) ---------------------------------

_XML_ESC = {
    '"': "&#34;",
    "'": "&#39;",
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "\t": "&#x9;",
    "\n": "&#xA;",
    "\r": "&#xD;",
}


def _in_xml_range(c: int) -> bool:
    return c in (0x09, 0x0A, 0x0D) or 0x20 <= c <= 0xD7FF or 0xE000 <= c <= 0xFFFD or 0x10000 <= c <= 0x10FFFF


def go_xml_escape(s: str) -> str:
    """encoding/xml's escaping of text and attribute values: `"` → `&#34;`, `'` → `&#39;`,
    `& < >`, tab/newline/CR as character references, characters outside XML's range
    (and lone surrogates, i.e. invalid UTF-8) → U+FFFD."""
    out: list[str] = []
    for ch in s:
        esc = _XML_ESC.get(ch)
        if esc is not None:
            out.append(esc)
        elif not _in_xml_range(ord(ch)):
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)

"""Bucket NotificationConfiguration XML, checked against MinIO's internal/event/config.go
and cmd/api-errors.go. The XML fixtures marked "config_test.go" are MinIO's own test
documents (internal/event/config_test.go) with MinIO's expected outcome."""

import pytest

from api.errors import S3Error
from api.s3.xml import parse
from domain import notifications
from domain.errors import DomainError
from domain.notifications import (
    ARN,
    FilterRule,
    NotificationConfig,
    QueueConfig,
    validate_filter_value,
)
from domain.notifications.config import go_xml_escape


def decode_config(body):
    """The domain decodes what the API's one XML parser parsed."""
    return notifications.decode_config(parse(body))


def parse_config(body, **kwargs):
    return notifications.parse_config(parse(body), **kwargs)


NS = "http://s3.amazonaws.com/doc/2006-03-01/"
WEBHOOK1 = {ARN("", "1", "webhook")}

ARN_MSG = "A specified destination ARN does not exist or is not well-formed. Verify the destination ARN."
REGION_MSG = (
    "A specified destination is in a different region than the bucket. You must use a "
    "destination that resides in the same region as the bucket."
)
EVENT_MSG = "A specified event is not supported for notifications."
FILTER_NAME_MSG = "filter rule name must be either prefix or suffix"
PREFIX_MSG = "Cannot specify more than one prefix rule in a filter."
SUFFIX_MSG = "Cannot specify more than one suffix rule in a filter."
VALUE_MSG = "Size of filter rule value cannot exceed 1024 bytes in UTF-8 representation"
OVERLAP_CONFIGS_MSG = "Configurations overlap. Configurations on the same bucket cannot share a common event type."
OVERLAP_FILTER_MSG = (
    "An object key name filtering rule defined with overlapping prefixes, overlapping suffixes, "
    "or overlapping combinations of prefixes and suffixes for the same event types."
)
UNSUPPORTED_MSG = "MinIO server does not support Topic or Cloud Function based notifications."
MALFORMED_MSG = "The XML you provided was not well-formed or did not validate against our published schema."

# config_test.go dataCase1 / reader1
CASE1 = b"""
<NotificationConfiguration   xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
   <QueueConfiguration>
      <Id>1</Id>
      <Filter></Filter>
      <Queue>arn:minio:sqs:us-east-1:1:webhook</Queue>
      <Event>s3:ObjectAccessed:*</Event>
      <Event>s3:ObjectCreated:*</Event>
      <Event>s3:ObjectRemoved:*</Event>
   </QueueConfiguration>
</NotificationConfiguration>
"""

# config_test.go dataCase2 / reader2
CASE2 = b"""
<NotificationConfiguration  xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
   <QueueConfiguration>
      <Id>1</Id>
       <Filter>
           <S3Key>
               <FilterRule>
                   <Name>prefix</Name>
                   <Value>images/</Value>
               </FilterRule>
               <FilterRule>
                   <Name>suffix</Name>
                   <Value>jpg</Value>
               </FilterRule>
           </S3Key>
      </Filter>
      <Queue>arn:minio:sqs:us-east-1:1:webhook</Queue>
      <Event>s3:ObjectCreated:Put</Event>
   </QueueConfiguration>
</NotificationConfiguration>
"""

# config_test.go dataCase3 / reader3 (no xmlns)
CASE3 = b"""
<NotificationConfiguration>
   <QueueConfiguration>
      <Id>1</Id>
      <Filter></Filter>
      <Queue>arn:minio:sqs:us-east-1:1:webhook</Queue>
      <Event>s3:ObjectAccessed:*</Event>
      <Event>s3:ObjectCreated:*</Event>
      <Event>s3:ObjectRemoved:*</Event>
   </QueueConfiguration>
   <QueueConfiguration>
      <Id>2</Id>
       <Filter>
           <S3Key>
               <FilterRule>
                   <Name>prefix</Name>
                   <Value>images/</Value>
               </FilterRule>
               <FilterRule>
                   <Name>suffix</Name>
                   <Value>jpg</Value>
               </FilterRule>
           </S3Key>
      </Filter>
      <Queue>arn:minio:sqs:us-east-1:1:webhook</Queue>
      <Event>s3:ObjectCreated:Put</Event>
   </QueueConfiguration>
</NotificationConfiguration>
"""

# config_test.go dataCase4 / reader4
CASE4 = b"""
<NotificationConfiguration  xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
   <QueueConfiguration>
      <Id>1</Id>
      <Filter></Filter>
      <Queue>arn:minio:sqs:us-east-1:1:webhook</Queue>
      <Event>s3:ObjectAccessed:*</Event>
      <Event>s3:ObjectCreated:*</Event>
      <Event>s3:ObjectRemoved:*</Event>
   </QueueConfiguration>
   <CloudFunctionConfiguration>
      <Id>1</Id>
      <Filter>
             <S3Key>
                 <FilterRule>
                     <Name>suffix</Name>
                     <Value>.jpg</Value>
                 </FilterRule>
             </S3Key>
      </Filter>
      <Cloudcode>arn:aws:lambda:us-west-2:444455556666:cloud-function-A</Cloudcode>
      <Event>s3:ObjectCreated:Put</Event>
   </CloudFunctionConfiguration>
   <TopicConfiguration>
      <Topic>arn:aws:sns:us-west-2:444455556666:sns-notification-one</Topic>
      <Event>s3:ObjectCreated:*</Event>
  </TopicConfiguration>
</NotificationConfiguration>
"""

# config_test.go dataCase5
CASE5 = b'<NotificationConfiguration  xmlns="http://s3.amazonaws.com/doc/2006-03-01/" ></NotificationConfiguration>'

# What `mc event add ... --suffix .jpg` sends (docs/reference minio-formats.md 2.9).
MC_BODY = b"""<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <QueueConfiguration>
    <Id></Id>
    <Filter><S3Key>
      <FilterRule><Name>prefix</Name><Value>photos/</Value></FilterRule>
      <FilterRule><Name>suffix</Name><Value>.jpg</Value></FilterRule>
    </S3Key></Filter>
    <Event>s3:ObjectCreated:*</Event><Event>s3:ObjectRemoved:*</Event>
    <Queue>arn:minio:sqs::1:webhook</Queue>
  </QueueConfiguration>
</NotificationConfiguration>"""


def _queue(events, filters="", arn="arn:minio:sqs::1:webhook", qid=""):
    ev = "".join(f"<Event>{e}</Event>" for e in events)
    flt = f"<Filter><S3Key>{filters}</S3Key></Filter>" if filters else ""
    q = f"<Queue>{arn}</Queue>" if arn is not None else ""
    return f"<QueueConfiguration><Id>{qid}</Id>{flt}{ev}{q}</QueueConfiguration>"


def _doc(*queues, extra=""):
    return f'<NotificationConfiguration xmlns="{NS}">{"".join(queues)}{extra}</NotificationConfiguration>'.encode()


def _rule(name, value):
    return f"<FilterRule><Name>{name}</Name><Value>{value}</Value></FilterRule>"


def _fails(body, code, message, *, region="", known=WEBHOOK1):
    with pytest.raises((DomainError, S3Error)) as ei:
        parse_config(body, region=region, known_arns=known)
    assert (ei.value.code, ei.value.message) == (code, message)
    return ei.value


# -- MinIO's own fixtures ------------------------------------------------------------------------


@pytest.mark.parametrize("body", [CASE1, CASE2, CASE3, CASE5])
def test_config_test_go_decodes(body):
    decode_config(body)


def test_config_test_go_case4_topic_and_cloudfunction_unsupported():
    with pytest.raises(DomainError) as ei:
        decode_config(CASE4)
    assert (ei.value.code, ei.value.message) == ("UnsupportedNotification", UNSUPPORTED_MSG)


def test_parse_config_test_go_cases():
    # reader1, region eu-west-1, no targets: the ARN's region us-east-1 is not ours.
    _fails(CASE1, "InvalidArgument", REGION_MSG, region="eu-west-1", known=())
    # reader2, us-east-1, no targets: ARN not found.
    _fails(CASE2, "InvalidArgument", ARN_MSG, region="us-east-1", known=())
    # reader4: unsupported.
    _fails(CASE4, "UnsupportedNotification", UNSUPPORTED_MSG, region="us-east-1", known=())
    # reader3 with no server region and target 1:webhook; reader2 in us-east-1 with it.
    cfg = parse_config(CASE3, region="", known_arns=WEBHOOK1)
    assert [str(q.arn) for q in cfg.queues] == ["arn:minio:sqs::1:webhook"] * 2
    cfg = parse_config(CASE2, region="us-east-1", known_arns=WEBHOOK1)
    q = cfg.queues[0]
    assert (q.id, q.prefix, q.suffix, q.events) == (
        "1",
        "images/",
        "jpg",
        ("s3:ObjectCreated:Put",),
    )
    assert str(q.arn) == "arn:minio:sqs:us-east-1:1:webhook"


def test_queue_duplicate_event_is_overlapping_configs():  # config_test.go TestQueueUnmarshalXML case 3
    body = _doc(_queue(["s3:ObjectCreated:Put", "s3:ObjectCreated:Put"]))
    err = _fails(body, "InvalidArgument", OVERLAP_CONFIGS_MSG)
    assert err.reason == "duplicate event name 's3:ObjectCreated:Put' found"
    # A wildcard and one of its members are not duplicates.
    parse_config(_doc(_queue(["s3:ObjectCreated:*", "s3:ObjectCreated:Put"])), known_arns=WEBHOOK1)


@pytest.mark.parametrize(
    "rule",
    [
        "<FilterRule></FilterRule>",
        "<FilterRule><Name></Name></FilterRule>",
        "<FilterRule><Value></Value></FilterRule>",
        "<FilterRule><Name></Name><Value></Value></FilterRule>",
        _rule("Prefix", "Hello/世界"),
        _rule("ends", "foo/bar"),
        _rule("SUFFIX", ".jpg"),
        _rule(" prefix", "a"),  # Go does not trim character data
    ],
)
def test_filter_rule_name_must_be_lowercase_prefix_or_suffix(rule):  # TestFilterRuleUnmarshalXML
    _fails(_doc(_queue(["s3:ObjectCreated:*"], rule)), "InvalidArgument", FILTER_NAME_MSG)


def test_filter_rule_list_duplicates():  # TestFilterRuleListUnmarshalXML
    two_suffixes = _rule("suffix", "Hello/世界") + _rule("suffix", "foo/bar")
    two_prefixes = _rule("prefix", "Hello/世界") + _rule("prefix", "foo/bar")
    _fails(_doc(_queue(["s3:ObjectCreated:*"], two_suffixes)), "InvalidArgument", SUFFIX_MSG)
    _fails(_doc(_queue(["s3:ObjectCreated:*"], two_prefixes)), "InvalidArgument", PREFIX_MSG)
    ok = _rule("prefix", "Hello/世界") + _rule("suffix", "foo/bar")
    cfg = parse_config(_doc(_queue(["s3:ObjectCreated:*"], ok)), known_arns=WEBHOOK1)
    assert cfg.queues[0].filter_rules == (
        FilterRule("prefix", "Hello/世界"),
        FilterRule("suffix", "foo/bar"),
    )


@pytest.mark.parametrize(
    ("value", "ok"),
    [  # TestValidateFilterRuleValue
        ("foo/.", False),
        ("../foo", False),
        ("foo/bar/baz" * 94, False),  # 1034 bytes
        ("\udcff\udcfe\udcfd", False),  # the bytes ff fe fd: not UTF-8
        ("foo\\bar", False),
        ("Hello/世界", True),
        ("a" * 1024, True),
        ("a..b/.c/d.", True),
    ],
)
def test_validate_filter_value(value, ok):
    if ok:
        validate_filter_value(value)
    else:
        with pytest.raises(DomainError) as ei:
            validate_filter_value(value)
        assert (ei.value.code, ei.value.message) == ("InvalidArgument", VALUE_MSG)


@pytest.mark.parametrize("value", ["a/../b", ".", "x\\y", "é" * 513])
def test_bad_filter_value_in_document(value):
    _fails(_doc(_queue(["s3:ObjectCreated:*"], _rule("prefix", value))), "InvalidArgument", VALUE_MSG)


def test_unknown_event_name():
    err = _fails(_doc(_queue(["s3:ObjectCreated:put"])), "InvalidArgument", EVENT_MSG)
    assert err.reason == "invalid event name 's3:ObjectCreated:put'"


def test_bad_arn_syntax_and_unknown_arn():
    _fails(_doc(_queue(["s3:ObjectCreated:*"], arn="arn:minio:sqs::1")), "InvalidArgument", ARN_MSG)
    _fails(
        _doc(_queue(["s3:ObjectCreated:*"], arn="arn:minio:sqs::2:webhook")),
        "InvalidArgument",
        ARN_MSG,
    )
    _fails(
        _doc(_queue(["s3:ObjectCreated:*"], arn="arn:minio:sqs::1:redis")),
        "InvalidArgument",
        ARN_MSG,
    )
    # No <Queue> at all: the empty ARN is not a target.
    _fails(_doc(_queue(["s3:ObjectCreated:*"], arn=None)), "InvalidArgument", ARN_MSG)
    # known_arns may be given as strings too.
    parse_config(
        _doc(_queue(["s3:ObjectCreated:*"], arn="arn:minio:sqs::1:redis")),
        known_arns=["arn:minio:sqs::1:redis"],
    )


def test_region_rules():
    q = _queue(["s3:ObjectCreated:*"], arn="arn:minio:sqs:us-east-1:1:webhook")
    # Server without a region accepts any region in the ARN, and rewrites it away.
    cfg = parse_config(_doc(q), region="", known_arns=WEBHOOK1)
    assert str(cfg.queues[0].arn) == "arn:minio:sqs::1:webhook"
    _fails(_doc(q), "InvalidArgument", REGION_MSG, region="eu-west-1")
    # An ARN without a region takes the server's.
    cfg = parse_config(_doc(_queue(["s3:ObjectCreated:*"])), region="eu-west-1", known_arns=WEBHOOK1)
    assert str(cfg.queues[0].arn) == "arn:minio:sqs:eu-west-1:1:webhook"


def test_missing_events_is_malformed_xml():
    _fails(_doc(_queue([])), "MalformedXML", MALFORMED_MSG)


def test_identical_queue_configurations():
    q = _queue(["s3:ObjectCreated:*"], _rule("prefix", "a/"))
    err = _fails(_doc(q, q), "InvalidArgument", OVERLAP_FILTER_MSG)
    assert err.reason.startswith("duplicate queue configuration <Queue>")
    # Differing only in Id, events order or filter: allowed (MinIO compares whole queues).
    parse_config(_doc(q, _queue(["s3:ObjectCreated:*"], _rule("prefix", "a/"), qid="x")), known_arns=WEBHOOK1)
    parse_config(_doc(q, _queue(["s3:ObjectCreated:*"])), known_arns=WEBHOOK1)
    # MinIO's quirk: the second one's region is ignored when the first has none.
    q_region = _queue(["s3:ObjectCreated:*"], _rule("prefix", "a/"), arn="arn:minio:sqs:r1:1:webhook")
    _fails(_doc(q, q_region), "InvalidArgument", OVERLAP_FILTER_MSG)
    parse_config(_doc(q_region, q), known_arns=WEBHOOK1)


def test_errors_come_in_minio_order():
    # Decoding errors before the duplicate-queue check, which comes before Topic/CloudFunction.
    bad_event_after_topic = _doc(_queue(["s3:ObjectCreated:*"]), extra="<TopicConfiguration/>" + _queue(["nope"]))
    _fails(bad_event_after_topic, "InvalidArgument", EVENT_MSG)
    q = _queue(["s3:ObjectCreated:*"])
    _fails(_doc(q, q, extra="<TopicConfiguration/>"), "InvalidArgument", OVERLAP_FILTER_MSG)
    # Unsupported configurations before target checks.
    _fails(
        _doc(_queue(["s3:ObjectCreated:*"], arn="arn:minio:sqs::9:x"), extra="<TopicConfiguration/>"),
        "UnsupportedNotification",
        UNSUPPORTED_MSG,
    )
    # Within one queue, document order: a bad filter rule name before a bad event.
    body = _doc(
        "<QueueConfiguration><Filter><S3Key><FilterRule><Name>x</Name></FilterRule></S3Key></Filter>"
        "<Event>nope</Event></QueueConfiguration>"
    )
    _fails(body, "InvalidArgument", FILTER_NAME_MSG)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"<NotificationConfiguration>",
        b"<Foo/>",
        b"not xml",
        b'<!DOCTYPE x [<!ENTITY a "b">]><NotificationConfiguration/>',
    ],
)
def test_malformed(body):
    _fails(body, "MalformedXML", MALFORMED_MSG)


# -- model and serialization ---------------------------------------------------------------------


def test_empty_configuration_means_remove():
    for body in (CASE5, b"<NotificationConfiguration/>"):
        cfg = parse_config(body, region="", known_arns=())
        assert cfg.is_empty
        assert cfg.to_xml() == (
            b'<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></NotificationConfiguration>'
        )


def test_mc_body_to_xml():
    # The shape of Go's xml.Marshal(event.Config): xmlns attribute, <Id> always, <Filter>
    # only with rules, events, then <Queue>; no declaration, no whitespace.
    cfg = parse_config(MC_BODY, region="", known_arns=WEBHOOK1)
    assert cfg.to_xml() == (
        b'<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<QueueConfiguration><Id></Id>"
        b"<Filter><S3Key>"
        b"<FilterRule><Name>prefix</Name><Value>photos/</Value></FilterRule>"
        b"<FilterRule><Name>suffix</Name><Value>.jpg</Value></FilterRule>"
        b"</S3Key></Filter>"
        b"<Event>s3:ObjectCreated:*</Event><Event>s3:ObjectRemoved:*</Event>"
        b"<Queue>arn:minio:sqs::1:webhook</Queue>"
        b"</QueueConfiguration></NotificationConfiguration>"
    )
    assert decode_config(cfg.to_xml()) == cfg
    assert NotificationConfig.from_dict(cfg.to_dict()) == cfg


def test_case3_round_trip_and_no_filter_element():
    cfg = parse_config(CASE3, region="", known_arns=WEBHOOK1)
    xml = cfg.to_xml()
    assert xml.startswith(
        b'<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<QueueConfiguration><Id>1</Id><Event>s3:ObjectAccessed:*</Event>"
    )
    assert decode_config(xml) == cfg
    assert NotificationConfig.from_dict(cfg.to_dict()) == cfg


def test_xml_escaping_like_go():
    assert go_xml_escape("a&b<c>d\"e'f\tg\nh\ri\x01j\ufffe") == (
        "a&amp;b&lt;c&gt;d&#34;e&#39;f&#x9;g&#xA;h&#xD;i\ufffdj\ufffd"
    )
    q = _queue(["s3:ObjectCreated:*"], _rule("prefix", "a&amp;b'c"), qid="&lt;id&gt;")
    cfg = parse_config(_doc(q), known_arns=WEBHOOK1)
    assert cfg.queues[0].prefix == "a&b'c"
    assert b"<Id>&lt;id&gt;</Id>" in cfg.to_xml()
    assert b"<Value>a&amp;b&#39;c</Value>" in cfg.to_xml()
    assert decode_config(cfg.to_xml()) == cfg


def test_for_get_drops_queues_of_removed_targets():
    cfg = parse_config(
        _doc(
            _queue(["s3:ObjectCreated:*"]),
            _queue(["s3:ObjectRemoved:*"], arn="arn:minio:sqs::2:redis"),
        ),
        known_arns={ARN("", "1", "webhook"), ARN("", "2", "redis")},
    )
    shown = cfg.for_get("", [ARN("", "2", "redis")])
    assert [str(q.arn) for q in shown.queues] == ["arn:minio:sqs::2:redis"]


def test_foreign_namespace_and_unknown_elements_are_ignored():
    body = (
        b'<NotificationConfiguration xmlns="urn:x"><Unknown>1</Unknown>'
        b"<QueueConfiguration><Id>q</Id><Extra/><Event>s3:ObjectCreated:Put</Event>"
        b"<Queue>arn:minio:sqs::1:webhook</Queue></QueueConfiguration></NotificationConfiguration>"
    )
    cfg = parse_config(body, known_arns=WEBHOOK1)
    assert cfg.xmlns == "urn:x"
    assert cfg.queues == (QueueConfig("q", (), ("s3:ObjectCreated:Put",), ARN("", "1", "webhook")),)

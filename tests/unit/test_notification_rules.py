"""Rule matching: MinIO's internal/event/rules_test.go cases, minio/pkg wildcard.MatchSimple
semantics, and whole configurations."""

import pytest

from api.s3.xml import parse
from domain.notifications import (
    ARN,
    match_simple,
    match_targets,
    new_pattern,
    parse_config,
    rules_map,
)

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
W1 = ARN("", "1", "webhook")
A2 = ARN("", "2", "amqp")
R3 = ARN("", "3", "redis")


@pytest.mark.parametrize(
    ("prefix", "suffix", "pattern"),
    [  # rules_test.go TestNewPattern
        ("", "", ""),
        ("*", "", "*"),
        ("", "*", "*"),
        ("images/", "", "images/*"),
        ("images/*", "", "images/*"),
        ("", "jpg", "*jpg"),
        ("", "*jpg", "*jpg"),
        ("images/", "jpg", "images/*jpg"),
        ("images/*", "jpg", "images/*jpg"),
        ("images/", "*jpg", "images/*jpg"),
        ("images/*", "*jpg", "images/*jpg"),
        ("201*/images/", "jpg", "201*/images/*jpg"),
    ],
)
def test_new_pattern(prefix, suffix, pattern):
    assert new_pattern(prefix, suffix) == pattern


@pytest.mark.parametrize(
    ("pattern", "name", "ok"),
    [
        ("", "", True),
        ("", "a", False),
        ("*", "", True),
        ("*", "anything/at/all", True),
        ("images/*", "images/a.jpg", True),
        ("images/*", "images/", True),
        ("images/*", "image/a.jpg", False),
        ("*.jpg", "a/b.jpg", True),
        ("*.jpg", "a/b.jpeg", False),
        ("images/*jpg", "images/x/y.jpg", True),
        ("images/*jpg", "images/jpg", True),
        ("images/*jpg", "imagesjpg", False),  # prefix and suffix may not overlap
        ("a*a", "a", False),
        ("a*a", "aa", True),
        ("201*/images/*jpg", "2010/images/x.jpg", True),
        ("201*/images/*jpg", "2020/images/x.jpg", False),
        ("a*b*c", "a-b-b-c", True),
        ("a*b*c", "a-c-b", False),
        ("exact", "exact", True),
        ("exact", "exactly", False),
        # '?' is one byte; a '?' reached with the name used up matches (MatchSimple).
        ("a?c", "abc", True),
        ("a?c", "ac", False),
        ("a?", "a", True),
        ("a?b*", "a", True),
        ("ab?", "abcd", False),
        ("??", "é", True),  # é is two bytes in UTF-8
        ("?", "é", False),  # one byte left over
        ("*?", "", True),
        ("x*?", "xyz", True),
        ("*a*a*a*a*a*a*a*a*b", "a" * 40, False),  # no exponential backtracking
    ],
)
def test_match_simple(pattern, name, ok):
    assert match_simple(pattern, name) is ok


def test_question_mark_is_a_byte_not_a_character():
    # Go's MatchSimple works on bytes: '?' consumes one byte of "é" (c3 a9).
    assert match_simple("x?y", "xéy") is False
    assert match_simple("x??y", "xéy") is True


def _cfg(*queues, known=(W1, A2, R3)):
    body = f'<NotificationConfiguration xmlns="{NS}">{"".join(queues)}</NotificationConfiguration>'
    return parse_config(parse(body.encode()), known_arns=known)


def _q(events, arn, prefix=None, suffix=None):
    rules = ""
    if prefix is not None:
        rules += f"<FilterRule><Name>prefix</Name><Value>{prefix}</Value></FilterRule>"
    if suffix is not None:
        rules += f"<FilterRule><Name>suffix</Name><Value>{suffix}</Value></FilterRule>"
    flt = f"<Filter><S3Key>{rules}</S3Key></Filter>" if rules else ""
    ev = "".join(f"<Event>{e}</Event>" for e in events)
    return f"<QueueConfiguration>{flt}{ev}<Queue>{arn}</Queue></QueueConfiguration>"


def test_rules_test_go_match_cases():
    # TestRulesMatch: "*"+"*" matches all; prefix 2010* and suffix *.png to two targets.
    cfg = _cfg(_q(["s3:ObjectCreated:*"], W1, "*", "*"))
    assert match_targets(cfg, "s3:ObjectCreated:Put", "photos.jpg") == {W1}
    cfg = _cfg(_q(["s3:ObjectCreated:*"], W1, "2010*"), _q(["s3:ObjectCreated:*"], A2, suffix="*.png"))
    assert match_targets(cfg, "s3:ObjectCreated:Put", "2010/photos.jpg") == {W1}
    assert match_targets(cfg, "s3:ObjectCreated:Put", "2010/photos.png") == {W1, A2}
    assert match_targets(cfg, "s3:ObjectCreated:Put", "2000/photos.jpg") == set()


def test_prefix_suffix_events_and_targets():
    cfg = _cfg(
        _q(["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"], W1, "photos/", ".jpg"),
        _q(["s3:ObjectCreated:Put"], R3),
        _q(["s3:ObjectAccessed:*"], A2, suffix=".txt"),
    )
    assert match_targets(cfg, "s3:ObjectCreated:Put", "photos/a.jpg") == {W1, R3}
    assert match_targets(cfg, "s3:ObjectCreated:Copy", "photos/a.jpg") == {W1}
    assert match_targets(cfg, "s3:ObjectCreated:Copy", "photos/a.png") == set()
    assert match_targets(cfg, "s3:ObjectCreated:Put", "other/a.jpg") == {R3}
    assert match_targets(cfg, "s3:ObjectRemoved:Delete", "photos/x/y.jpg") == {W1}
    assert match_targets(cfg, "s3:ObjectRemoved:DeleteMarkerCreated", "photos/y.jpg") == set()
    assert match_targets(cfg, "s3:ObjectAccessed:Head", "a.txt") == {A2}
    rm = rules_map(cfg)
    assert rm.subscribes("s3:ObjectAccessed:Get")
    assert not rm.subscribes("s3:BucketCreated:*")
    assert not rm.subscribes("s3:ObjectRemoved:NoOP")


def test_star_inside_prefix_is_a_wildcard_and_key_is_raw():
    cfg = _cfg(_q(["s3:ObjectCreated:Put"], W1, "logs/*/2024/"))
    assert match_targets(cfg, "s3:ObjectCreated:Put", "logs/app/2024/x") == {W1}
    assert match_targets(cfg, "s3:ObjectCreated:Put", "logs/app/2023/x") == set()
    # Matching is on the raw key, not the URL-escaped one.
    cfg = _cfg(_q(["s3:ObjectCreated:Put"], W1, "a b/", "+1.txt"))
    assert match_targets(cfg, "s3:ObjectCreated:Put", "a b/c+1.txt") == {W1}
    assert match_targets(cfg, "s3:ObjectCreated:Put", "a+b/c+1.txt") == set()


def test_empty_config_matches_nothing():
    cfg = _cfg()
    assert match_targets(cfg, "s3:ObjectCreated:Put", "x") == set()
    assert not rules_map(cfg)

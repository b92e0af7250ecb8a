"""domain.cors: which rule a cross-origin request matches, and what AWS refuses in a configuration."""

from __future__ import annotations

import pytest

from domain.cors import CorsConfiguration, CorsRule
from domain.errors import DomainError


def config(*rules: CorsRule) -> CorsConfiguration:
    return CorsConfiguration(rules).check()


@pytest.mark.parametrize(
    ("pattern", "origin", "matches"),
    [
        ("*suffix", "foo.suffix", True),
        ("*suffix", "suffix", True),  # "*" may stand for nothing
        ("*suffix", "foo.suffix.get", False),  # anchored at the end
        ("start*end", "start12end", True),
        ("start*end", "0start12end", False),  # anchored at the start
        ("prefix*", "prefix.suffix", True),
        ("https://*.example.com", "HTTPS://App.Example.COM", True),  # without regard to case
        ("https://app.example.com", "https://app.example.com:443", False),
        ("*", "anything at all", True),
    ],
)
def test_origin_patterns(pattern, origin, matches):
    found = config(CorsRule((pattern,), ("GET",))).match(origin, "GET")
    assert (found is not None) == matches


def test_the_first_matching_rule_answers():
    rules = config(
        CorsRule(("https://a.example",), ("PUT",), max_age_seconds=1),
        CorsRule(("https://a.example",), ("GET", "HEAD"), max_age_seconds=2),
        CorsRule(("*",), ("GET",), max_age_seconds=3),
    )
    found = rules.match("https://a.example", "get")
    assert found is not None and found.rule.max_age_seconds == 2
    assert found.response_headers(preflight=False)["access-control-allow-methods"] == "GET, HEAD"
    anyone = rules.match("https://b.example", "GET")
    assert anyone is not None and anyone.response_headers(preflight=True)["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in anyone.response_headers(preflight=True)
    assert rules.match("https://b.example", "DELETE") is None


def test_every_requested_header_must_be_allowed():
    rules = config(CorsRule(("*",), ("PUT",), allowed_headers=("Content-Type", "x-amz-meta-*")))
    found = rules.match("o", "PUT", " Content-TYPE ,x-amz-meta-a,, X-Amz-Meta-B")
    assert found is not None
    assert found.response_headers(preflight=True)["access-control-allow-headers"] == (
        "content-type, x-amz-meta-a, x-amz-meta-b"
    )
    assert "access-control-allow-headers" not in found.response_headers(preflight=False)
    assert rules.match("o", "PUT", "content-type, authorization") is None
    assert config(CorsRule(("*",), ("PUT",))).match("o", "PUT", "x-anything") is None  # none allowed


@pytest.mark.parametrize(
    ("rules", "code"),
    [
        ((), "MalformedXML"),
        ((CorsRule(("*",), ("GET",)),) * 101, "MalformedXML"),
        ((CorsRule((), ("GET",)),), "MalformedXML"),
        ((CorsRule(("*",), ()),), "MalformedXML"),
        ((CorsRule(("*",), ("OPTIONS",)),), "InvalidRequest"),
        ((CorsRule(("a*b*",), ("GET",)),), "InvalidRequest"),
        ((CorsRule(("*",), ("GET",), allowed_headers=("**",)),), "InvalidRequest"),
        ((CorsRule(("*",), ("GET",), id="x" * 256),), "InvalidArgument"),
        ((CorsRule(("*",), ("GET",), max_age_seconds=-1),), "MalformedXML"),
    ],
)
def test_what_aws_refuses(rules, code):
    with pytest.raises(DomainError) as exc:
        CorsConfiguration(rules).check()
    assert exc.value.code == code


def test_document_round_trip():
    original = config(
        CorsRule(("a",), ("GET",), ("h",), ("e",), 5, "id"),
        CorsRule(("b",), ("PUT", "POST")),
    )
    assert CorsConfiguration.from_document(original.to_document()) == original
    assert config(CorsRule(("*",), ("GET",), max_age_seconds=100)).check().rules[0].max_age_seconds == 100

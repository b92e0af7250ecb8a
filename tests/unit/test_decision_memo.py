"""Authorization decisions are memoized per process (api.authz.PolicyCache): the memo key must
hold every input a decision depends on — the context values its policies read — and nothing
may be memoized when that set cannot be known."""

from __future__ import annotations

import json

from api.authz import PolicyCache
from domain.policy import parse_policy


def _policy(statement: dict, kind: str = "identity"):
    statement = {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::b/*",
        **statement,
    }
    return parse_policy(
        json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
        kind=kind,
        bucket="b" if kind == "bucket" else None,
    )


def _key(cache: PolicyCache, policies, context: dict, resource: str = "arn:aws:s3:::b/k"):
    return cache.decision_key(
        policies,
        "s3:GetObject",
        resource,
        "alice",
        "arn:aws:iam::000000000000:user/alice",
        False,
        context,
    )


BASE = {
    "aws:sourceip": "10.0.0.1",
    "aws:useragent": "boto3",
    "aws:currenttime": "2026-11-23T00:00:00Z",
    "s3:prefix": "a/",
}


def test_condition_keys_and_variables_are_the_context_keys_read():
    p = _policy(
        {
            "Resource": "arn:aws:s3:::b/${aws:username}/*",
            "Condition": {
                "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
                "StringLike": {"s3:prefix": "${aws:userid}/*"},
            },
        }
    )
    assert p.context_keys == {"aws:sourceip", "s3:prefix", "aws:username", "aws:userid"}


def test_memo_key_changes_with_the_values_policies_read_and_only_those():
    cache = PolicyCache()
    p = _policy({"Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}})
    policies = ((p,), None, ())
    key = _key(cache, policies, BASE)
    assert key == _key(
        cache,
        policies,
        {**BASE, "aws:useragent": "curl", "aws:currenttime": "2027-01-01T00:00:00Z"},
    )
    assert key != _key(cache, policies, {**BASE, "aws:sourceip": "192.168.1.1"})
    assert key != _key(cache, policies, BASE, resource="arn:aws:s3:::b/other")
    # The same statements parsed anew (a changed policy) are another key.
    assert key != _key(
        cache,
        ((_policy({"Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}),), None, ()),
        BASE,
    )


def test_list_values_and_missing_keys_are_distinguished():
    cache = PolicyCache()
    p = _policy({"Condition": {"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": ["a"]}}})
    policies = ((p,), None, ())
    with_tags = _key(cache, policies, {**BASE, "s3:requestobjecttagkeys": ["a", "b"]})
    assert with_tags == _key(cache, policies, {**BASE, "s3:requestobjecttagkeys": ["a", "b"]})
    assert with_tags != _key(cache, policies, {**BASE, "s3:requestobjecttagkeys": ["b"]})
    assert with_tags != _key(cache, policies, BASE)


def test_policies_without_conditions_share_one_decision_per_resource():
    cache = PolicyCache()
    policies = ((_policy({}),), _policy({"Principal": "*"}, kind="bucket"), ())
    assert _key(cache, policies, BASE) == _key(cache, policies, {"aws:sourceip": "1.2.3.4"})

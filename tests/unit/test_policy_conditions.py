"""Condition operators, qualifiers, missing keys and policy variables."""

from __future__ import annotations

import json

import pytest

from domain.policy import Decision, Request, evaluate, normalize_context, parse_policy

ACCT = "000000000000"


def policy_with(
    condition: dict | None = None,
    *,
    resource="arn:aws:s3:::b/*",
    version="2012-10-17",
    action="s3:GetObject",
):
    stmt = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition is not None:
        stmt["Condition"] = condition
    d = {"Statement": [stmt]}
    if version:
        d["Version"] = version
    return parse_policy(json.dumps(d), kind="identity")


def req(context=None, *, resource="arn:aws:s3:::b/k", action="s3:GetObject", user="alice"):
    return Request(
        action=action,
        resource=resource,
        principal=user,
        principal_arn=f"arn:aws:iam::{ACCT}:user/{user}" if user else None,
        account=ACCT,
        context=normalize_context(context or {}),
    )


def allowed(condition, context, **kw) -> bool:
    return evaluate([policy_with(condition)], req(context, **kw)) is Decision.ALLOW


# operator, policy value, matching request value, non-matching request value
CASES = [
    ("StringEquals", "abc", "abc", "ABC"),
    ("StringNotEquals", "abc", "xyz", "abc"),
    ("StringEqualsIgnoreCase", "abc", "ABC", "abd"),
    ("StringNotEqualsIgnoreCase", "abc", "abd", "AbC"),
    ("StringLike", "home/*/x?z", "home/a/b/xyz", "home/a/xz"),
    ("StringNotLike", "home/*", "work/x", "home/x"),
    ("NumericEquals", "10", "10.0", "11"),
    ("NumericNotEquals", "10", "11", "10"),
    ("NumericLessThan", "10", "9", "10"),
    ("NumericLessThanEquals", "10", "10", "11"),
    ("NumericGreaterThan", "10", "11", "10"),
    ("NumericGreaterThanEquals", "10", "10", "9"),
    ("DateEquals", "2020-01-01T00:00:00Z", "1577836800", "2020-01-01T00:00:01Z"),
    ("DateNotEquals", "2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z", "2020-01-01T00:00:00+00:00"),
    ("DateLessThan", "2020-01-01T00:00:00Z", "2019-12-31T23:59:59Z", "2020-01-01T00:00:00Z"),
    ("DateLessThanEquals", "2020-01-01", "2020-01-01T00:00:00Z", "2020-01-01T00:00:01Z"),
    ("DateGreaterThan", "1577836800", "2020-01-01T00:00:01.500Z", "2019-06-01T00:00:00Z"),
    (
        "DateGreaterThanEquals",
        "2020-01-01T00:00:00Z",
        "2020-01-01T00:00:00Z",
        "2019-12-31T23:59:59Z",
    ),
    ("Bool", "true", "TRUE", "false"),
    ("BinaryEquals", "QmluYXJ5", "QmluYXJ5", "QmluYXJZ"),
    ("IpAddress", "10.0.0.0/8", "10.1.2.3", "11.0.0.1"),
    ("NotIpAddress", "10.0.0.0/8", "192.168.0.1", "10.9.9.9"),
    ("IpAddress", "2001:db8::/32", "2001:db8::1", "10.0.0.1"),
    (
        "ArnEquals",
        "arn:aws:iam::*:user/alice",
        "arn:aws:iam::123:user/alice",
        "arn:aws:iam::123:user/bob",
    ),
    ("ArnLike", "arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y", "arn:aws:s3:::c/x"),
    ("ArnNotEquals", "arn:aws:iam::1:user/a", "arn:aws:iam::1:user/b", "arn:aws:iam::1:user/a"),
    ("ArnNotLike", "arn:aws:iam::*:root", "arn:aws:iam::1:user/a", "arn:aws:iam::1:root"),
]


@pytest.mark.parametrize(("op", "value", "good", "bad"), CASES)
def test_operator(op, value, good, bad):
    cond = {op: {"test:key": value}}
    assert allowed(cond, {"test:key": good})
    assert not allowed(cond, {"test:key": bad})


NEGATED = {
    "StringNotEquals",
    "StringNotEqualsIgnoreCase",
    "StringNotLike",
    "NumericNotEquals",
    "DateNotEquals",
    "NotIpAddress",
    "ArnNotEquals",
    "ArnNotLike",
}


@pytest.mark.parametrize(("op", "value", "good", "bad"), CASES)
def test_missing_key(op, value, good, bad):
    # positive operators fail on a missing key, negated ones hold; IfExists holds
    cond = {op: {"test:key": value}}
    assert allowed(cond, {}) is (op in NEGATED)
    assert allowed({op + "IfExists": {"test:key": value}}, {})
    # ...and IfExists still tests a present key
    assert not allowed({op + "IfExists": {"test:key": value}}, {"test:key": bad})


def test_arn_wildcard_does_not_cross_components():
    cond = {"ArnLike": {"aws:sourcearn": "arn:aws:s3:::*"}}
    assert allowed(cond, {"aws:SourceArn": "arn:aws:s3:::bucket"})
    cond = {"ArnLike": {"aws:sourcearn": "arn:*:iam::1:user/x"}}
    assert not allowed(cond, {"aws:SourceArn": "arn:aws:extra:iam::1:user/x"})
    assert allowed(cond, {"aws:SourceArn": "arn:aws:iam::1:user/x"})


def test_null_operator():
    assert allowed({"Null": {"s3:x-amz-server-side-encryption": "true"}}, {})
    assert not allowed(
        {"Null": {"s3:x-amz-server-side-encryption": "true"}},
        {"s3:x-amz-server-side-encryption": "AES256"},
    )
    assert allowed(
        {"Null": {"s3:x-amz-server-side-encryption": "false"}},
        {"s3:x-amz-server-side-encryption": "AES256"},
    )
    assert not allowed({"Null": {"s3:x-amz-server-side-encryption": "false"}}, {})
    assert allowed({"Null": {"s3:x-amz-server-side-encryption": True}}, {"other:key": "x"})


def test_keys_are_case_insensitive_values_are_not():
    assert allowed({"StringEquals": {"AWS:UserName": "alice"}}, {"aws:username": "alice"})
    assert allowed({"StringEquals": {"aws:username": "alice"}}, {"AWS:USERNAME": "alice"})
    assert not allowed({"StringEquals": {"aws:username": "Alice"}}, {"aws:username": "alice"})


def test_multiple_values_or_multiple_keys_and():
    cond = {"StringEquals": {"s3:x-amz-acl": ["private", "public-read"]}}
    assert allowed(cond, {"s3:x-amz-acl": "public-read"})
    assert not allowed(cond, {"s3:x-amz-acl": "public-read-write"})
    cond = {
        "StringEquals": {"s3:x-amz-acl": "private", "s3:prefix": "home/"},
        "NumericLessThanEquals": {"s3:max-keys": "10"},
    }
    assert allowed(cond, {"s3:x-amz-acl": "private", "s3:prefix": "home/", "s3:max-keys": "5"})
    assert not allowed(cond, {"s3:x-amz-acl": "private", "s3:prefix": "home/", "s3:max-keys": "50"})
    assert not allowed(cond, {"s3:x-amz-acl": "private", "s3:max-keys": "5"})


def test_negated_operator_with_several_values_is_nor():
    cond = {"StringNotEquals": {"s3:x-amz-acl": ["private", "public-read"]}}
    assert allowed(cond, {"s3:x-amz-acl": "authenticated-read"})
    assert not allowed(cond, {"s3:x-amz-acl": "public-read"})


def test_for_any_value():
    cond = {"ForAnyValue:StringEquals": {"s3:requestobjecttagkeys": ["project", "team"]}}
    assert allowed(cond, {"s3:RequestObjectTagKeys": ["color", "team"]})
    assert not allowed(cond, {"s3:RequestObjectTagKeys": ["color", "size"]})
    assert not allowed(cond, {})  # missing key: false
    assert not allowed(cond, {"s3:RequestObjectTagKeys": []})
    neg = {"ForAnyValue:StringNotEquals": {"s3:requestobjecttagkeys": ["project"]}}
    assert allowed(neg, {"s3:RequestObjectTagKeys": ["project", "x"]})
    assert not allowed(neg, {"s3:RequestObjectTagKeys": ["project"]})
    assert allowed({"ForAnyValue:StringLikeIfExists": {"s3:requestobjecttagkeys": "a*"}}, {})


def test_for_all_values():
    cond = {"ForAllValues:StringEquals": {"s3:requestobjecttagkeys": ["project", "team"]}}
    assert allowed(cond, {"s3:RequestObjectTagKeys": ["team", "project"]})
    assert allowed(cond, {"s3:RequestObjectTagKeys": ["team"]})
    assert not allowed(cond, {"s3:RequestObjectTagKeys": ["team", "color"]})
    assert allowed(cond, {})  # missing key: vacuously true
    neg = {"ForAllValues:StringNotLike": {"s3:requestobjecttagkeys": ["secret*"]}}
    assert allowed(neg, {"s3:RequestObjectTagKeys": ["a", "b"]})
    assert not allowed(neg, {"s3:RequestObjectTagKeys": ["a", "secret-x"]})


def test_multivalued_key_without_qualifier():
    cond = {"StringEquals": {"s3:requestobjecttagkeys": "team"}}
    assert allowed(cond, {"s3:RequestObjectTagKeys": ["x", "team"]})
    neg = {"StringNotEquals": {"s3:requestobjecttagkeys": "team"}}
    assert not allowed(neg, {"s3:RequestObjectTagKeys": ["x", "team"]})


def test_existing_object_tag_condition():
    cond = {"StringEquals": {"s3:ExistingObjectTag/security": "public"}}
    assert allowed(cond, {"s3:ExistingObjectTag/security": "public"})
    assert not allowed(cond, {"s3:ExistingObjectTag/security": "private"})
    assert not allowed(cond, {})


def test_source_ip_and_secure_transport():
    deny_plain = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "127.0.0.1/32"]}},
            },
            {
                "Effect": "Deny",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }
    p = parse_policy(json.dumps(deny_plain), kind="identity")
    assert evaluate([p], req({"aws:SourceIp": "127.0.0.1", "aws:SecureTransport": "true"})) is Decision.ALLOW
    assert evaluate([p], req({"aws:SourceIp": "127.0.0.1", "aws:SecureTransport": "false"})) is Decision.DENY
    assert evaluate([p], req({"aws:SourceIp": "8.8.8.8", "aws:SecureTransport": "true"})) is Decision.NOT_APPLICABLE
    assert evaluate([p], req({"aws:SourceIp": "garbage", "aws:SecureTransport": "true"})) is Decision.NOT_APPLICABLE


# --- policy variables ------------------------------------------------------------


def test_username_variable_in_resource():
    p = policy_with(resource="arn:aws:s3:::home/${aws:username}/*")
    ctx = {"aws:username": "alice"}
    assert evaluate([p], req(ctx, resource="arn:aws:s3:::home/alice/file")) is Decision.ALLOW
    assert evaluate([p], req(ctx, resource="arn:aws:s3:::home/bob/file")) is Decision.NOT_APPLICABLE
    # a missing variable never matches
    assert evaluate([p], req({}, resource="arn:aws:s3:::home/alice/file")) is Decision.NOT_APPLICABLE


def test_substituted_values_are_literal():
    p = policy_with(resource="arn:aws:s3:::home/${aws:username}/*")
    ctx = {"aws:username": "*"}
    assert evaluate([p], req(ctx, resource="arn:aws:s3:::home/alice/file")) is Decision.NOT_APPLICABLE
    assert evaluate([p], req(ctx, resource="arn:aws:s3:::home/*/file")) is Decision.ALLOW


def test_variables_only_in_2012_version():
    p = policy_with(resource="arn:aws:s3:::home/${aws:username}/*", version="2008-10-17")
    assert (
        evaluate([p], req({"aws:username": "alice"}, resource="arn:aws:s3:::home/alice/f")) is Decision.NOT_APPLICABLE
    )
    assert (
        evaluate([p], req({"aws:username": "alice"}, resource="arn:aws:s3:::home/${aws:username}/f")) is Decision.ALLOW
    )
    p = policy_with(resource="arn:aws:s3:::home/${aws:username}/*", version=None)
    assert (
        evaluate([p], req({"aws:username": "alice"}, resource="arn:aws:s3:::home/alice/f")) is Decision.NOT_APPLICABLE
    )


def test_variable_escapes():
    p = policy_with(resource="arn:aws:s3:::b/literal${*}star${?}q${$}d")
    assert evaluate([p], req({}, resource="arn:aws:s3:::b/literal*star?q$d")) is Decision.ALLOW
    assert evaluate([p], req({}, resource="arn:aws:s3:::b/literalXstarYq$d")) is Decision.NOT_APPLICABLE


def test_variables_in_condition_values():
    cond = {"StringLike": {"s3:prefix": ["home/${aws:username}/*", "home/${aws:username}"]}}
    p = policy_with(cond, resource="arn:aws:s3:::b", action="s3:ListBucket")
    ok = req(
        {"aws:username": "alice", "s3:prefix": "home/alice/docs/"},
        resource="arn:aws:s3:::b",
        action="s3:ListBucket",
    )
    bad = req(
        {"aws:username": "alice", "s3:prefix": "home/bob/"},
        resource="arn:aws:s3:::b",
        action="s3:ListBucket",
    )
    assert evaluate([p], ok) is Decision.ALLOW
    assert evaluate([p], bad) is Decision.NOT_APPLICABLE
    eq = policy_with({"StringEquals": {"s3:prefix": "${aws:username}/"}})
    assert evaluate([eq], req({"aws:username": "alice", "s3:prefix": "alice/"})) is Decision.ALLOW


def test_variable_default_and_jwt():
    p = policy_with(resource="arn:aws:s3:::b/${aws:username, 'anon'}/*")
    assert evaluate([p], req({}, resource="arn:aws:s3:::b/anon/x")) is Decision.ALLOW
    j = policy_with(resource="arn:aws:s3:::b/x${jwt:sub}/*")
    assert evaluate([j], req({}, resource="arn:aws:s3:::b/x/y")) is Decision.ALLOW
    assert evaluate([j], req({"jwt:sub": "u1"}, resource="arn:aws:s3:::b/xu1/y")) is Decision.ALLOW


@pytest.mark.parametrize(
    ("var", "key", "value"),
    [
        ("aws:userid", "aws:userid", "AIDAEXAMPLE"),
        ("aws:SourceIp", "aws:sourceip", "10.0.0.1"),
        ("aws:CurrentTime", "aws:currenttime", "2024-01-01T00:00:00Z"),
        ("aws:EpochTime", "aws:epochtime", "1704067200"),
        ("aws:SecureTransport", "aws:securetransport", "true"),
        ("aws:PrincipalType", "aws:principaltype", "User"),
        ("s3:prefix", "s3:prefix", "photos"),
    ],
)
def test_variables_from_context(var, key, value):
    p = policy_with(resource=f"arn:aws:s3:::b/${{{var}}}/*")
    assert evaluate([p], req({key: value}, resource=f"arn:aws:s3:::b/{value}/obj")) is Decision.ALLOW

"""Authorization decisions are memoized per process (api.auth.authz.PolicyCache): the memo key must
hold every input a decision depends on — the context values its policies read — and nothing
may be memoized when that set cannot be known."""

from __future__ import annotations

import json

from api.auth.policy_cache import PolicyCache
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


def test_remembered_decisions_follow_the_request_values():
    """decide() answers from its memo once a decision is known: asking again and again with
    values that alternate must keep giving each its own answer."""
    import asyncio
    import time

    from api.auth.authz import authorize_request
    from api.auth.identity import Identity
    from api.errors import S3Error
    from api.request import S3Request

    # Explicit denials (an implicit one would go on to read the ACLs from the database).
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"},
            {
                "Effect": "Deny",
                "Action": "s3:ListBucket",
                "Resource": "arn:aws:s3:::b",
                "Condition": {"StringNotLike": {"s3:prefix": "home/${aws:username}/*"}},
            },
            {
                "Effect": "Deny",
                "Action": "s3:ListBucket",
                "Resource": "arn:aws:s3:::b",
                "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            },
        ],
    }
    listing = parse_policy(json.dumps(document), kind="identity")

    class Ctx:
        class settings:  # noqa: N801
            root_user = "root"

        policies = PolicyCache()
        clock = staticmethod(time.time)

    ctx = Ctx()
    ctx.policies._users["alice"] = (7, [listing])

    def listing_request(prefix: str, ip: str) -> S3Request:
        req = S3Request(
            "GET",
            "/b",
            f"prefix={prefix}",
            {"host": "x"},
            None,
            ip,
            "rid",
            "http",
            bucket="b",
            query={"prefix": prefix},
        )
        req.identity = Identity("alice", "alice", "user", gen=7)
        return req

    async def allowed(prefix: str, ip: str) -> bool:
        req = listing_request(prefix, ip)
        req.bucket_facts = ("b", ({"name": "b", "owner": "root", "versioning": ""}, None))
        try:
            await authorize_request(req, ctx, "bucket", "", "s3:ListBucket")
        except S3Error as err:
            assert err.code == "AccessDenied"
            return False
        return True

    async def run() -> None:
        for _ in range(3):
            assert await allowed("home/alice/docs", "10.1.2.3")
            assert not await allowed("home/bob/docs", "10.1.2.3")
            assert not await allowed("home/alice/docs", "192.168.0.1")

    asyncio.run(run())
    assert len(ctx.policies.decisions) == 3
    # And the short way (no context built) finds each of them.
    from api.auth.authz import _remembered

    for prefix, ip, expected in (
        ("home/alice/docs", "10.1.2.3", True),
        ("home/bob/docs", "10.1.2.3", False),
        ("home/alice/docs", "192.168.0.1", False),
    ):
        req = listing_request(prefix, ip)
        row = {"name": "b", "owner": "root", "versioning": ""}
        decided = _remembered(ctx, req, req.identity, "s3:ListBucket", "arn:aws:s3:::b", "b", row, None)
        assert decided is not None and decided[0] is expected

"""Policy parsing and validation: the errors AWS / MinIO answer for malformed documents."""

from __future__ import annotations

import json

import pytest

from domain.errors import DomainError
from domain.policy import CANNED_POLICIES, S3_ACTIONS, parse_policy


def doc(*statements: dict, version: str | None = "2012-10-17") -> str:
    d: dict = {"Statement": list(statements)}
    if version is not None:
        d["Version"] = version
    return json.dumps(d)


ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}


def bucket_stmt(**over) -> dict:
    s = {
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::b/*",
    }
    s.update(over)
    return {k: v for k, v in s.items() if v is not None}


def err(text, kind="identity", **kw) -> DomainError:
    with pytest.raises(DomainError) as exc:
        parse_policy(text, kind=kind, **kw)
    return exc.value


def test_minimal_identity_policy():
    p = parse_policy(doc(ALLOW_ALL), kind="identity")
    assert p.version == "2012-10-17"
    assert len(p.statements) == 1
    assert p.statements[0].effect == "Allow"
    assert json.loads(p.text) == p.document


def test_statement_may_be_an_object_and_version_optional():
    p = parse_policy(json.dumps({"Statement": ALLOW_ALL}), kind="identity")
    assert p.version is None
    assert parse_policy(doc(ALLOW_ALL, version="2008-10-17"), kind="identity").version == "2008-10-17"


def test_bytes_and_dict_input():
    assert parse_policy(doc(ALLOW_ALL).encode(), kind="identity").statements
    assert parse_policy({"Version": "2012-10-17", "Statement": [ALLOW_ALL]}, kind="identity").statements


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '"x"',
        json.dumps({"Version": "2010-10-17", "Statement": [ALLOW_ALL]}),
        json.dumps({"Version": "2012-10-17"}),
        json.dumps({"Version": "2012-10-17", "Statement": []}),
        json.dumps({"Version": "2012-10-17", "Statement": ["x"]}),
        json.dumps({"Version": "2012-10-17", "Statement": [ALLOW_ALL], "Extra": 1}),
        doc({"Effect": "Allow", "Action": "*", "Resource": "*", "Bogus": 1}),
        doc({"Action": "*", "Resource": "*"}),
        doc({"Effect": "Maybe", "Action": "*", "Resource": "*"}),
        doc({"Effect": "Allow", "Resource": "*"}),
        doc({"Effect": "Allow", "Action": "*", "NotAction": "s3:GetObject", "Resource": "*"}),
        doc({"Effect": "Allow", "Action": [], "Resource": "*"}),
        doc({"Effect": "Allow", "Action": "s3:GetObject"}),
        doc({"Effect": "Allow", "Action": "*", "Resource": "*", "NotResource": "*"}),
        doc({"Effect": "Allow", "Action": "*", "Resource": "bucket"}),
        doc(
            {
                "Effect": "Allow",
                "Action": "*",
                "Resource": "*",
                "Principal": "arn:aws:iam:::username",
            }
        ),
        doc({"Sid": "A", **ALLOW_ALL}, {"Sid": "A", **ALLOW_ALL}),
        doc(
            {
                "Effect": "Allow",
                "Action": "*",
                "Resource": "*",
                "Condition": {"Bogus": {"a:b": "c"}},
            }
        ),
        '{"Version": "2012-10-17", "Version": "2012-10-17", "Statement": []}',
    ],
)
def test_malformed_identity_policies(text):
    e = err(text)
    assert e.code == "MalformedPolicyDocument"


def test_identity_messages_follow_iam():
    assert err(doc({**ALLOW_ALL, "Principal": "*"})).message == ("Policy document should not specify a principal.")
    assert err(doc({"Effect": "Allow", "Action": "GetObject", "Resource": "*"})).message.startswith(
        "Actions/Conditions must be prefaced by a vendor"
    )
    assert "must be unique" in err(doc({"Sid": "x", **ALLOW_ALL}, {"Sid": "x", **ALLOW_ALL})).message


@pytest.mark.parametrize(
    "action",
    [
        "s3:GetObjectt",
        "s3:Frobnicate",
        "s3:Foo*",
        "admin:Bogus",
        "sts:Nope",
        "iam:Nope",
        "ec2:RunInstances",
    ],
)
def test_unknown_action_rejected(action):
    e = err(doc({"Effect": "Allow", "Action": action, "Resource": "*"}))
    assert e.code == "MalformedPolicyDocument"


@pytest.mark.parametrize(
    "action",
    [
        "*",
        "s3:*",
        "s3:Get*",
        "S3:getobject",
        "s3:GetBucketCORS",
        "s3:PutBucketCors",
        "s3:List*",
        "s3:*Object",
        "admin:*",
        "admin:CreateUser",
        "admin:ServerInfo",
        "sts:AssumeRole",
        "sts:GetCallerIdentity",
        "iam:CreateUser",
        "iam:PassRole",
        "iam:GetAccountSummary",
        "kms:*",
        "s3:ListenBucketNotification",
    ],
)
def test_known_actions_accepted(action):
    parse_policy(doc({"Effect": "Allow", "Action": action, "Resource": "*"}), kind="identity")


def test_full_s3_action_list_accepted():
    parse_policy(
        doc({"Effect": "Allow", "Action": sorted(S3_ACTIONS), "Resource": "arn:aws:s3:::*"}),
        kind="identity",
    )


def test_admin_and_kms_statements_may_omit_resource():
    parse_policy(doc({"Effect": "Allow", "Action": ["admin:*"]}), kind="identity")
    parse_policy(doc({"Effect": "Allow", "Action": "kms:*"}), kind="identity")
    assert err(doc({"Effect": "Allow", "Action": ["s3:*"]})).code == "MalformedPolicyDocument"
    assert err(doc({"Effect": "Allow", "Action": ["admin:*", "s3:*"]})).code == "MalformedPolicyDocument"


def test_canned_policies_parse():
    for name, d in CANNED_POLICIES.items():
        assert parse_policy(json.dumps(d), kind="identity").statements, name


def test_size_limit_20_kib():
    big = doc(*[{"Sid": f"S{i}", **ALLOW_ALL} for i in range(1000)])
    assert len(big) > 20480
    assert err(big).code == "MalformedPolicyDocument"
    assert err(big, kind="bucket", bucket="b").code == "MalformedPolicy"
    # just under the limit is fine
    pad = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/" + "x" * 20300}
    text = doc(pad)
    assert len(text) <= 20480
    parse_policy(text, kind="identity")
    pad["Resource"] += "y" * (20481 - len(text))
    assert err(doc(pad)).code == "MalformedPolicyDocument"


# --- bucket policies ---------------------------------------------------------------


def test_bucket_policy_ok():
    p = parse_policy(doc(bucket_stmt()), kind="bucket", bucket="b")
    assert p.kind == "bucket"
    assert p.statements[0].principal.any


@pytest.mark.parametrize(
    ("stmt", "message"),
    [
        (bucket_stmt(Principal=None), "Missing required field Principal"),
        (bucket_stmt(Action="s3:Bogus"), "Policy has invalid action"),
        (bucket_stmt(Action="invalid_action"), "Policy has invalid action"),
        (bucket_stmt(Action="iam:CreateUser"), "Policy has invalid action"),
        (bucket_stmt(Resource="arn:aws:s3:::other/*"), "Policy has invalid resource"),
        (bucket_stmt(Resource="not-an-arn"), "Policy has invalid resource"),
        (bucket_stmt(Resource="arn:aws:s3:::"), "Policy has invalid resource"),
        (bucket_stmt(Principal={"AWS": "arn:aws:ec2:::thing"}), "Invalid principal in policy"),
        (bucket_stmt(Principal={"Nope": "*"}), "Invalid principal in policy"),
        (bucket_stmt(Principal="alice"), "Invalid principal in policy"),
        (bucket_stmt(Effect="hello"), "Invalid effect: hello"),
        (
            bucket_stmt(Action="s3:PutObject", Resource="arn:aws:s3:::b"),
            "Action does not apply to any resource(s) in statement",
        ),
        (
            bucket_stmt(Action="s3:ListBucket", Resource="arn:aws:s3:::b/*"),
            "Action does not apply to any resource(s) in statement",
        ),
    ],
)
def test_malformed_bucket_policies(stmt, message):
    e = err(doc(stmt), kind="bucket", bucket="b")
    assert e.code == "MalformedPolicy"
    assert e.message == message


def test_bucket_policy_notprincipal_only_with_deny():
    stmt = bucket_stmt(Principal=None, NotPrincipal={"AWS": "arn:aws:iam::acct:root"}, Action="s3:ListBucket")
    stmt["Resource"] = ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]
    assert err(doc(stmt), kind="bucket", bucket="b").code == "MalformedPolicy"
    stmt["Effect"] = "Deny"
    parse_policy(doc(stmt), kind="bucket", bucket="b")


def test_bucket_policy_principal_forms():
    for principal in (
        "*",
        {"AWS": "*"},
        {"AWS": ["*"]},
        {"AWS": "arn:aws:iam::123456789012:user/alice"},
        {"AWS": ["alice", "123456789012", "arn:aws:iam::123456789012:root"]},
        {"Service": "logging.s3.amazonaws.com"},
        {"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
        {"Federated": "accounts.google.com"},
    ):
        parse_policy(doc(bucket_stmt(Principal=principal)), kind="bucket", bucket="b")


def test_principal_exists_hook():
    known = {"alice"}
    text = doc(bucket_stmt(Principal={"AWS": "mallory"}))
    e = err(text, kind="bucket", bucket="b", principal_exists=known.__contains__)
    assert e.message == "Invalid principal in policy"
    parse_policy(
        doc(bucket_stmt(Principal={"AWS": ["alice", "*"]})),
        kind="bucket",
        bucket="b",
        principal_exists=known.__contains__,
    )


def test_bucket_resources_may_use_wildcards_that_cover_the_bucket():
    for res in ("arn:aws:s3:::b*", "arn:aws:s3:::*", "arn:aws:s3:::b/*", "arn:aws:s3:::?"):
        parse_policy(doc(bucket_stmt(Action="s3:*", Resource=res)), kind="bucket", bucket="b")


def test_bucket_policy_wildcard_action_needs_no_applicability():
    parse_policy(doc(bucket_stmt(Action="s3:*", Resource="arn:aws:s3:::b")), kind="bucket", bucket="b")
    parse_policy(
        doc(
            bucket_stmt(
                Action=["s3:GetObject", "s3:ListBucket"],
                Resource=["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
            )
        ),
        kind="bucket",
        bucket="b",
    )


# --- trust and session policies ----------------------------------------------------


def test_trust_policy():
    trust = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:user/alice"},
        "Action": "sts:AssumeRole",
    }
    p = parse_policy(doc(trust), kind="trust")
    assert p.statements[0].resourceless
    assert err(doc({**trust, "Resource": "*"}), kind="trust").code == "MalformedPolicyDocument"
    assert err(doc({**trust, "Action": "s3:GetObject"}), kind="trust").code == "MalformedPolicyDocument"
    no_principal = {k: v for k, v in trust.items() if k != "Principal"}
    assert err(doc(no_principal), kind="trust").message == "Missing required field Principal"


def test_session_policy_is_identity_like():
    parse_policy(doc(ALLOW_ALL), kind="session")
    assert err(doc({**ALLOW_ALL, "Principal": "*"}), kind="session").code == "MalformedPolicyDocument"


# --- conditions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "cond",
    [
        {"NumericLessThan": {"s3:max-keys": "ten"}},
        {"DateGreaterThan": {"aws:CurrentTime": "yesterday"}},
        {"IpAddress": {"aws:SourceIp": "300.1.1.1/8"}},
        {"Bool": {"aws:SecureTransport": "yes"}},
        {"Null": {"s3:x-amz-acl": "maybe"}},
        {"NullIfExists": {"s3:x-amz-acl": "true"}},
        {"ForSomeValues:StringEquals": {"a:b": "c"}},
        {"StringEquals": {"nokey": "c"}},
        {"StringEquals": "c"},
        {"StringEquals": {"a:b": {"nested": 1}}},
    ],
)
def test_malformed_conditions(cond):
    assert err(doc({**ALLOW_ALL, "Condition": cond})).code == "MalformedPolicyDocument"
    stmt = bucket_stmt(Condition=cond)
    assert err(doc(stmt), kind="bucket", bucket="b").code == "MalformedPolicy"


def test_condition_values_may_be_numbers_and_bools():
    parse_policy(
        doc(
            {
                **ALLOW_ALL,
                "Condition": {
                    "NumericLessThanEquals": {"s3:max-keys": 10},
                    "Bool": {"aws:SecureTransport": True},
                    "StringEqualsIfExists": {"s3:x-amz-acl": ["private", "public-read"]},
                    "ForAnyValue:StringLike": {"s3:RequestObjectTagKeys": ["a*"]},
                    "DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"},
                    "DateLessThan": {"aws:EpochTime": 1893456000},
                },
            }
        ),
        kind="identity",
    )

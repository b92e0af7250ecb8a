"""MinIO's canned policies and the anonymous policies `mc anonymous set` writes."""

from __future__ import annotations

import json

import pytest

from domain.policy import (
    CANNED_POLICY_NAMES,
    Decision,
    Request,
    anonymous_kind,
    anonymous_policy,
    canned_policy,
    canned_policy_document,
    evaluate,
    parse_policy,
)


def req(action, resource="arn:aws:s3:::b/k"):
    return Request(
        action=action,
        resource=resource,
        principal="alice",
        principal_arn="arn:aws:iam::000:user/alice",
        account="000",
        context={},
    )


def can(name, action, resource="arn:aws:s3:::b/k") -> bool:
    return evaluate([canned_policy(name)], req(action, resource)) is Decision.ALLOW


def test_canned_names():
    assert set(CANNED_POLICY_NAMES) == {
        "readwrite",
        "readonly",
        "writeonly",
        "diagnostics",
        "consoleAdmin",
    }


def test_canned_documents_as_minio_prints_them():
    assert canned_policy_document("readwrite") == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::*"]}],
    }
    assert canned_policy_document("writeonly")["Statement"] == [
        {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::*"]}
    ]
    ro = canned_policy_document("readonly")["Statement"]
    assert ro[0] == {
        "Effect": "Allow",
        "Action": ["s3:GetBucketLocation", "s3:GetObject"],
        "Resource": ["arn:aws:s3:::*"],
    }
    admin = canned_policy_document("consoleAdmin")["Statement"]
    assert [s["Action"] for s in admin] == [["admin:*"], ["kms:*"], ["s3:*"]]
    # copies: editing one does not change the canned definition
    canned_policy_document("readwrite")["Statement"].clear()
    assert canned_policy_document("readwrite")["Statement"]
    with pytest.raises(KeyError):
        canned_policy("nope")


def test_readonly():
    assert can("readonly", "s3:GetObject")
    assert can("readonly", "s3:GetBucketLocation", "arn:aws:s3:::b")
    assert not can("readonly", "s3:PutObject")
    assert not can("readonly", "s3:ListBucket", "arn:aws:s3:::b")
    assert not can("readonly", "s3:DeleteObject")
    assert evaluate([canned_policy("readonly")], req("admin:CreateUser", "*")) is Decision.DENY


def test_readwrite():
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:PutObjectTagging"):
        assert can("readwrite", action)
    assert can("readwrite", "s3:ListBucket", "arn:aws:s3:::any")
    assert can("readwrite", "s3:CreateBucket", "arn:aws:s3:::any")
    assert can("readwrite", "s3:ListAllMyBuckets", "*")
    assert not can("readwrite", "admin:CreateUser", "*")


def test_writeonly():
    assert can("writeonly", "s3:PutObject")
    assert not can("writeonly", "s3:GetObject")
    assert not can("writeonly", "s3:DeleteObject")


def test_diagnostics():
    assert can("diagnostics", "admin:ServerInfo", "*")
    assert can("diagnostics", "admin:Prometheus", "*")
    assert not can("diagnostics", "admin:CreateUser", "*")
    assert not can("diagnostics", "s3:GetObject")


def test_console_admin():
    for action, resource in (
        ("admin:CreateUser", "*"),
        ("admin:ConfigUpdate", "*"),
        ("kms:CreateKey", "*"),
        ("s3:DeleteBucket", "arn:aws:s3:::b"),
        ("s3:GetObject", "arn:aws:s3:::b/k"),
    ):
        assert can("consoleAdmin", action, resource)
    assert not can("consoleAdmin", "iam:CreateUser", "*")


# --- anonymous ------------------------------------------------------------------------

PUBLIC = {"AWS": ["*"]}


def test_download_policy_as_mc_writes_it():
    assert anonymous_policy("download", "mybucket") == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
                "Effect": "Allow",
                "Principal": PUBLIC,
                "Resource": ["arn:aws:s3:::mybucket"],
                "Sid": "",
            },
            {
                "Action": ["s3:GetObject"],
                "Effect": "Allow",
                "Principal": PUBLIC,
                "Resource": ["arn:aws:s3:::mybucket/*"],
                "Sid": "",
            },
        ],
    }


def test_download_prefix_policy_as_mc_writes_it():
    assert anonymous_policy("download", "mybucket", "hello")["Statement"] == [
        {
            "Action": ["s3:GetBucketLocation"],
            "Effect": "Allow",
            "Principal": PUBLIC,
            "Resource": ["arn:aws:s3:::mybucket"],
            "Sid": "",
        },
        {
            "Action": ["s3:ListBucket"],
            "Condition": {"StringLike": {"s3:prefix": ["hello*"]}},
            "Effect": "Allow",
            "Principal": PUBLIC,
            "Resource": ["arn:aws:s3:::mybucket"],
            "Sid": "",
        },
        {
            "Action": ["s3:GetObject"],
            "Effect": "Allow",
            "Principal": PUBLIC,
            "Resource": ["arn:aws:s3:::mybucket/hello*"],
            "Sid": "",
        },
    ]


def test_upload_and_public_policies_as_mc_writes_them():
    assert anonymous_policy("upload", "mybucket")["Statement"] == [
        {
            "Action": ["s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
            "Effect": "Allow",
            "Principal": PUBLIC,
            "Resource": ["arn:aws:s3:::mybucket"],
            "Sid": "",
        },
        {
            "Action": [
                "s3:AbortMultipartUpload",
                "s3:DeleteObject",
                "s3:ListMultipartUploadParts",
                "s3:PutObject",
            ],
            "Effect": "Allow",
            "Principal": PUBLIC,
            "Resource": ["arn:aws:s3:::mybucket/*"],
            "Sid": "",
        },
    ]
    assert anonymous_policy("public", "mybucket")["Statement"] == [
        {
            "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
            "Effect": "Allow",
            "Principal": PUBLIC,
            "Resource": ["arn:aws:s3:::mybucket"],
            "Sid": "",
        },
        {
            "Action": [
                "s3:AbortMultipartUpload",
                "s3:DeleteObject",
                "s3:GetObject",
                "s3:ListMultipartUploadParts",
                "s3:PutObject",
            ],
            "Effect": "Allow",
            "Principal": PUBLIC,
            "Resource": ["arn:aws:s3:::mybucket/*"],
            "Sid": "",
        },
    ]
    assert anonymous_policy("public", "mybucket", "hello")["Statement"][0]["Action"] == [
        "s3:GetBucketLocation",
        "s3:ListBucketMultipartUploads",
    ]


def test_none_removes_the_policy():
    assert anonymous_policy("none", "b") is None
    assert anonymous_policy("private", "b", existing=anonymous_policy("public", "b")) is None
    with pytest.raises(ValueError):
        anonymous_policy("everything", "b")


@pytest.mark.parametrize("kind", ["download", "upload", "public"])
@pytest.mark.parametrize("prefix", ["", "hello", "a/b/"])
def test_kind_round_trip(kind, prefix):
    d = anonymous_policy(kind, "b", prefix)
    assert anonymous_kind(d, "b", prefix) == kind
    assert anonymous_kind(json.dumps(d), "b", prefix) == kind


def test_kind_reports():
    assert anonymous_kind(None, "b") == "private"
    assert anonymous_kind("", "b") == "private"
    custom = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "alice"},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::b/*",
            }
        ],
    }
    assert anonymous_kind(custom, "b") == "custom"
    # a prefix policy covers the prefix, not the whole bucket
    d = anonymous_policy("download", "b", "pub/")
    assert anonymous_kind(d, "b", "pub/") == "download"
    assert anonymous_kind(d, "b") == "custom"
    # the whole-bucket policy also covers a sub-prefix
    assert anonymous_kind(anonymous_policy("download", "b"), "b", "x/") == "download"
    # older mc wrote StringEquals s3:prefix conditions
    old = anonymous_policy("download", "b", "p")
    old["Statement"][1]["Condition"] = {"StringEquals": {"s3:prefix": ["p"]}}
    assert anonymous_kind(old, "b", "p") == "download"


def test_set_keeps_other_statements_and_prefixes():
    custom = {
        "Effect": "Allow",
        "Principal": {"AWS": "alice"},
        "Action": ["s3:PutObject"],
        "Resource": ["arn:aws:s3:::b/alice/*"],
    }
    existing = {"Version": "2012-10-17", "Statement": [custom]}
    d = anonymous_policy("download", "b", "a/", existing=existing)
    assert d["Statement"][0] == custom
    d = anonymous_policy("upload", "b", "up/", existing=d)
    assert anonymous_kind(d, "b", "a/") == "download"
    assert anonymous_kind(d, "b", "up/") == "upload"
    parse_policy(json.dumps(d), kind="bucket", bucket="b")
    d = anonymous_policy("none", "b", "a/", existing=d)
    assert anonymous_kind(d, "b", "up/") == "upload"
    assert anonymous_kind(d, "b", "a/") == "custom"
    assert custom in d["Statement"]
    d = anonymous_policy("none", "b", "up/", existing=d)
    assert d == {"Version": "2012-10-17", "Statement": [custom]}
    # switching a prefix replaces, never accumulates
    d = anonymous_policy("public", "b", existing=anonymous_policy("download", "b"))
    assert d == anonymous_policy("public", "b")

"""Evaluation: actions, resources, principals, Deny over Allow, the access model."""

from __future__ import annotations

import json

from domain.policy import (
    Decision,
    Request,
    anonymous_policy,
    authorize,
    authorize_detail,
    canned_policy,
    evaluate,
    normalize_context,
    parse_policy,
    principal_matches,
)

ACCT = "000000000000"


def identity(*statements: dict):
    return parse_policy(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}), kind="identity")


def session(*statements: dict):
    return parse_policy(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}), kind="session")


def bucket_policy(*statements: dict, bucket="b"):
    return parse_policy(
        json.dumps({"Version": "2012-10-17", "Statement": list(statements)}),
        kind="bucket",
        bucket=bucket,
    )


def anon_policy(kind, bucket, prefix=""):
    return parse_policy(json.dumps(anonymous_policy(kind, bucket, prefix)), kind="bucket", bucket=bucket)


def allow(action, resource="*", **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra):
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def req(action="s3:GetObject", resource="arn:aws:s3:::b/k", user="alice", context=None, **kw):
    arn = None if user is None else f"arn:aws:iam::{ACCT}:user/{user}"
    return Request(
        action=action,
        resource=resource,
        principal=user,
        principal_arn=kw.pop("principal_arn", arn),
        account=ACCT,
        context=normalize_context(context or {}),
        **kw,
    )


def access(req_, *, identity_policies=(), bucket=None, acl=False, sessions=(), root=False, owner=False):
    return authorize(
        identity_policies=list(identity_policies),
        bucket_policy=bucket,
        acl_allows=acl,
        session_policies=list(sessions),
        req=req_,
        is_root=root,
        is_owner=owner,
    )


# --- actions and resources ----------------------------------------------------------


def test_action_matching_is_case_insensitive_with_wildcards():
    p = identity(allow("s3:get*", "arn:aws:s3:::b/*"))
    assert evaluate([p], req("S3:GetObject")) is Decision.ALLOW
    assert evaluate([p], req("s3:GetObjectTagging")) is Decision.ALLOW
    assert evaluate([p], req("s3:PutObject")) is Decision.NOT_APPLICABLE
    star = identity(allow("*"))
    assert evaluate([star], req("iam:CreateUser", resource="*")) is Decision.ALLOW


def test_resource_matching_is_case_sensitive_with_wildcards():
    p = identity(allow("s3:GetObject", ["arn:aws:s3:::b/photos/*", "arn:aws:s3:::b/file?.txt"]))
    assert evaluate([p], req(resource="arn:aws:s3:::b/photos/2024/x.jpg")) is Decision.ALLOW
    assert evaluate([p], req(resource="arn:aws:s3:::b/Photos/x.jpg")) is Decision.NOT_APPLICABLE
    assert evaluate([p], req(resource="arn:aws:s3:::b/file1.txt")) is Decision.ALLOW
    assert evaluate([p], req(resource="arn:aws:s3:::b/file12.txt")) is Decision.NOT_APPLICABLE
    assert evaluate([p], req(resource="arn:aws:s3:::B/photos/x")) is Decision.NOT_APPLICABLE


def test_bucket_resource_does_not_cover_objects():
    p = identity(allow("s3:*", "arn:aws:s3:::b"))
    assert evaluate([p], req("s3:ListBucket", "arn:aws:s3:::b")) is Decision.ALLOW
    assert evaluate([p], req("s3:GetObject", "arn:aws:s3:::b/k")) is Decision.NOT_APPLICABLE


def test_list_all_my_buckets_resource():
    p = identity(allow("s3:ListAllMyBuckets", "arn:aws:s3:::*"))
    assert evaluate([p], req("s3:ListAllMyBuckets", "*")) is Decision.ALLOW
    d = identity(deny(["s3:ListAllMyBuckets", "s3:DeleteBucket"], "arn:aws:s3:::*"))
    assert evaluate([d], req("s3:ListAllMyBuckets", "*")) is Decision.DENY
    narrow = identity(allow("s3:ListAllMyBuckets", "arn:aws:s3:::b/*"))
    assert evaluate([narrow], req("s3:ListAllMyBuckets", "*")) is Decision.NOT_APPLICABLE


def test_not_action():
    p = identity({"Effect": "Allow", "NotAction": "s3:DeleteObject", "Resource": "*"})
    assert evaluate([p], req("s3:GetObject")) is Decision.ALLOW
    assert evaluate([p], req("s3:DeleteObject")) is Decision.NOT_APPLICABLE
    d = identity(allow("s3:*"), {"Effect": "Deny", "NotAction": "s3:Get*", "Resource": "*"})
    assert evaluate([d], req("s3:GetObject")) is Decision.ALLOW
    assert evaluate([d], req("s3:PutObject")) is Decision.DENY


def test_not_resource():
    p = identity({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secret/*"})
    assert evaluate([p], req(resource="arn:aws:s3:::b/k")) is Decision.ALLOW
    assert evaluate([p], req(resource="arn:aws:s3:::secret/k")) is Decision.NOT_APPLICABLE
    d = identity(
        allow("s3:*"),
        {"Effect": "Deny", "Action": "s3:*", "NotResource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]},
    )
    assert evaluate([d], req(resource="arn:aws:s3:::b/k")) is Decision.ALLOW
    assert evaluate([d], req(resource="arn:aws:s3:::other/k")) is Decision.DENY


def test_admin_actions_ignore_resources():
    p = canned_policy("consoleAdmin")
    assert evaluate([p], req("admin:CreateUser", "*")) is Decision.ALLOW
    assert evaluate([p], req("admin:CreateUser", "arn:aws:s3:::whatever")) is Decision.ALLOW
    q = identity(allow("admin:ServerInfo", "arn:aws:s3:::b"))
    assert evaluate([q], req("admin:ServerInfo", "*")) is Decision.ALLOW


def test_policies_none_and_empty():
    assert evaluate([], req()) is Decision.NOT_APPLICABLE
    assert evaluate([None], req()) is Decision.NOT_APPLICABLE


# --- principals -----------------------------------------------------------------------


def test_principal_matching():
    def stmt(principal):
        return bucket_policy(
            {
                "Effect": "Allow",
                "Principal": principal,
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::b/*",
            }
        ).statements[0]

    alice = req()
    anon = req(user=None)
    bob = req(user="bob")
    assert principal_matches(stmt("*"), anon)
    assert principal_matches(stmt({"AWS": "*"}), anon)
    assert principal_matches(stmt({"AWS": ["*"]}), alice)
    assert principal_matches(stmt({"AWS": f"arn:aws:iam::{ACCT}:user/alice"}), alice)
    assert not principal_matches(stmt({"AWS": f"arn:aws:iam::{ACCT}:user/alice"}), bob)
    assert principal_matches(stmt({"AWS": "alice"}), alice)
    assert not principal_matches(stmt({"AWS": "alice"}), anon)
    assert principal_matches(stmt({"AWS": ACCT}), bob)
    assert principal_matches(stmt({"AWS": f"arn:aws:iam::{ACCT}:root"}), bob)
    assert not principal_matches(stmt({"AWS": f"arn:aws:iam::{ACCT}:root"}), anon)
    assert not principal_matches(stmt({"AWS": "arn:aws:iam::999999999999:root"}), bob)
    canon = req(canonical_id="c0ffee")
    assert principal_matches(stmt({"CanonicalUser": "c0ffee"}), canon)
    assert not principal_matches(stmt({"CanonicalUser": "other"}), canon)
    sess = req(user="ASIATEMP", principal_arn=f"arn:aws:sts::{ACCT}:assumed-role/reader/s1")
    assert principal_matches(stmt({"AWS": f"arn:aws:iam::{ACCT}:role/reader"}), sess)
    # identity statements have no principal: always match
    assert principal_matches(identity(allow("s3:*")).statements[0], anon)


def test_not_principal():
    p = bucket_policy(
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*",
        },
        {
            "Effect": "Deny",
            "NotPrincipal": {"AWS": "alice"},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/secret/*",
        },
    )
    assert evaluate([p], req(resource="arn:aws:s3:::b/secret/x")) is Decision.ALLOW
    assert evaluate([p], req(user="bob", resource="arn:aws:s3:::b/secret/x")) is Decision.DENY
    assert evaluate([p], req(user=None, resource="arn:aws:s3:::b/secret/x")) is Decision.DENY
    assert evaluate([p], req(user="bob", resource="arn:aws:s3:::b/public/x")) is Decision.ALLOW


def test_bucket_policy_checks_principal():
    p = bucket_policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "alice"},
            "Action": "s3:*",
            "Resource": "arn:aws:s3:::b/*",
        }
    )
    assert evaluate([p], req()) is Decision.ALLOW
    assert evaluate([p], req(user="bob")) is Decision.NOT_APPLICABLE
    assert evaluate([p], req(user=None)) is Decision.NOT_APPLICABLE


def test_trust_policy_evaluation():
    t = parse_policy(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{ACCT}:user/alice"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
        kind="trust",
    )
    role = f"arn:aws:iam::{ACCT}:role/r"
    assert evaluate([t], req("sts:AssumeRole", role)) is Decision.ALLOW
    assert evaluate([t], req("sts:AssumeRole", role, user="bob")) is Decision.NOT_APPLICABLE


# --- Deny beats Allow, the access model ----------------------------------------------


def test_deny_beats_allow_within_and_across_identity_policies():
    a = identity(allow("s3:*"))
    d = identity(deny("s3:DeleteObject", "arn:aws:s3:::b/*"))
    assert evaluate([a, d], req("s3:DeleteObject")) is Decision.DENY
    assert evaluate([d, a], req("s3:DeleteObject")) is Decision.DENY
    assert evaluate([a, d], req("s3:GetObject")) is Decision.ALLOW
    assert not access(req("s3:DeleteObject"), identity_policies=[a, d])


def test_bucket_policy_deny_beats_identity_allow():
    rw = canned_policy("readwrite")
    bp = bucket_policy(
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/private/*",
        }
    )
    assert access(req(resource="arn:aws:s3:::b/public/x"), identity_policies=[rw], bucket=bp)
    assert not access(req(resource="arn:aws:s3:::b/private/x"), identity_policies=[rw], bucket=bp)
    # ...and ACL grants and ownership do not override it either
    assert not access(req(resource="arn:aws:s3:::b/private/x"), bucket=bp, acl=True, owner=True)


def test_identity_deny_beats_bucket_policy_allow():
    bp = bucket_policy(
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*",
        }
    )
    d = identity(deny("s3:GetObject"))
    assert access(req(), bucket=bp)
    assert not access(req(), identity_policies=[d], bucket=bp)


def test_any_allow_suffices():
    r = req()
    assert not access(r)
    assert access(r, identity_policies=[canned_policy("readonly")])
    assert access(
        r,
        bucket=bucket_policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": "alice"},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::b/*",
            }
        ),
    )
    assert access(r, acl=True)
    assert access(r, owner=True)
    assert not access(req("admin:CreateUser", "*"), owner=True)


def test_root_can_do_everything():
    d = identity(deny("*"))
    bp = bucket_policy({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"})
    assert access(req(), identity_policies=[d], bucket=bp, root=True)


def test_session_policies_only_narrow():
    rw = canned_policy("readwrite")
    ro = canned_policy("readonly")
    # service account with an embedded read-only policy under a read-write parent
    assert access(req("s3:GetObject"), identity_policies=[rw], sessions=[ro])
    assert not access(req("s3:PutObject"), identity_policies=[rw], sessions=[ro])
    # never widens: the parent can only read, the session policy allows all
    assert not access(req("s3:PutObject"), identity_policies=[ro], sessions=[rw])
    # several session policies intersect
    only_b = session(allow("s3:*", "arn:aws:s3:::b/*"))
    assert access(req("s3:GetObject"), identity_policies=[rw], sessions=[ro, only_b])
    assert not access(req("s3:GetObject", "arn:aws:s3:::c/k"), identity_policies=[rw], sessions=[ro, only_b])
    # an explicit Deny in a session policy refuses
    no_del = session(allow("s3:*"), deny("s3:DeleteObject"))
    assert not access(req("s3:DeleteObject"), identity_policies=[rw], sessions=[no_del])
    # session policies also narrow bucket-policy, ACL and owner access
    assert not access(req("s3:PutObject"), acl=True, sessions=[ro])
    assert not access(req("s3:PutObject"), owner=True, sessions=[ro])
    assert access(req("s3:GetObject"), owner=True, sessions=[ro])


def test_authorize_detail_reasons():
    def why(**kw):
        return authorize_detail(
            identity_policies=kw.get("ids", []),
            bucket_policy=kw.get("bp"),
            acl_allows=kw.get("acl", False),
            session_policies=kw.get("sessions", []),
            req=kw.get("r", req()),
            is_root=kw.get("root", False),
            is_owner=kw.get("owner", False),
        )

    assert why(root=True) == (True, "root")
    assert why() == (False, "implicit-deny")
    assert why(ids=[canned_policy("readonly")]) == (True, "identity-policy")
    assert why(acl=True) == (True, "acl")
    assert why(ids=[identity(deny("*"))]) == (False, "explicit-deny:identity")
    assert why(acl=True, sessions=[canned_policy("writeonly")]) == (False, "session-policy")


def test_anonymous_access_through_download_policy():
    bp = anon_policy("download", "b")
    anon_get = req(user=None)
    assert access(anon_get, bucket=bp)
    assert access(req("s3:ListBucket", "arn:aws:s3:::b", user=None), bucket=bp)
    assert not access(req("s3:PutObject", user=None), bucket=bp)
    assert not access(req("s3:GetObject", "arn:aws:s3:::other/k", user=None), bucket=bp)
    assert not access(req(user=None))  # no policy, no ACL: denied


def test_anonymous_prefix_download_policy():
    bp = anon_policy("download", "b", "pub/")
    list_req = req("s3:ListBucket", "arn:aws:s3:::b", user=None, context={"s3:prefix": "pub/2024/"})
    assert access(list_req, bucket=bp)
    assert not access(req("s3:ListBucket", "arn:aws:s3:::b", user=None, context={"s3:prefix": "priv/"}), bucket=bp)
    assert not access(req("s3:ListBucket", "arn:aws:s3:::b", user=None), bucket=bp)
    assert access(req(resource="arn:aws:s3:::b/pub/x", user=None), bucket=bp)
    assert not access(req(resource="arn:aws:s3:::b/priv/x", user=None), bucket=bp)


def test_anonymous_upload_and_public_policies():
    up = anon_policy("upload", "b")
    assert access(req("s3:PutObject", user=None), bucket=up)
    assert not access(req("s3:GetObject", user=None), bucket=up)
    pub = anon_policy("public", "b")
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"):
        assert access(req(action, user=None), bucket=pub)
    assert not access(req("s3:DeleteBucket", "arn:aws:s3:::b", user=None), bucket=pub)


# --- cost ------------------------------------------------------------------------------

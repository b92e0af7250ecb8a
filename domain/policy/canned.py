"""MinIO's canned policies and the anonymous bucket policies `mc anonymous` writes.

Canned identity policies (they exist from the start and cannot be edited):
readwrite, readonly, writeonly, diagnostics, consoleAdmin — the statements
MinIO's `DefaultPolicies` define (minio/pkg policy/constants.go), with
resource "*" spelled "arn:aws:s3:::*" as MinIO prints it.

Anonymous bucket policies: `mc anonymous set none|private|download|upload|public
ALIAS/BUCKET[/PREFIX]` reads the bucket policy, replaces the statements that
give anonymous access to that bucket/prefix and writes the result back
(deleting the policy when nothing is left). `anonymous_policy` computes that
result; `anonymous_kind` is what `mc anonymous get` reports for a bucket/prefix
(private, download, upload, public, or custom for any other policy).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from .document import Policy, parse_policy

VERSION = "2012-10-17"
ARN = "arn:aws:s3:::"

_ANY_S3 = [ARN + "*"]

CANNED_POLICIES: dict[str, dict[str, Any]] = {
    "readwrite": {
        "Version": VERSION,
        "Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": _ANY_S3}],
    },
    "readonly": {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetBucketLocation", "s3:GetObject"],
                "Resource": _ANY_S3,
            },
            {"Effect": "Deny", "Action": ["admin:CreateUser"], "Resource": _ANY_S3},
        ],
    },
    "writeonly": {
        "Version": VERSION,
        "Statement": [{"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": _ANY_S3}],
    },
    "diagnostics": {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "admin:BandwidthMonitor",
                    "admin:ConsoleLog",
                    "admin:OBDInfo",
                    "admin:Profiling",
                    "admin:Prometheus",
                    "admin:ServerInfo",
                    "admin:ServerTrace",
                    "admin:TopLocksInfo",
                ],
                "Resource": _ANY_S3,
            }
        ],
    },
    "consoleAdmin": {
        "Version": VERSION,
        "Statement": [
            {"Effect": "Allow", "Action": ["admin:*"]},
            {"Effect": "Allow", "Action": ["kms:*"]},
            {"Effect": "Allow", "Action": ["s3:*"], "Resource": _ANY_S3},
        ],
    },
}

CANNED_POLICY_NAMES: tuple[str, ...] = tuple(CANNED_POLICIES)

# AWS managed policies the IAM API may attach (AttachUserPolicy ... PolicyArn=
# arn:aws:iam::aws:policy/<name>): the AWS documents, restricted to the services this server
# has (AWS's S3 ones also name s3-object-lambda, IAM's read-only one iam:Generate*/Simulate*).
AWS_MANAGED_PREFIX = "arn:aws:iam::aws:policy/"
AWS_MANAGED_POLICIES: dict[str, dict[str, Any]] = {
    "AdministratorAccess": {
        "Version": VERSION,
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    },
    "AmazonS3FullAccess": {
        "Version": VERSION,
        "Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": "*"}],
    },
    "AmazonS3ReadOnlyAccess": {
        "Version": VERSION,
        "Statement": [{"Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": "*"}],
    },
    "IAMFullAccess": {
        "Version": VERSION,
        "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}],
    },
    "IAMReadOnlyAccess": {
        "Version": VERSION,
        "Statement": [{"Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"}],
    },
}


def _builtin(name: str) -> dict[str, Any]:
    if name.startswith(AWS_MANAGED_PREFIX):
        return AWS_MANAGED_POLICIES[name[len(AWS_MANAGED_PREFIX) :]]
    return CANNED_POLICIES[name]


def canned_policy_document(name: str) -> dict[str, Any]:
    """A fresh copy of a canned policy's JSON document: a MinIO canned policy's by name, an
    AWS managed policy's by its ARN (KeyError if unknown)."""
    return copy.deepcopy(_builtin(name))


@cache
def canned_policy(name: str) -> Policy:
    """The parsed canned (or AWS managed, by ARN) policy (KeyError if unknown)."""
    doc = _builtin(name)
    return parse_policy(json.dumps(doc, separators=(",", ":")), kind="identity")


# --- anonymous bucket policies ----------------------------------------------

_KIND_ALIASES = {
    "none": "none",
    "private": "none",
    "download": "readonly",
    "readonly": "readonly",
    "upload": "writeonly",
    "writeonly": "writeonly",
    "public": "readwrite",
    "readwrite": "readwrite",
}
_REPORTED = {
    "none": "private",
    "readonly": "download",
    "writeonly": "upload",
    "readwrite": "public",
}

_COMMON_BUCKET = frozenset({"s3:GetBucketLocation"})
_READ_BUCKET = frozenset({"s3:ListBucket"})
_WRITE_BUCKET = frozenset({"s3:ListBucketMultipartUploads"})
_READ_OBJECT = frozenset({"s3:GetObject"})
_WRITE_OBJECT = frozenset({"s3:AbortMultipartUpload", "s3:DeleteObject", "s3:ListMultipartUploadParts", "s3:PutObject"})
_CANNED_ACTIONS = _COMMON_BUCKET | _READ_BUCKET | _WRITE_BUCKET | _READ_OBJECT | _WRITE_OBJECT


def _stmt(actions: frozenset[str], resource: str, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    # key order and sorted lists as minio-go marshals its BucketAccessPolicy
    out: dict[str, Any] = {"Action": sorted(actions)}
    if condition:
        out["Condition"] = condition
    out["Effect"] = "Allow"
    out["Principal"] = {"AWS": ["*"]}
    out["Resource"] = [resource]
    out["Sid"] = ""
    return out


def _statements_for(kind: str, bucket: str, prefix: str) -> list[dict[str, Any]]:
    """The statements one kind opens on bucket/prefix, before merging."""
    if kind == "none" or not bucket:
        return []
    bucket_arn = ARN + bucket
    out = [_stmt(_COMMON_BUCKET, bucket_arn)]
    if kind in ("readonly", "readwrite"):
        cond = {"StringLike": {"s3:prefix": [prefix + "*"]}} if prefix else None
        out.append(_stmt(_READ_BUCKET, bucket_arn, cond))
    if kind in ("writeonly", "readwrite"):
        out.append(_stmt(_WRITE_BUCKET, bucket_arn))
    objects = {
        "readonly": _READ_OBJECT,
        "writeonly": _WRITE_OBJECT,
        "readwrite": _READ_OBJECT | _WRITE_OBJECT,
    }[kind]
    out.append(_stmt(objects, f"{bucket_arn}/{prefix}*"))
    return out


def _as_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _is_anyone(principal: object) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        return "*" in _as_list(principal.get("AWS"))
    return False


def _merge_conditions(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(a)
    for op, entries in b.items():
        target = out.setdefault(op, {})
        for key, values in entries.items():
            have = _as_list(target.get(key))
            target[key] = sorted(set(have) | set(_as_list(values)))
    return out


def _add(statements: list[dict[str, Any]], new: dict[str, Any]) -> None:
    """Append a statement, folding it into an equivalent one: same actions
    (and effect, principal, condition) -> union of resources; same resources
    -> union of actions; already covered -> nothing."""
    n_act, n_res = set(new["Action"]), set(new["Resource"])
    n_cond = new.get("Condition")
    for s in statements:
        s_act, s_res = set(_as_list(s.get("Action"))), set(_as_list(s.get("Resource")))
        s_cond = s.get("Condition")
        same_head = s.get("Effect") == new["Effect"] and _is_anyone(s.get("Principal"))
        if not same_head:
            continue
        if s_act == n_act and s_cond == n_cond:
            s["Resource"] = sorted(s_res | n_res)
            return
        if s_res == n_res and s_cond == n_cond:
            s["Action"] = sorted(s_act | n_act)
            return
        if n_res <= s_res and n_act <= s_act:
            if s_cond == n_cond:
                return
            if s_cond and n_cond and s_res == n_res:
                s["Condition"] = _merge_conditions(s_cond, n_cond)
                return
    statements.append(new)


def _star_match(pattern: str, text: str) -> bool:
    return re.fullmatch(".*".join(re.escape(p) for p in pattern.split("*")), text, re.DOTALL) is not None


def _statements_of(policy: Mapping[str, Any] | str | bytes | None) -> list[dict[str, Any]]:
    if policy is None or policy in ("", b""):
        return []
    if isinstance(policy, str | bytes):
        policy = json.loads(policy)
    assert isinstance(policy, Mapping)
    raw = policy.get("Statement") or []
    if isinstance(raw, Mapping):
        raw = [raw]
    return [dict(s) for s in raw if isinstance(s, Mapping)]


def _bucket_kind(statements: list[dict[str, Any]], bucket: str, prefix: str) -> str:
    """none / readonly / writeonly / readwrite for bucket/prefix."""
    bucket_arn = ARN + bucket
    object_arn = f"{bucket_arn}/{prefix}*"
    common = b_read = b_write = False
    o_read = o_write = False
    best = -1
    for s in statements:
        actions = set(_as_list(s.get("Action")))
        resources = _as_list(s.get("Resource"))
        cond = s.get("Condition") or None
        public = s.get("Effect") == "Allow" and _is_anyone(s.get("Principal"))
        matched = [object_arn] if object_arn in resources else [r for r in resources if _star_match(r, object_arn)]
        if matched:
            read = public and not cond and _READ_OBJECT <= actions
            write = public and not cond and _WRITE_OBJECT <= actions
            for r in matched:
                if len(r) > best:
                    o_read, o_write, best = read, write, len(r)
                elif len(r) == best:
                    o_read, o_write = o_read or read, o_write or write
        if bucket_arn in resources and public:
            if _COMMON_BUCKET <= actions and not cond:
                common = True
            if _WRITE_BUCKET <= actions and not cond:
                b_write = True
            if _READ_BUCKET <= actions:
                if not cond:
                    b_read = True
                elif prefix:
                    b_read = _prefix_condition_allows(cond, prefix)
    if common:
        if b_read and b_write and o_read and o_write:
            return "readwrite"
        if b_read and o_read:
            return "readonly"
        if b_write and o_write:
            return "writeonly"
    return "none"


def _prefix_condition_allows(cond: Mapping[str, Any], prefix: str) -> bool:
    for op, want, positive in (
        ("StringEquals", prefix, True),
        ("StringNotEquals", prefix, False),
        ("StringLike", prefix + "*", True),
        ("StringNotLike", prefix + "*", False),
    ):
        entries = cond.get(op)
        if isinstance(entries, Mapping):
            if "s3:prefix" not in entries:
                return False
            present = want in _as_list(entries["s3:prefix"])
            return present if positive else not present
    return False


def _is_canned_statement(s: Mapping[str, Any], bucket: str) -> bool:
    """A statement `mc anonymous` manages for this bucket (anything else is kept verbatim)."""
    if s.get("Effect") != "Allow" or not _is_anyone(s.get("Principal")):
        return False
    actions = set(_as_list(s.get("Action")))
    if not actions or not actions <= _CANNED_ACTIONS:
        return False
    bucket_arn = ARN + bucket
    resources = _as_list(s.get("Resource"))
    if not resources or not all(r == bucket_arn or r.startswith(bucket_arn + "/") for r in resources):
        return False
    cond = s.get("Condition")
    if cond:
        return set(cond) <= {"StringLike", "StringEquals"} and all(
            isinstance(v, Mapping) and set(v) == {"s3:prefix"} for v in cond.values()
        )
    return True


def anonymous_kind(policy: Mapping[str, Any] | str | bytes | None, bucket: str, prefix: str = "") -> str:
    """What `mc anonymous get BUCKET[/PREFIX]` reports: "private" (no policy),
    "download", "upload", "public", or "custom" (a policy that is none of those)."""
    statements = _statements_of(policy)
    if not statements:
        return "private"
    kind = _bucket_kind(statements, bucket, prefix)
    return "custom" if kind == "none" else _REPORTED[kind]


def anonymous_policy(
    kind: str,
    bucket: str,
    prefix: str = "",
    existing: Mapping[str, Any] | str | bytes | None = None,
) -> dict[str, Any] | None:
    """The bucket policy after `mc anonymous set KIND BUCKET[/PREFIX]`.

    `kind`: none | private | download | upload | public (or minio-go's
    readonly / writeonly / readwrite). `existing`: the current bucket policy,
    whose other statements are kept. Returns None when no statement is left
    (the caller deletes the bucket policy, as mc does).
    """
    try:
        canonical = _KIND_ALIASES[kind]
    except KeyError:
        raise ValueError(f"unknown anonymous access kind {kind!r}") from None
    statements = _statements_of(existing)
    kept = [s for s in statements if not _is_canned_statement(s, bucket)]
    managed = [s for s in statements if _is_canned_statement(s, bucket)]

    # the prefixes already opened, and how
    opened: dict[str, str] = {}
    obj_prefix = ARN + bucket + "/"
    for s in managed:
        for r in _as_list(s.get("Resource")):
            if r.startswith(obj_prefix) and r.endswith("*"):
                p = r[len(obj_prefix) : -1]
                if p not in opened:
                    k = _bucket_kind(managed, bucket, p)
                    if k != "none":
                        opened[p] = k
    opened.pop(prefix, None)
    if canonical != "none":
        opened[prefix] = canonical

    merged: list[dict[str, Any]] = [copy.deepcopy(s) for s in kept]
    for p, k in opened.items():
        for s in _statements_for(k, bucket, p):
            _add(merged, s)
    if not merged:
        return None
    return {"Version": VERSION, "Statement": merged}

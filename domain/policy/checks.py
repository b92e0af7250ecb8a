"""The checks a policy statement passes, and the errors it fails with: S3's words for a
bucket policy (MalformedPolicy), IAM's for the other kinds (MalformedPolicyDocument)."""

from __future__ import annotations

from typing import Literal

from domain.errors import DomainError

from .actions import CANONICAL, KNOWN_ACTIONS, SERVICES, scope_of, service_of
from .patterns import compile_regex, glob_to_regex, has_wildcard

Kind = Literal["identity", "bucket", "trust", "session"]

S3_ARN_PREFIX = "arn:aws:s3:::"

# Messages, per family of document: (bucket policy, IAM document)
_MESSAGES: dict[str, tuple[str, str]] = {
    "json": ("This policy contains invalid Json", "Syntax errors in policy."),
    "size": (
        "Policy exceeds the maximum allowed document size (20 KiB).",
        "Cannot exceed quota for PolicySize: 20480",
    ),
    "version": (
        "The policy must contain a valid version string",
        "The policy failed legacy parsing",
    ),
    "statement": ("Missing required field Statement", "Syntax errors in policy."),
    "effect": ("Missing required field Effect", "Syntax errors in policy."),
    "action": ("Missing required field Action", "Policy statement must contain actions."),
    "bad_action": ("Policy has invalid action", "Policy has invalid action"),
    "vendor": (
        "Policy has invalid action",
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
    ),
    "resource": ("Missing required field Resource", "Policy statement must contain resources."),
    "bad_resource": ("Policy has invalid resource", "Policy has invalid resource"),
    "principal": ("Missing required field Principal", "Missing required field Principal"),
    "no_principal": (
        "Policy has an invalid principal field",
        "Policy document should not specify a principal.",
    ),
    "bad_principal": ("Invalid principal in policy", "Invalid principal in policy"),
    "sid": (
        "Statement IDs (SID) in a single policy must be unique.",
        "Statement IDs (SID) in a single policy must be unique.",
    ),
    "not_applicable": (
        "Action does not apply to any resource(s) in statement",
        "Action does not apply to any resource(s) in statement",
    ),
    "trust_resource": ("Has prohibited field Resource", "Has prohibited field Resource"),
}


class Fail:
    """Builds the DomainError a document of this kind answers with (S3's or IAM's words)."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.code = "MalformedPolicy" if kind == "bucket" else "MalformedPolicyDocument"

    def __call__(self, what: str, detail: str | None = None) -> DomainError:
        if what in _MESSAGES:
            bucket_msg, iam_msg = _MESSAGES[what]
            msg = bucket_msg if self.kind == "bucket" else iam_msg
        else:
            msg = what
        if detail and self.kind != "bucket":  # S3 answers its messages verbatim
            msg = f"{msg}: {detail}" if not msg.endswith(".") else f"{msg} ({detail})"
        return DomainError(self.code, msg)


def known_pattern(pattern: str) -> bool:
    if not has_wildcard(pattern):
        return pattern.lower() in CANONICAL
    rx = compile_regex(glob_to_regex(pattern), True)
    return any(rx.fullmatch(a) for a in KNOWN_ACTIONS)


def check_actions(values: list[str], kind: Kind, fail: Fail) -> None:
    for a in values:
        if a == "*":
            continue
        service = service_of(a)
        if not service:
            raise fail("vendor", a)
        if kind == "bucket" and service not in ("s3", "s3*", "*"):
            raise fail("bad_action", a)
        if kind == "trust" and service not in ("sts", "*"):
            raise fail("bad_action", a)
        if not has_wildcard(service) and service not in SERVICES:
            raise fail("bad_action", a)
        if not known_pattern(a):
            raise fail("bad_action", a)


def bucket_part(resource: str) -> str:
    return resource[len(S3_ARN_PREFIX) :].split("/", 1)[0]


def check_resources(values: list[str], kind: Kind, bucket: str | None, fail: Fail) -> None:
    for r in values:
        if r == "*":
            continue
        if kind == "bucket":
            if not r.startswith(S3_ARN_PREFIX):
                raise fail("bad_resource", r)
            part = bucket_part(r)
            if not part:
                raise fail("bad_resource", r)
            if bucket is not None and not compile_regex(glob_to_regex(part)).fullmatch(bucket):
                raise fail("bad_resource", r)
        elif not r.startswith("arn:"):
            raise DomainError(fail.code, f'Resource {r} must be in ARN format or "*".')


def could_match_object(pattern: str) -> bool:
    if pattern == "*":
        return True
    rest = pattern[len(S3_ARN_PREFIX) :] if pattern.startswith(S3_ARN_PREFIX) else pattern
    return "/" in rest or "*" in rest


def could_match_bucket(pattern: str, bucket: str | None) -> bool:
    if pattern == "*":
        return True
    if bucket is not None:
        return compile_regex(glob_to_regex(pattern)).fullmatch(S3_ARN_PREFIX + bucket) is not None
    rest = pattern[len(S3_ARN_PREFIX) :]
    return "/" not in rest or rest.endswith("*")


def check_applicability(actions: list[str], resources: list[str], bucket: str | None, fail: Fail) -> None:
    """S3 rejects a bucket-policy statement naming an action that none of its
    resources can be the target of (s3:GetObject on the bare bucket ARN)."""
    for a in actions:
        if has_wildcard(a):
            continue
        scope = scope_of(a)
        if scope == "object":
            ok = any(could_match_object(r) for r in resources)
        elif scope == "bucket":
            ok = any(could_match_bucket(r, bucket) for r in resources)
        else:
            ok = True
        if not ok:
            raise fail("not_applicable")

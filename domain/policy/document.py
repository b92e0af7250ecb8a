"""Parsing and validating policy documents into compiled, immutable objects.

`parse_policy(text, kind=...)` accepts the JSON text a client sent (or a
dict) and returns a `Policy` whose statements carry precompiled matchers, or
raises `DomainError`:

- kind "bucket" (PutBucketPolicy, `mc anonymous set`): code MalformedPolicy
  with S3's messages ("Policy has invalid action", "Policy has invalid
  resource", "Missing required field Principal", "Invalid principal in
  policy", ...);
- kinds "identity" (user / group / canned policies), "session" (a service
  account's embedded policy, an STS session policy) and "trust" (a role's
  AssumeRolePolicyDocument): code MalformedPolicyDocument with IAM's messages.

Rules: a JSON object of at most 20 KiB (20480 bytes of the raw document);
Version "2012-10-17" or "2008-10-17" (absent = 2008-10-17 semantics: policy
variables are only substituted in 2012-10-17 policies); optional Id;
Statement an object or a non-empty list; in each statement an optional Sid
(unique within the policy), Effect Allow|Deny, exactly one of Action /
NotAction, exactly one of Resource / NotResource (required for identity,
session and bucket policies except that MinIO admin:/kms: statements may
omit it; forbidden in trust policies), Principal / NotPrincipal (required in
bucket and trust policies, forbidden elsewhere; NotPrincipal only with
Deny), an optional Condition block. Unknown fields are rejected.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

from domain.errors import DomainError

from .actions import (
    CANONICAL,
    KNOWN_ACTIONS,
    RESOURCELESS_SERVICES,
    SERVICES,
    scope_of,
    service_of,
)
from .conditions import Condition, ConditionError, parse_conditions
from .patterns import (
    Template,
    compile_globs,
    compile_regex,
    glob_to_regex,
    has_wildcard,
)

Kind = Literal["identity", "bucket", "trust", "session"]

MAX_POLICY_BYTES = 20 * 1024
VERSION_2012 = "2012-10-17"
VERSION_2008 = "2008-10-17"
S3_ARN_PREFIX = "arn:aws:s3:::"

_STATEMENT_FIELDS = frozenset(
    {
        "Sid",
        "Effect",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Principal",
        "NotPrincipal",
        "Condition",
    }
)
_PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
_ACCOUNT_ARN = re.compile(r"arn:aws:iam::([^:]*):root")
_USER_ARN = re.compile(r"arn:aws:iam::([^:]*):user/(?:.*/)?([^/]+)")
_ASSUMED_ROLE_ARN = re.compile(r"arn:aws:sts::([^:]*):assumed-role/([^/]+)/.*")
_IAM_PRINCIPAL_ARN = re.compile(
    r"arn:aws:(?:iam::[^:]*:(?:root|user/.+|role/.+|group/.+)|sts::[^:]*:(?:assumed-role|federated-user)/.+)"
)

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


class _Fail:
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


# --- principals ---------------------------------------------------------------


class Principal:
    """A Principal / NotPrincipal element."""

    __slots__ = ("any", "aws", "service", "federated", "canonical", "raw")

    def __init__(
        self,
        raw: object,
        *,
        any_: bool = False,
        aws: frozenset[str] = frozenset(),
        service: frozenset[str] = frozenset(),
        federated: frozenset[str] = frozenset(),
        canonical: frozenset[str] = frozenset(),
    ) -> None:
        self.raw = raw
        self.any = any_
        self.aws = aws
        self.service = service
        self.federated = federated
        self.canonical = canonical


def _strings(value: object) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _parse_principal(raw: object, fail: _Fail, principal_exists: Callable[[str], bool] | None) -> Principal:
    if raw == "*":
        return Principal(raw, any_=True)
    if not isinstance(raw, dict) or not raw:
        raise fail("bad_principal")
    sets: dict[str, frozenset[str]] = {}
    any_ = False
    for typ, value in raw.items():
        if typ not in _PRINCIPAL_TYPES:
            raise fail("bad_principal")
        values = _strings(value)
        if values is None:
            raise fail("bad_principal")
        if typ == "AWS":
            for v in values:
                if v == "*":
                    any_ = True
                    continue
                if v.startswith("arn:"):
                    if not _IAM_PRINCIPAL_ARN.fullmatch(v):
                        raise fail("bad_principal")
                elif not v or any(c in v for c in "*?:/"):
                    raise fail("bad_principal")
                if principal_exists is not None and not principal_exists(v):
                    raise fail("bad_principal")
        elif any(not v for v in values):
            raise fail("bad_principal")
        sets[typ] = frozenset(values)
    return Principal(
        raw,
        any_=any_,
        aws=sets.get("AWS", frozenset()) - {"*"},
        service=sets.get("Service", frozenset()),
        federated=sets.get("Federated", frozenset()),
        canonical=sets.get("CanonicalUser", frozenset()),
    )


# --- statements ---------------------------------------------------------------


class Statement:
    """One compiled statement. Treat as immutable."""

    __slots__ = (
        "sid",
        "effect",
        "deny",
        "actions",
        "not_actions",
        "resources",
        "not_resources",
        "principal",
        "not_principal",
        "conditions",
        "_exact_actions",
        "_action_rx",
        "_res_templates",
        "_res_rx",
        "resourceless",
    )

    def __init__(
        self,
        *,
        sid: str | None,
        effect: str,
        actions: tuple[str, ...] | None,
        not_actions: tuple[str, ...] | None,
        resources: tuple[str, ...] | None,
        not_resources: tuple[str, ...] | None,
        principal: Principal | None,
        not_principal: Principal | None,
        conditions: tuple[Condition, ...],
        variables: bool,
    ) -> None:
        self.sid = sid
        self.effect = effect
        self.deny = effect == "Deny"
        self.actions = actions
        self.not_actions = not_actions
        self.resources = resources
        self.not_resources = not_resources
        self.principal = principal
        self.not_principal = not_principal
        self.conditions = conditions
        patterns = actions if actions is not None else not_actions or ()
        self._exact_actions = frozenset(a.lower() for a in patterns if not has_wildcard(a))
        wild = tuple(a for a in patterns if has_wildcard(a))
        self._action_rx = compile_globs(wild, ignore_case=True) if wild else None
        res = resources if resources is not None else not_resources
        self.resourceless = res is None
        self._res_templates: tuple[Template, ...] = ()
        self._res_rx = None
        if res is not None:
            templates = tuple(Template(r, variables=variables) for r in res)
            if all(t.is_static for t in templates):
                self._res_rx = compile_globs(tuple(t.text for t in templates))
            else:
                self._res_templates = templates

    def action_matches(self, action_lower: str) -> bool:
        """Whether the statement applies to the action (Action / NotAction)."""
        hit = action_lower in self._exact_actions or (
            self._action_rx is not None and self._action_rx.fullmatch(action_lower) is not None
        )
        return hit if self.actions is not None else not hit

    def resource_matches(self, resource: str, context: Mapping[str, object]) -> bool:
        """Whether the statement applies to the resource (Resource / NotResource)."""
        if self.resourceless:
            return True
        rx = self._res_rx
        if rx is not None:
            hit = rx.fullmatch(resource) is not None
        else:
            hit = False
            for t in self._res_templates:
                src = t.regex_source(context)
                if src is not None and compile_regex(src).fullmatch(resource) is not None:
                    hit = True
                    break
        return hit if self.resources is not None else not hit


# --- the policy -----------------------------------------------------------------


class Policy:
    """A parsed policy. `text` is the document as given (what Get*Policy
    returns); `document` the decoded JSON. Treat as immutable."""

    __slots__ = (
        "kind",
        "version",
        "id",
        "statements",
        "text",
        "document",
        "_by_action",
        "_context_keys",
    )

    def __init__(
        self,
        *,
        kind: Kind,
        version: str | None,
        id: str | None,
        statements: tuple[Statement, ...],
        text: str,
        document: dict[str, Any],
    ) -> None:
        self.kind = kind
        self.version = version
        self.id = id
        self.statements = statements
        self.text = text
        self.document = document
        self._by_action: dict[str, tuple[Statement, ...]] = {}
        self._context_keys: frozenset[str] | None | bool = False  # False: not computed yet

    @property
    def context_keys(self) -> frozenset[str] | None:
        """The request-context keys a decision under this policy can depend on: its
        condition keys and the policy variables in its resources and condition values. None
        when that set is open-ended (a key that is itself a pattern)."""
        keys = self._context_keys
        if keys is False:
            keys = self._context_keys = _context_keys(self.statements)
        return keys  # type: ignore[return-value]

    @property
    def checks_principal(self) -> bool:
        return self.kind in ("bucket", "trust")

    def statements_for(self, action_lower: str) -> tuple[Statement, ...]:
        """The statements whose Action / NotAction covers the action (cached)."""
        hit = self._by_action.get(action_lower)
        if hit is None:
            hit = tuple(s for s in self.statements if s.action_matches(action_lower))
            if len(self._by_action) < 1024:
                self._by_action[action_lower] = hit
        return hit

    def to_dict(self) -> dict[str, Any]:
        return self.document

    def __repr__(self) -> str:
        return f"Policy(kind={self.kind!r}, statements={len(self.statements)})"


def _context_keys(statements: tuple[Statement, ...]) -> frozenset[str] | None:
    keys: set[str] = set()
    for st in statements:
        templates = list(st._res_templates)
        for c in st.conditions:
            if "*" in c.key or "$" in c.key or "?" in c.key:
                return None
            keys.add(c.key)
            templates.extend(Template(v, variables=True) for v in c.values if "${" in v)
        for t in templates:
            keys.update(part[1] for part in t.parts if part[0] == "var")
    return frozenset(keys)


# --- validation helpers -----------------------------------------------------------


def _known_pattern(pattern: str) -> bool:
    if not has_wildcard(pattern):
        return pattern.lower() in CANONICAL
    rx = compile_regex(glob_to_regex(pattern), True)
    return any(rx.fullmatch(a) for a in KNOWN_ACTIONS)


def _check_actions(values: list[str], kind: Kind, fail: _Fail) -> None:
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
        if not _known_pattern(a):
            raise fail("bad_action", a)


def _bucket_part(resource: str) -> str:
    return resource[len(S3_ARN_PREFIX) :].split("/", 1)[0]


def _check_resources(values: list[str], kind: Kind, bucket: str | None, fail: _Fail) -> None:
    for r in values:
        if r == "*":
            continue
        if kind == "bucket":
            if not r.startswith(S3_ARN_PREFIX):
                raise fail("bad_resource", r)
            part = _bucket_part(r)
            if not part:
                raise fail("bad_resource", r)
            if bucket is not None and not compile_regex(glob_to_regex(part)).fullmatch(bucket):
                raise fail("bad_resource", r)
        elif not r.startswith("arn:"):
            raise DomainError(fail.code, f'Resource {r} must be in ARN format or "*".')


def _could_match_object(pattern: str) -> bool:
    if pattern == "*":
        return True
    rest = pattern[len(S3_ARN_PREFIX) :] if pattern.startswith(S3_ARN_PREFIX) else pattern
    return "/" in rest or "*" in rest


def _could_match_bucket(pattern: str, bucket: str | None) -> bool:
    if pattern == "*":
        return True
    if bucket is not None:
        return compile_regex(glob_to_regex(pattern)).fullmatch(S3_ARN_PREFIX + bucket) is not None
    rest = pattern[len(S3_ARN_PREFIX) :]
    return "/" not in rest or rest.endswith("*")


def _check_applicability(actions: list[str], resources: list[str], bucket: str | None, fail: _Fail) -> None:
    """S3 rejects a bucket-policy statement naming an action that none of its
    resources can be the target of (s3:GetObject on the bare bucket ARN)."""
    for a in actions:
        if has_wildcard(a):
            continue
        scope = scope_of(a)
        if scope == "object":
            ok = any(_could_match_object(r) for r in resources)
        elif scope == "bucket":
            ok = any(_could_match_bucket(r, bucket) for r in resources)
        else:
            ok = True
        if not ok:
            raise fail("not_applicable")


# --- parse -------------------------------------------------------------------------


def parse_policy(
    text: str | bytes | Mapping[str, Any],
    *,
    kind: Kind,
    bucket: str | None = None,
    principal_exists: Callable[[str], bool] | None = None,
) -> Policy:
    """Parse and validate a policy document; raise DomainError when it is malformed.

    `bucket` (bucket policies): every Resource must lie in that bucket.
    `principal_exists`: called with each `{"AWS": ...}` value other than "*";
    returning False rejects the policy ("Invalid principal in policy").
    """
    fail = _Fail(kind)
    if isinstance(text, Mapping):
        document_in: object = dict(text)
        raw_text = json.dumps(document_in)
    else:
        if isinstance(text, bytes | bytearray):
            if len(text) > MAX_POLICY_BYTES:
                raise fail("size")
            try:
                raw_text = bytes(text).decode("utf-8")
            except UnicodeDecodeError:
                raise fail("json") from None
        else:
            raw_text = text
        if len(raw_text.encode("utf-8")) > MAX_POLICY_BYTES:
            raise fail("size")
        try:
            document_in = json.loads(raw_text, object_pairs_hook=_no_duplicate_keys)
        except (ValueError, RecursionError):
            raise fail("json") from None
    if len(raw_text.encode("utf-8")) > MAX_POLICY_BYTES:
        raise fail("size")
    if not isinstance(document_in, dict):
        raise fail("json")
    document: dict[str, Any] = document_in
    for key in document:
        if key not in ("Version", "Id", "Statement"):
            raise fail(f"Unknown field {key}")
    version = document.get("Version")
    if version is not None and version not in (VERSION_2012, VERSION_2008):
        raise fail("version")
    policy_id = document.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        raise fail("json")
    raw_statements = document.get("Statement")
    if isinstance(raw_statements, dict):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list) or not raw_statements:
        raise fail("statement")
    variables = version == VERSION_2012
    sids: set[str] = set()
    statements: list[Statement] = []
    for raw in raw_statements:
        if not isinstance(raw, dict):
            raise fail("statement")
        statements.append(_parse_statement(raw, kind, bucket, variables, sids, fail, principal_exists))
    return Policy(
        kind=kind,
        version=version,
        id=policy_id,
        statements=tuple(statements),
        text=raw_text,
        document=document,
    )


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k}")
        out[k] = v
    return out


def _parse_statement(
    raw: dict[str, Any],
    kind: Kind,
    bucket: str | None,
    variables: bool,
    sids: set[str],
    fail: _Fail,
    principal_exists: Callable[[str], bool] | None,
) -> Statement:
    for key in raw:
        if key not in _STATEMENT_FIELDS:
            raise fail(f"Unknown field {key}")
    sid = raw.get("Sid")
    if sid is not None:
        if not isinstance(sid, str):
            raise fail("json")
        if sid:
            if sid in sids:
                raise fail("sid")
            sids.add(sid)
    effect = raw.get("Effect")
    if effect is None:
        raise fail("effect")
    if effect not in ("Allow", "Deny"):
        raise fail(f"Invalid effect: {effect}")

    # actions
    if ("Action" in raw) == ("NotAction" in raw):
        raise fail("action")
    action_field = "Action" if "Action" in raw else "NotAction"
    action_values = _strings(raw[action_field])
    if action_values is None:
        raise fail("action")
    _check_actions(action_values, kind, fail)

    # resources
    has_res, has_not_res = "Resource" in raw, "NotResource" in raw
    resource_values: list[str] | None = None
    if kind == "trust":
        if has_res or has_not_res:
            raise fail("trust_resource")
    else:
        if has_res and has_not_res:
            raise fail("resource")
        if has_res or has_not_res:
            resource_values = _strings(raw["Resource" if has_res else "NotResource"])
            if resource_values is None:
                raise fail("bad_resource")
            _check_resources(resource_values, kind, bucket, fail)
        else:
            services = {service_of(a) for a in action_values}
            if kind == "bucket" or not services or not services <= RESOURCELESS_SERVICES:
                raise fail("resource")
    if kind == "bucket" and has_res and action_field == "Action" and resource_values:
        _check_applicability(action_values, resource_values, bucket, fail)

    # principals
    principal = not_principal = None
    has_p, has_np = "Principal" in raw, "NotPrincipal" in raw
    if kind in ("bucket", "trust"):
        if has_p == has_np:
            raise fail("principal")
        if has_p:
            principal = _parse_principal(raw["Principal"], fail, principal_exists)
        else:
            if effect != "Deny":
                raise fail("bad_principal", "NotPrincipal is only supported with Deny")
            not_principal = _parse_principal(raw["NotPrincipal"], fail, principal_exists)
    elif has_p or has_np:
        raise fail("no_principal")

    # conditions
    conditions: tuple[Condition, ...] = ()
    if "Condition" in raw:
        try:
            conditions = parse_conditions(raw["Condition"], variables=variables)
        except ConditionError as exc:
            raise DomainError(fail.code, str(exc)) from None

    as_tuple = tuple(action_values)
    res_tuple = tuple(resource_values) if resource_values is not None else None
    return Statement(
        sid=sid,
        effect=effect,
        actions=as_tuple if action_field == "Action" else None,
        not_actions=as_tuple if action_field == "NotAction" else None,
        resources=res_tuple if has_res else None,
        not_resources=res_tuple if has_not_res else None,
        principal=principal,
        not_principal=not_principal,
        conditions=conditions,
        variables=variables,
    )

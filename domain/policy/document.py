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
from collections.abc import Callable, Mapping
from typing import Any

from domain.errors import DomainError

from .actions import (
    RESOURCELESS_SERVICES,
    service_of,
)
from .checks import Fail, Kind, check_actions, check_applicability, check_resources
from .conditions import Condition, ConditionError, parse_conditions
from .patterns import (
    Template,
    compile_globs,
    compile_regex,
    has_wildcard,
)
from .principals import Principal, parse_principal, strings

MAX_POLICY_BYTES = 20 * 1024
VERSION_2012 = "2012-10-17"
VERSION_2008 = "2008-10-17"

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
    fail = Fail(kind)
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
    fail: Fail,
    principal_exists: Callable[[str], bool] | None,
) -> Statement:
    for key in raw:
        if key not in _STATEMENT_FIELDS:
            raise fail(f"Unknown field {key}")
    sid = _statement_sid(raw, sids, fail)
    effect = raw.get("Effect")
    if effect is None:
        raise fail("effect")
    if effect not in ("Allow", "Deny"):
        raise fail(f"Invalid effect: {effect}")
    action_field, actions = _statement_actions(raw, kind, fail)
    resources = _statement_resources(raw, kind, bucket, actions, fail)
    has_res, has_not_res = "Resource" in raw, "NotResource" in raw
    if kind == "bucket" and has_res and action_field == "Action" and resources:
        check_applicability(actions, resources, bucket, fail)
    principal, not_principal = _statement_principals(raw, kind, effect, fail, principal_exists)
    conditions: tuple[Condition, ...] = ()
    if "Condition" in raw:
        try:
            conditions = parse_conditions(raw["Condition"], variables=variables)
        except ConditionError as exc:
            raise DomainError(fail.code, str(exc)) from None
    as_tuple = tuple(actions)
    res_tuple = tuple(resources) if resources is not None else None
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


def _statement_sid(raw: dict[str, Any], sids: set[str], fail: Fail) -> str | None:
    """The optional Sid, unique within the policy (recorded in ``sids``)."""
    sid = raw.get("Sid")
    if sid is not None:
        if not isinstance(sid, str):
            raise fail("json")
        if sid:
            if sid in sids:
                raise fail("sid")
            sids.add(sid)
    return sid


def _statement_actions(raw: dict[str, Any], kind: Kind, fail: Fail) -> tuple[str, list[str]]:
    """("Action" or "NotAction", its values): exactly one of the two."""
    if ("Action" in raw) == ("NotAction" in raw):
        raise fail("action")
    action_field = "Action" if "Action" in raw else "NotAction"
    action_values = strings(raw[action_field])
    if action_values is None:
        raise fail("action")
    check_actions(action_values, kind, fail)
    return action_field, action_values


def _statement_resources(
    raw: dict[str, Any], kind: Kind, bucket: str | None, actions: list[str], fail: Fail
) -> list[str] | None:
    """The values of Resource or NotResource; None when neither is given, which only
    statements of resourceless services (admin:, kms:) outside bucket policies may do."""
    has_res, has_not_res = "Resource" in raw, "NotResource" in raw
    if kind == "trust":
        if has_res or has_not_res:
            raise fail("trust_resource")
        return None
    if has_res and has_not_res:
        raise fail("resource")
    if has_res or has_not_res:
        resource_values = strings(raw["Resource" if has_res else "NotResource"])
        if resource_values is None:
            raise fail("bad_resource")
        check_resources(resource_values, kind, bucket, fail)
        return resource_values
    services = {service_of(a) for a in actions}
    if kind == "bucket" or not services or not services <= RESOURCELESS_SERVICES:
        raise fail("resource")
    return None


def _statement_principals(
    raw: dict[str, Any],
    kind: Kind,
    effect: str,
    fail: Fail,
    principal_exists: Callable[[str], bool] | None,
) -> tuple[Principal | None, Principal | None]:
    """(Principal, NotPrincipal): one of them in bucket and trust policies, neither elsewhere."""
    has_p, has_np = "Principal" in raw, "NotPrincipal" in raw
    if kind not in ("bucket", "trust"):
        if has_p or has_np:
            raise fail("no_principal")
        return None, None
    if has_p == has_np:
        raise fail("principal")
    if has_p:
        return parse_principal(raw["Principal"], fail, principal_exists), None
    if effect != "Deny":
        raise fail("bad_principal", "NotPrincipal is only supported with Deny")
    return None, parse_principal(raw["NotPrincipal"], fail, principal_exists)

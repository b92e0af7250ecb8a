"""Policy evaluation and the access decision for one request."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache

from .actions import RESOURCELESS_SERVICES, service_of
from .checks import S3_ARN_PREFIX
from .conditions import conditions_hold
from .document import Policy, Statement
from .principals import ASSUMED_ROLE_ARN, USER_ARN, Principal

ANY_S3_RESOURCE = S3_ARN_PREFIX + "*"


def normalize_context(context: Mapping[str, object]) -> dict[str, str | list[str]]:
    """Lower-case the condition-key names of a request context (values as given;
    non-string scalars become strings)."""
    out: dict[str, str | list[str]] = {}
    for k, v in context.items():
        if v is None:
            continue
        if isinstance(v, list | tuple | set | frozenset):
            out[k.lower()] = [str(x) for x in v]
        elif isinstance(v, bool):
            out[k.lower()] = "true" if v else "false"
        else:
            out[k.lower()] = str(v)
    return out


@dataclass(frozen=True)
class Request:
    """What is being attempted, by whom.

    `resource`: "arn:aws:s3:::bucket/key", "arn:aws:s3:::bucket", or "*" for
    requests on no particular resource (ListAllMyBuckets; admin actions);
    "*" is matched as "arn:aws:s3:::*", so `Resource: "arn:aws:s3:::*"`
    covers ListAllMyBuckets as it does on AWS.
    `principal`: the user name (or access key) — None for anonymous.
    `principal_arn`: "arn:aws:iam::<account>:user/<name>", the account's
    ":root", or for an STS session "arn:aws:sts::<account>:assumed-role/<role>/<session>";
    service accounts should carry their parent user's ARN.
    `context`: condition keys with lower-case names (see `normalize_context`),
    e.g. "aws:sourceip", "aws:securetransport", "aws:currenttime",
    "aws:epochtime", "aws:username", "aws:userid", "aws:principaltype",
    "s3:prefix", "s3:delimiter", "s3:max-keys", "s3:x-amz-acl",
    "s3:existingobjecttag/<key>", "s3:requestobjecttag/<key>",
    "s3:requestobjecttagkeys" (a list), "s3:x-amz-server-side-encryption".
    Policy variables (`${aws:username}`) are read from the same mapping.
    """

    action: str
    resource: str
    principal: str | None
    principal_arn: str | None
    account: str
    context: Mapping[str, str | list[str]] = field(default_factory=dict)
    canonical_id: str | None = None
    # derived once (plain attributes: cheaper than properties on the hot path)
    action_lower: str = field(init=False, repr=False, compare=False)
    match_resource: str = field(init=False, repr=False, compare=False)
    skips_resource: bool = field(init=False, repr=False, compare=False)
    anonymous: bool = field(init=False, repr=False, compare=False)
    _identities: frozenset[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "action_lower", self.action.lower())
        r = self.resource
        setattr_(self, "match_resource", ANY_S3_RESOURCE if r in ("*", "") else r)
        # MinIO admin and KMS actions are not about a bucket: resource
        # elements are ignored for them
        setattr_(self, "skips_resource", _skips_resource(self.action))
        setattr_(self, "anonymous", self.principal is None and self.principal_arn is None)
        setattr_(self, "_identities", None)

    @property
    def identities(self) -> frozenset[str]:
        """Every `{"AWS": ...}` principal value that names this caller."""
        ids = self._identities
        if ids is None:
            ids = self._compute_identities()
            object.__setattr__(self, "_identities", ids)
        return ids

    def _compute_identities(self) -> frozenset[str]:
        if self.anonymous:
            return frozenset()
        return _identities(self.account, self.principal, self.principal_arn, self.canonical_id)


@lru_cache(maxsize=4096)
def _skips_resource(action: str) -> bool:
    return service_of(action) in RESOURCELESS_SERVICES


@lru_cache(maxsize=4096)
def _identities(
    account: str, principal: str | None, arn: str | None, canonical_id: str | None = None
) -> frozenset[str]:
    """The principal values naming a caller; the same few callers recur, so cached. A user is
    also named by the account-less form of its ARN ("arn:aws:iam:::user/<name>", as MinIO and
    Ceph write it) and, in either form, by its canonical id instead of its name."""
    ids = {account, f"arn:aws:iam::{account}:root"}
    if principal:
        ids.add(principal)
    if arn:
        ids.add(arn)
        m = USER_ARN.fullmatch(arn)
        if m:
            ids.add(m.group(2))
            ids.add(f"arn:aws:iam:::user/{m.group(2)}")
            if canonical_id:
                ids.add(f"arn:aws:iam:::user/{canonical_id}")
                ids.add(f"arn:aws:iam::{account}:user/{canonical_id}")
        m = ASSUMED_ROLE_ARN.fullmatch(arn)
        if m:
            ids.add(f"arn:aws:iam::{m.group(1)}:role/{m.group(2)}")
    return frozenset(ids)


class Decision(Enum):
    ALLOW = "allow"
    DENY = "deny"  # an explicit Deny
    NOT_APPLICABLE = "not_applicable"


def _principal_names(p: Principal, req: Request) -> bool:
    if p.any:
        return True
    if req.anonymous:
        return False
    if p.aws and not p.aws.isdisjoint(req.identities):
        return True
    if p.canonical and req.canonical_id in p.canonical:
        return True
    if (p.service or p.federated) and req.principal in (p.service | p.federated):
        return True
    return False


def principal_matches(statement: Statement, req: Request) -> bool:
    """Whether a bucket / trust policy statement applies to the caller.

    `"*"` and `{"AWS": "*"}` match everyone, anonymous included. An AWS value
    matches the caller's user ARN, its name or access key, the role of an
    assumed-role session, or — the account id or "arn:aws:iam::<acct>:root" —
    every authenticated principal of that account. NotPrincipal applies to
    everyone it does not name (anonymous included). Statements of identity
    and session policies have no principal and always match.
    """
    if statement.principal is not None:
        return _principal_names(statement.principal, req)
    if statement.not_principal is not None:
        return not _principal_names(statement.not_principal, req)
    return True


def _applies(st: Statement, req: Request, check_principal: bool) -> bool:
    if check_principal and not principal_matches(st, req):
        return False
    if not req.skips_resource and not st.resource_matches(req.match_resource, req.context):
        return False
    return not st.conditions or conditions_hold(st.conditions, req.context)


def evaluate(policies: Iterable[Policy | None], req: Request) -> Decision:
    """DENY if any applicable statement denies, ALLOW if one allows, else
    NOT_APPLICABLE. Bucket and trust policies also check the principal."""
    action = req.action_lower
    allowed = False
    for policy in policies:
        if policy is None:
            continue
        check_principal = policy.checks_principal
        for st in policy.statements_for(action):
            if _applies(st, req, check_principal):
                if st.deny:
                    return Decision.DENY
                allowed = True
    return Decision.ALLOW if allowed else Decision.NOT_APPLICABLE


def authorize_detail(
    *,
    identity_policies: Sequence[Policy],
    bucket_policy: Policy | None,
    acl_allows: bool,
    session_policies: Sequence[Policy] = (),
    req: Request,
    is_root: bool,
    is_owner: bool,
) -> tuple[bool, str]:
    """`authorize` with the reason ("root", "explicit-deny:identity",
    "explicit-deny:bucket-policy", "session-policy", "identity-policy",
    "bucket-policy", "acl", "owner", "implicit-deny")."""
    if is_root:
        return True, "root"
    ident = evaluate(identity_policies, req)
    if ident is Decision.DENY:
        return False, "explicit-deny:identity"
    bucket = evaluate((bucket_policy,), req) if bucket_policy is not None else Decision.NOT_APPLICABLE
    if bucket is Decision.DENY:
        return False, "explicit-deny:bucket-policy"
    if ident is Decision.ALLOW:
        reason = "identity-policy"
    elif bucket is Decision.ALLOW:
        reason = "bucket-policy"
    elif acl_allows:
        reason = "acl"
    elif is_owner and service_of(req.action) == "s3":
        reason = "owner"
    else:
        return False, "implicit-deny"
    for sp in session_policies:
        if evaluate((sp,), req) is not Decision.ALLOW:
            return False, "session-policy"
    return True, reason


def authorize(
    *,
    identity_policies: Sequence[Policy],
    bucket_policy: Policy | None,
    acl_allows: bool,
    session_policies: Sequence[Policy] = (),
    req: Request,
    is_root: bool,
    is_owner: bool,
) -> bool:
    """The access decision for one request.

    1. Root may do everything.
    2. An explicit Deny in any identity policy (the user's own and its
       groups') or in the bucket policy (for this principal) refuses.
    3. Otherwise the request is allowed when at least one of these allows it:
       the identity policies; the bucket policy (its statement naming this
       principal, "*" including anonymous); the ACL (`acl_allows`, computed by
       the caller from the grants — the owner holds FULL_CONTROL); or
       ownership (`is_owner`: the caller owns the bucket / object addressed,
       which opens every s3: action on it, never admin:, iam:, sts: or kms:).
    4. Session policies — a service account's embedded policy, an STS session
       policy — only narrow: when any are given, each must itself Allow the
       request (an explicit Deny or no matching statement in any of them
       refuses), whatever granted it in step 3.
    Anything else is refused (implicit deny).
    """
    return authorize_detail(
        identity_policies=identity_policies,
        bucket_policy=bucket_policy,
        acl_allows=acl_allows,
        session_policies=session_policies,
        req=req,
        is_root=is_root,
        is_owner=is_owner,
    )[0]

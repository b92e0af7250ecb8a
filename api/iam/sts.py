"""AWS STS (AssumeRole, GetSessionToken, GetCallerIdentity), on the query-API protocol the IAM
API shares (api.iam.protocol).

AssumeRole works two ways. MinIO's: any RoleArn gives temporary keys with the caller's own
rights (optionally narrowed by a session Policy). For a role created through the IAM API
(arn:aws:iam::<account>:role/<name>) the role's trust policy must allow the caller
sts:AssumeRole, and the session holds the role's inline policies instead of the caller's.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from api.auth.request_context import request_context
from api.errors import S3Error
from api.iam import service as iam_service
from api.iam.protocol import caller_arn, entity_id, iso8601, leaf, query_response, unique_id, validation_error
from domain.errors import DomainError
from domain.ownership import ACCOUNT, canonical_id
from domain.policy import Decision, Request, evaluate, parse_policy
from projections.iam import queries as iam_queries

if TYPE_CHECKING:
    from api.auth.identity import Identity
    from api.context import ServerContext
    from api.iam.call import Call
    from api.request import S3Request
    from api.response import Response

MAX_SESSION_POLICY_CHARS = 2048
# A role's ARN: account-less as CreateRole reports it (as MinIO's and Ceph's are), or with
# the account id.
ROLE_ARN = re.compile(r"arn:aws:iam::(\d{12}|):role(/(?:[!-.0-~]+/)*)([\w+=,.@-]{1,64})")
SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}")


# -- STS actions --------------------------------------------------------------------------


def _duration(params: dict[str, str], default: int, low: int, high: int) -> int:
    raw = params.get("DurationSeconds")
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise validation_error(
            f"1 validation error detected: Value '{raw}' at 'durationSeconds' failed to satisfy constraint: Member "
            "must be a number"
        ) from None
    if value < low:
        raise validation_error(
            f"1 validation error detected: Value '{value}' at 'durationSeconds' failed to satisfy constraint: Member "
            f"must have value greater than or equal to {low}"
        )
    if value > high:
        raise validation_error(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            if high < 43200
            else f"1 validation error detected: Value '{value}' at 'durationSeconds' failed to satisfy constraint: "
            f"Member must have value less than or equal to {high}"
        )
    return value


def _session_policy(params: dict[str, str]) -> dict[str, Any] | None:
    text = params.get("Policy")
    if text is None or text == "":
        return None
    if len(text) > MAX_SESSION_POLICY_CHARS:
        pct = len(text) * 100 // MAX_SESSION_POLICY_CHARS
        raise S3Error(
            "PackedPolicyTooLarge",
            f"Packed policy consumes {pct}% of allotted space, please use smaller policy.",
            status=400,
        )
    return parse_policy(text, kind="session").document


def _credentials_xml(session: dict[str, Any]) -> str:
    return (
        "<Credentials>"
        + leaf("AccessKeyId", session["access_key"])
        + leaf("SecretAccessKey", session["secret_key"])
        + leaf("SessionToken", session["session_token"])
        + leaf("Expiration", iso8601(session["expiration_us"] / 1_000_000))
        + "</Credentials>"
    )


def _no_chaining(identity: Identity, action: str) -> None:
    """Temporary credentials and service accounts cannot make further temporary credentials
    (as MinIO: a session must not outlive or widen what it came from)."""
    if identity.kind in ("sts", "service"):
        raise S3Error("AccessDenied", f"Temporary credentials and service accounts cannot call {action}.", status=403)


async def assume_role(call: Call) -> Response:
    req, ctx, params = call.req, call.ctx, call.params
    identity: Identity = req.identity
    _no_chaining(identity, "AssumeRole")
    role_arn = params.get("RoleArn", "")
    session_name = params.get("RoleSessionName", "")
    if len(role_arn) < 20 or len(role_arn) > 2048:
        raise validation_error(
            f"1 validation error detected: Value '{role_arn}' at 'roleArn' failed to satisfy constraint: Member must "
            "have length greater than or equal to 20"
        )
    if not SESSION_NAME.fullmatch(session_name):
        raise validation_error(
            f"1 validation error detected: Value '{session_name}' at 'roleSessionName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [\\w+=,.@-]* and length 2 to 64"
        )
    role_name = ""
    high = 43200
    match = ROLE_ARN.fullmatch(role_arn)
    role = None
    if match is not None and match.group(1) in (ACCOUNT, ""):
        stored = await ctx.read(iam_queries.stored_name, "role", match.group(3))
        role = await ctx.read(iam_queries.role, stored) if stored is not None else None
        if role is not None and match.group(2) != role["path"]:
            role = None  # another path: not this role's ARN
    if role is not None:
        role_name = role["name"]
        high = max(3600, min(43200, int(role["max_session_seconds"] or 3600)))
        if not _trusts(ctx, req, identity, role, role_arn):
            raise S3Error(
                "AccessDenied",
                f"User: {caller_arn(identity, ctx.settings.root_user)} is not authorized to perform: sts:AssumeRole "
                f"on resource: {role_arn}",
                status=403,
            )
    duration = _duration(params, 3600, 900, high)
    policy = _session_policy(params)
    session = await iam_service.create_session(
        ctx,
        req.actor(),
        identity.user,
        duration_seconds=duration,
        policy=policy,
        role=role_name,
        session_name=session_name,
    )
    if role is not None:
        role_id = unique_id("AROA", role)
        assumed = leaf("Arn", f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{session_name}") + leaf(
            "AssumedRoleId", f"{role_id}:{session_name}"
        )
    else:  # MinIO-style: no role; MinIO answers the element empty
        assumed = "<Arn></Arn><AssumedRoleId></AssumedRoleId>"
    result = _credentials_xml(session) + f"<AssumedRoleUser>{assumed}</AssumedRoleUser>"
    if policy is not None:
        result += leaf("PackedPolicySize", len(params.get("Policy", "")) * 100 // MAX_SESSION_POLICY_CHARS)
    return query_response(req, "sts", "AssumeRole", result)


def _trusts(ctx: ServerContext, req: S3Request, identity: Identity, role: dict[str, Any], role_arn: str) -> bool:
    """Whether the role's trust policy allows this caller sts:AssumeRole (no Deny, one Allow)."""
    try:
        trust = ctx.policies.parsed("trust", role["trust_policy"])
    except DomainError:
        return False
    request = Request(
        action="sts:AssumeRole",
        resource=role_arn,
        principal=identity.user,
        principal_arn=caller_arn(identity, ctx.settings.root_user),
        account=ACCOUNT,
        context=request_context(req, identity, ctx.clock()),
        canonical_id=canonical_id(identity.user),
    )
    return evaluate((trust,), request) is Decision.ALLOW


async def get_session_token(call: Call) -> Response:
    req, ctx, params = call.req, call.ctx, call.params
    identity: Identity = req.identity
    _no_chaining(identity, "GetSessionToken")
    duration = _duration(params, 43200, 900, 129600)
    session = await iam_service.create_session(ctx, req.actor(), identity.user, duration_seconds=duration, policy=None)
    return query_response(req, "sts", "GetSessionToken", _credentials_xml(session))


async def get_caller_identity(call: Call) -> Response:
    req, ctx = call.req, call.ctx
    identity: Identity = req.identity
    arn = caller_arn(identity, ctx.settings.root_user)
    if arn.endswith(":root"):
        user_id = ACCOUNT
    elif identity.kind == "sts" and identity.role:
        role = await ctx.read(iam_queries.role, identity.role)
        role_id = unique_id("AROA", role) if role is not None else entity_id("AROA", identity.role)
        user_id = f"{role_id}:{identity.session_name or identity.user}"
    else:
        user = await ctx.read(iam_queries.user, identity.user)
        user_id = unique_id("AIDA", user) if user is not None else entity_id("AIDA", identity.user)
    result = leaf("Arn", arn) + leaf("UserId", user_id) + leaf("Account", ACCOUNT)
    return query_response(req, "sts", "GetCallerIdentity", result)

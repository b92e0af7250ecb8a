"""AWS STS (AssumeRole, GetSessionToken, GetCallerIdentity), and the plumbing shared with the
IAM query API (api.iam.api): POST / with Action=... in a form body or the query string, signed
with SigV4 for service "sts" or "iam" (the body signed by its hash), answered in AWS's query-API
XML, errors as <ErrorResponse>.

AssumeRole works two ways. MinIO's: any RoleArn gives temporary keys with the caller's own
rights (optionally narrowed by a session Policy). For a role created through the IAM API
(arn:aws:iam::<account>:role/<name>) the role's trust policy must allow the caller
sts:AssumeRole, and the session holds the role's inline policies instead of the caller's.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from api.auth.authz import ACCOUNT, request_context
from api.errors import S3Error
from api.iam import service as iam_service
from domain.errors import DomainError
from domain.policy import Decision, Request, evaluate, parse_policy
from projections.eventstore.unavailable import RETRY_AFTER, STORE_OUTAGE, is_unavailable
from projections.iam import queries as iam_queries

if TYPE_CHECKING:
    from api.auth.identity import Identity
    from api.context import ServerContext
    from api.request import S3Request
    from api.response import Response

log = logging.getLogger("chronicle.api.sts")

STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"
VERSIONS = {"sts": "2011-06-15", "iam": "2010-05-08"}
NAMESPACES = {"sts": STS_NS, "iam": IAM_NS}
MAX_FORM_BYTES = 256 * 1024
MAX_SESSION_POLICY_CHARS = 2048
# A role's ARN: account-less as CreateRole reports it (as MinIO's and Ceph's are), or with
# the account id.
ROLE_ARN = re.compile(r"arn:aws:iam::(\d{12}|):role(/(?:[!-.0-~]+/)*)([\w+=,.@-]{1,64})")
SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}")

# How the S3 authentication errors read on the STS / IAM endpoints (AWS's codes there).
_AUTH_ERRORS = {
    "InvalidAccessKeyId": ("InvalidClientTokenId", 403, "The security token included in the request is invalid."),
    "InvalidToken": ("InvalidClientTokenId", 403, "The security token included in the request is invalid."),
    "ExpiredToken": ("ExpiredToken", 403, "The security token included in the request is expired"),
}


# -- shared plumbing ----------------------------------------------------------------------


def query_api_service(req: S3Request) -> str | None:
    """'sts' or 'iam' when the request is signed for that service (its credential scope)."""
    auth = req.headers.get("authorization", "")
    if auth.startswith("AWS4-"):
        i = auth.find("Credential=")
        if i < 0:
            return None
        credential = auth[i + 11 :].split(",", 1)[0].strip()
    else:
        credential = req.query.get("X-Amz-Credential", "")
    parts = credential.split("/")
    if len(parts) == 5 and parts[3] in VERSIONS:
        return parts[3]
    return None


def iso8601(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def entity_id(prefix: str, name: str) -> str:
    """A stable AWS-style unique id (AIDA... users, AROA... roles, AGPA... groups)."""
    digest = hashlib.sha256(f"chronicle:{prefix}:{name}".encode()).digest()
    return prefix + base64.b32encode(digest).decode()[:17]


def unique_id(prefix: str, row: dict[str, Any]) -> str:
    """The id of one user, group or role: as AWS's, a new one each time a name is created
    again after a deletion (derived from the name and its creation time, so a replay of the
    log gives the same ids)."""
    return entity_id(prefix, f"{row['name']}@{row['created_us']}")


def validation_error(message: str) -> S3Error:
    return S3Error("ValidationError", message, status=400)


def leaf(tag: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{tag}>{escape(str(value))}</{tag}>"


def query_response(req: S3Request, service: str, action: str, result: str | None) -> Response:
    """<{Action}Response xmlns=...><{Action}Result>result</...><ResponseMetadata>...</...>."""
    from api.response import Response

    body = [f'<{action}Response xmlns="{NAMESPACES[service]}">']
    if result is not None:
        body.append(f"<{action}Result>{result}</{action}Result>")
    body.append(
        f"<ResponseMetadata><RequestId>{escape(req.request_id)}</RequestId></ResponseMetadata></{action}Response>"
    )
    return Response(200, {"content-type": "text/xml"}, "".join(body).encode())


def error_response(req: S3Request, service: str, code: str, message: str, status: int) -> Response:
    from api.response import Response

    kind = "Receiver" if status >= 500 else "Sender"
    body = (
        f'<ErrorResponse xmlns="{NAMESPACES[service]}"><Error><Type>{kind}</Type>'
        f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{escape(req.request_id)}</RequestId></ErrorResponse>"
    )
    return Response(status, {"content-type": "text/xml"}, body.encode())


async def read_params(req: S3Request) -> tuple[dict[str, str], str]:
    """The request's parameters (query string, then the form body) and the body's SHA-256."""
    buf = bytearray()
    async for chunk in req.raw_body():
        buf += chunk
        if len(buf) > MAX_FORM_BYTES:
            raise S3Error("MaxMessageLengthExceeded", "Your request was too big.", status=400)
    body = bytes(buf)
    sha = hashlib.sha256(body).hexdigest()
    declared = req.headers.get("x-amz-content-sha256")
    if declared is not None and len(declared) == 64 and declared.lower() != sha:
        raise S3Error("XAmzContentSHA256Mismatch")
    params = {k: v for k, v in req.query.items() if not k.startswith("X-Amz-")}
    if body:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise S3Error("MalformedQueryString", "The request body is not valid UTF-8.", status=400) from None
        params.update(parse_qsl(text, keep_blank_values=True))
    return params, sha


async def query_api(req: S3Request, ctx: ServerContext, service: str) -> Response:
    """Entry from the router: read, authenticate, dispatch; every error as <ErrorResponse>."""
    try:
        params, sha = await read_params(req)
        from api.s3.router import authenticate_request

        try:
            await authenticate_request(req, ctx, service=service, payload_sha256=sha)
        except S3Error as err:
            if err.code in _AUTH_ERRORS:
                code, status, message = _AUTH_ERRORS[err.code]
                raise S3Error(code, message, status=status) from None
            raise
        if req.identity is None:
            raise S3Error("MissingAuthenticationToken", "Request is missing Authentication Token", status=403)
        action = params.get("Action", "")
        if not action:
            raise S3Error("MissingAction", "Missing Action", status=400)
        version = params.get("Version")
        if version is not None and version != VERSIONS[service]:
            raise S3Error("InvalidAction", f"Could not find operation {action} for version {version}", status=400)
        if service == "sts":
            handler = STS_ACTIONS.get(action)
            if handler is None:
                raise S3Error(
                    "InvalidAction", f"Could not find operation {action} for version {VERSIONS[service]}", status=400
                )
            return await handler(req, ctx, params)
        from api.iam.api import dispatch

        return await dispatch(req, ctx, action, params)
    except S3Error as err:
        return error_response(req, service, err.code, err.message, err.status)
    except DomainError as err:
        return error_response(req, service, err.code, err.message or err.code, 400)
    except Exception as exc:  # noqa: BLE001 - never a traceback to the client
        if is_unavailable(exc):
            # The query APIs' own code for it (503 is retried by the SDKs).
            STORE_OUTAGE.failed(exc)
            response = error_response(
                req, service, "ServiceUnavailable", "The service is unavailable. Please try again later.", 503
            )
            response.headers["Retry-After"] = str(RETRY_AFTER)
            return response
        log.exception("internal error on %s %s", service, req.raw_path)
        return error_response(
            req, service, "InternalFailure", "The request processing has failed because of an unknown error.", 500
        )


def caller_arn(identity: Identity, root_user: str) -> str:
    """The ARN GetCallerIdentity reports: root, the user (with its path), or the assumed
    role's session. Service accounts and GetSessionToken / MinIO-style sessions act as their
    parent user."""
    if identity.is_root or identity.user == root_user:
        return f"arn:aws:iam::{ACCOUNT}:root"
    if identity.kind == "sts" and identity.role:
        return f"arn:aws:sts::{ACCOUNT}:assumed-role/{identity.role}/{identity.session_name or identity.user}"
    return f"arn:aws:iam::{ACCOUNT}:user{identity.path}{identity.user}"


# -- STS actions --------------------------------------------------------------------------


def _duration(params: dict[str, str], default: int, low: int, high: int) -> int:
    raw = params.get("DurationSeconds")
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise validation_error(
            f"1 validation error detected: Value '{raw}' at 'durationSeconds' failed to satisfy constraint: Member must be a number"
        ) from None
    if value < low:
        raise validation_error(
            f"1 validation error detected: Value '{value}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to {low}"
        )
    if value > high:
        raise validation_error(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            if high < 43200
            else f"1 validation error detected: Value '{value}' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to {high}"
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


async def assume_role(req: S3Request, ctx: ServerContext, params: dict[str, str]) -> Response:
    identity: Identity = req.identity
    _no_chaining(identity, "AssumeRole")
    role_arn = params.get("RoleArn", "")
    session_name = params.get("RoleSessionName", "")
    if len(role_arn) < 20 or len(role_arn) > 2048:
        raise validation_error(
            f"1 validation error detected: Value '{role_arn}' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20"
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
                f"User: {caller_arn(identity, ctx.settings.root_user)} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
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
    from api.s3.handlers.buckets import canonical_id

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


async def get_session_token(req: S3Request, ctx: ServerContext, params: dict[str, str]) -> Response:
    identity: Identity = req.identity
    _no_chaining(identity, "GetSessionToken")
    duration = _duration(params, 43200, 900, 129600)
    session = await iam_service.create_session(ctx, req.actor(), identity.user, duration_seconds=duration, policy=None)
    return query_response(req, "sts", "GetSessionToken", _credentials_xml(session))


async def get_caller_identity(req: S3Request, ctx: ServerContext, params: dict[str, str]) -> Response:
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


STS_ACTIONS = {
    "AssumeRole": assume_role,
    "GetSessionToken": get_session_token,
    "GetCallerIdentity": get_caller_identity,
}

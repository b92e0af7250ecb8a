"""What a policy's conditions are evaluated against: the request's context keys (aws:*,
s3:*), the principal's ARN and the resource's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from domain.ownership import ACCOUNT

if TYPE_CHECKING:
    from api.auth.identity import Identity
    from api.request import S3Request


def resource_of(req: S3Request, level: str) -> str:
    if level == "service":
        return "*"
    if level == "bucket":
        return f"arn:aws:s3:::{req.bucket}"
    return f"arn:aws:s3:::{req.bucket}/{req.key}"


def principal_arn(identity: Identity | None) -> str | None:
    if identity is None:
        return None
    if identity.is_root:
        return f"arn:aws:iam::{ACCOUNT}:root"
    if identity.kind == "sts" and identity.role:
        return f"arn:aws:sts::{ACCOUNT}:assumed-role/{identity.role}/{identity.session_name or identity.user}"
    return f"arn:aws:iam::{ACCOUNT}:user{identity.path}{identity.user}"


_TIMES: list[Any] = [None, "", ""]  # (second, aws:currenttime, aws:epochtime) of the last request


def _times(now: float) -> tuple[str, str]:
    """aws:currenttime and aws:epochtime, formatted once per second rather than per request."""
    second = int(now)
    cached = _TIMES
    if cached[0] != second:
        cached[1] = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        cached[2] = str(second)
        cached[0] = second
    return cached[1], cached[2]


def request_context(req: S3Request, identity: Identity | None, now: float) -> dict[str, Any]:
    current, epoch = _times(now)
    ctx: dict[str, Any] = {
        "aws:sourceip": req.client_ip,
        "aws:securetransport": "true" if req.scheme == "https" else "false",
        "aws:currenttime": current,
        "aws:epochtime": epoch,
        "aws:useragent": req.headers.get("user-agent", ""),
    }
    if req.headers.get("referer"):
        ctx["aws:referer"] = req.headers["referer"]
    if identity is not None:
        if identity.kind == "sts":
            ctx["sts:authentication"] = "true"  # temporary credentials (GetSessionToken, AssumeRole)
        ctx["aws:username"] = identity.user
        ctx["aws:userid"] = identity.user
        ctx["aws:principaltype"] = (
            "Account" if identity.is_root else ("AssumedRole" if identity.kind == "sts" else "User")
        )
    else:
        ctx["aws:principaltype"] = "Anonymous"
    q = req.query
    for name in ("prefix", "delimiter", "max-keys"):
        if name in q:
            ctx[f"s3:{name}"] = q[name]
    h = req.headers
    if "x-amz-acl" in h:
        ctx["s3:x-amz-acl"] = h["x-amz-acl"]
    if "x-amz-server-side-encryption" in h:
        ctx["s3:x-amz-server-side-encryption"] = h["x-amz-server-side-encryption"]
    if "x-amz-copy-source" in h:
        ctx["s3:x-amz-copy-source"] = h["x-amz-copy-source"]
    if "x-amz-metadata-directive" in h:
        ctx["s3:x-amz-metadata-directive"] = h["x-amz-metadata-directive"]
    if "versionId" in q:
        ctx["s3:versionid"] = q["versionId"]
    tagging = h.get("x-amz-tagging")
    if tagging:
        pairs = parse_qsl(tagging, keep_blank_values=True)
        for k, v in pairs:
            ctx[f"s3:requestobjecttag/{k.lower()}"] = v
        ctx["s3:requestobjecttagkeys"] = [k for k, _ in pairs]
    for name in _GRANT_HEADERS:
        if name in h:
            ctx[f"s3:{name}"] = h[name]
    return ctx


_GRANT_HEADERS = (
    "x-amz-grant-read",
    "x-amz-grant-write",
    "x-amz-grant-read-acp",
    "x-amz-grant-write-acp",
    "x-amz-grant-full-control",
)


# Context keys whose value request_context would give, read straight from the request: a
# decision already memoized is found without building the whole context.
CONTEXT_VALUE: dict[str, Callable[[S3Request, Identity], Any]] = {
    "aws:sourceip": lambda req, _i: req.client_ip,
    "aws:securetransport": lambda req, _i: "true" if req.scheme == "https" else "false",
    "aws:useragent": lambda req, _i: req.headers.get("user-agent", ""),
    "aws:username": lambda _r, identity: identity.user,
    "aws:userid": lambda _r, identity: identity.user,
    "s3:prefix": lambda req, _i: req.query.get("prefix"),
    "s3:delimiter": lambda req, _i: req.query.get("delimiter"),
    "s3:max-keys": lambda req, _i: req.query.get("max-keys"),
}

"""One request as MinIO's audit log records it (`audit_webhook`: internal/logger/message/audit
Entry): version, deployment, time, API name, bucket, object, status, bytes in and out, time to
response, remote host, request id, user agent, path, host, headers and access key. Secrets are
left out: the signature, session tokens, SSE-C keys and cookies never reach the log."""

from __future__ import annotations

import time
from http import HTTPStatus
from typing import Any

from api.request import S3Request
from api.response import Response

# Request headers that prove or carry a secret: never recorded (the access key is recorded
# on its own, from the verified signature).
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "x-amz-security-token",
        "x-amz-server-side-encryption-customer-key",
        "x-amz-copy-source-server-side-encryption-customer-key",
        "cookie",
    }
)


def audit_entry(
    req: S3Request, response: Response, *, deployment_id: str, started: float, finished: float, sent: int
) -> dict[str, Any]:
    identity = req.identity
    elapsed_ns = max(0, int((finished - started) * 1e9))
    return {
        "version": "1",
        "deploymentid": deployment_id,
        "time": _iso_now(),
        "event": "",
        "trigger": "incoming",
        "api": {
            "name": req.operation or _refused_name(req),
            "bucket": req.bucket or "",
            "object": req.key or "",
            "status": _status_text(response.status),
            "statusCode": response.status,
            "rx": req.body_bytes,
            "tx": sent,
            "timeToResponse": f"{elapsed_ns}ns",
            "timeToResponseInNS": str(elapsed_ns),
        },
        "remotehost": req.client_ip,
        "requestID": req.request_id,
        "userAgent": req.headers.get("user-agent", ""),
        "requestPath": req.raw_path,
        "requestHost": req.headers.get("host", ""),
        "requestHeader": {k: v for k, v in req.headers.items() if k not in SECRET_HEADERS},
        "responseHeader": {k: str(v) for k, v in response.headers.items()},
        "tags": {},
        "accessKey": getattr(req.auth, "access_key", None) or "",
        "parentUser": identity.user if identity is not None else "",
        **({"error": req.answered_error} if req.answered_error else {}),
    }


def _refused_name(req: S3Request) -> str:
    """A request refused before any operation was found (a bad signature, a malformed path)."""
    return "" if not req.method else f"{req.method.capitalize()}Unknown"


_PHRASES = {s.value: s.phrase for s in HTTPStatus}


def _status_text(status: int) -> str:
    return _PHRASES.get(status) or str(status)


_second = [0, ""]


def _iso_now() -> str:
    """UTC with nanoseconds, as MinIO writes it; the part down to the second formatted once a second."""
    now = time.time_ns()
    seconds, nanos = divmod(now, 1_000_000_000)
    if seconds != _second[0]:
        _second[0], _second[1] = seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{_second[1]}.{nanos:09d}Z"

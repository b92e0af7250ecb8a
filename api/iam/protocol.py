"""The query-API protocol the STS and IAM endpoints share: POST / with Action=... in a form
body or the query string, signed with SigV4 for service "sts" or "iam" (the body signed by its
hash), answered in AWS's query-API XML, errors as <ErrorResponse>; and the ids and ARNs both
report."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from api.errors import S3Error
from api.request import S3Request
from api.response import Response
from domain.ownership import ACCOUNT

if TYPE_CHECKING:
    from api.auth.identity import Identity

STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"
VERSIONS = {"sts": "2011-06-15", "iam": "2010-05-08"}
NAMESPACES = {"sts": STS_NS, "iam": IAM_NS}
MAX_FORM_BYTES = 256 * 1024


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
    body = [f'<{action}Response xmlns="{NAMESPACES[service]}">']
    if result is not None:
        body.append(f"<{action}Result>{result}</{action}Result>")
    body.append(
        f"<ResponseMetadata><RequestId>{escape(req.request_id)}</RequestId></ResponseMetadata></{action}Response>"
    )
    return Response(200, {"content-type": "text/xml"}, "".join(body).encode())


def error_response(req: S3Request, service: str, code: str, message: str, status: int) -> Response:
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


def caller_arn(identity: Identity, root_user: str) -> str:
    """The ARN GetCallerIdentity reports: root, the user (with its path), or the assumed
    role's session. Service accounts and GetSessionToken / MinIO-style sessions act as their
    parent user."""
    if identity.is_root or identity.user == root_user:
        return f"arn:aws:iam::{ACCOUNT}:root"
    if identity.kind == "sts" and identity.role:
        return f"arn:aws:sts::{ACCOUNT}:assumed-role/{identity.role}/{identity.session_name or identity.user}"
    return f"arn:aws:iam::{ACCOUNT}:user{identity.path}{identity.user}"

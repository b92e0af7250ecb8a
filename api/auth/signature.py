"""Which signature a request carries (SigV4 or SigV2, in the Authorization header or the
query string, or none) and its verification by that version's module."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from api.auth import sigv2, sigv4
from api.auth.signing import AuthContext, anonymous, argument
from api.errors import S3Error


def authenticate(
    method: str,
    raw_path: str,
    query_string: str,
    headers: Mapping[str, str],
    lookup_secret: Callable[[str], str | None],
    *,
    now: datetime | None = None,
    expected_service: str | None = "s3",
    payload_sha256: str | None = None,
) -> AuthContext:
    """Verify a request's SigV4 or SigV2 signature (header or presigned), or classify it as
    anonymous.

    ``headers`` has lower-case names; ``raw_path``/``query_string`` are exactly as on the wire.
    Raises S3Error on any failure. The payload itself is verified later by the caller
    (hex x-amz-content-sha256) or by AwsChunkedDecoder (streaming modes). ``payload_sha256``
    is the body's hex SHA-256 for non-S3 services (STS) whose clients sign the body without
    sending x-amz-content-sha256.
    """
    pairs = sigv4.split_query(query_string) if query_string else []
    authorization = headers.get("authorization")
    presigned = False
    sigv2_query = False
    for k, _ in pairs:
        if k == "X-Amz-Algorithm":
            presigned = True
        elif k == "AWSAccessKeyId" or k == "Signature":
            sigv2_query = True
    if authorization is not None and (presigned or sigv2_query):
        raise S3Error(
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
            "Signature query string parameter or the Authorization header should be specified",
            extra=argument("Authorization", authorization),
        )
    if authorization is not None and authorization.startswith("AWS "):
        return sigv2.authenticate_header(method, raw_path, query_string, headers, authorization, lookup_secret, now)
    if authorization is not None:
        return sigv4.authenticate_header(
            method,
            raw_path,
            pairs,
            headers,
            authorization,
            lookup_secret,
            now,
            expected_service,
            payload_sha256,
        )
    if presigned:
        return sigv4.authenticate_presigned(method, raw_path, pairs, headers, lookup_secret, now, expected_service)
    if sigv2_query:
        return sigv2.authenticate_query(method, raw_path, query_string, headers, lookup_secret, now)
    return anonymous(headers)

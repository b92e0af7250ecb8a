"""The bearer tokens of MinIO's Prometheus endpoint: JWTs (HS512, issuer "prometheus",
subject an access key) signed with the key's secret, as `mc admin prometheus generate`
makes them."""

from __future__ import annotations

import time
from typing import Any

import jwt

ISSUER = "prometheus"
_HS512_KEY_BYTES = 64  # what PyJWT asks of an HS512 key (RFC 7518 section 3.2)


def prometheus_token(access_key: str, secret_key: str, *, days: int = 36500) -> str:
    now = int(time.time())
    claims = {"exp": now + days * 86400, "sub": access_key, "iss": ISSUER}
    return jwt.encode(claims, _hmac_key(secret_key), algorithm="HS512")


def claimed_access_key(token: str) -> str:
    """Whose token it says it is (not verified yet); raises jwt.PyJWTError."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return str(claims.get("sub") or claims.get("accessKey") or "")


def verify(token: str, secret_key: str) -> dict[str, Any]:
    """The token's claims once its signature, issuer and expiry check out; raises
    jwt.PyJWTError."""
    return jwt.decode(
        token,
        _hmac_key(secret_key),
        algorithms=["HS512"],
        issuer=ISSUER,
        options={"require": ["exp"]},
    )


def _hmac_key(secret: str) -> bytes:
    """The secret key as MinIO uses it (the token's HMAC key), zero-padded to the length
    PyJWT expects. HMAC (RFC 2104) zero-pads any key shorter than the hash's block (128
    bytes for SHA-512) before use, so the padded key *is* the secret key: tokens are
    signed and verified exactly as MinIO and `mc admin prometheus generate` sign them
    with the bare secret. Padding adds no strength: a token is as strong as the secret."""
    return secret.encode().ljust(_HS512_KEY_BYTES, b"\0")

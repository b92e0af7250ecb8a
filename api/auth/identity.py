"""Who is calling: resolves an access key to its secret and identity at request time, from the
inline IAM projection (so a change is visible on every node at once)."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import orjson

from api.errors import S3Error
from projections.iam.queries import credential

if TYPE_CHECKING:
    from api.context import ServerContext
    from api.request import S3Request


@dataclass
class Identity:
    access_key: str
    user: str  # the parent user: whose permissions apply (root's name for root)
    kind: str  # root | user | service | iam | sts
    session_policy: dict[str, Any] | None = None
    role: str = ""
    gen: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    path: str = "/"  # the parent user's IAM path: part of its ARN
    session_name: str = ""  # an assumed role's RoleSessionName

    @property
    def is_root(self) -> bool:
        return self.kind == "root"


def access_key_of(req: S3Request) -> str | None:
    """The access key a request claims, read cheaply before the signature is checked."""
    auth = req.headers.get("authorization", "")
    if auth.startswith("AWS4-"):
        i = auth.find("Credential=")
        if i >= 0:
            return auth[i + 11 :].split("/", 1)[0].strip()
        return None
    if auth.startswith("AWS "):
        return auth[4:].split(":", 1)[0].strip()
    qs = req.query
    if "X-Amz-Credential" in qs:
        return unquote(qs["X-Amz-Credential"]).split("/", 1)[0]
    if "AWSAccessKeyId" in qs:
        return qs["AWSAccessKeyId"]
    return None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class IdentityStore:
    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self._secrets: dict[str, tuple[str, str]] = {}
        self._known: dict[str, dict[str, Any]] = {}
        # access key -> (credential row, session token, secret, identity, expiration in us)
        self._resolved: dict[str, tuple[dict[str, Any], str | None, str, Identity, int]] = {}

    def known(self, access_key: str) -> dict[str, Any] | None:
        """The key's credential row as last read, with the IAM generation it was read at
        ("gen"): valid while the database's generation is still that one (every IAM change
        moves it, in the change's own transaction)."""
        return self._known.get(access_key)

    def remember(self, row: dict[str, Any]) -> None:
        if len(self._known) > 10_000:
            self._known.clear()
        self._known[row["access_key"]] = row

    def root(self) -> Identity:
        return Identity(self.ctx.settings.root_user, self.ctx.settings.root_user, "root")

    async def resolve(
        self, access_key: str, session_token: str | None, *, row: dict[str, Any] | None = None, prefetched: bool = False
    ) -> tuple[str, Identity]:
        """(secret, identity) for a key that may be used now; S3 errors otherwise. `row` is
        the credential row when the caller already read it (with prefetched=True)."""
        settings = self.ctx.settings
        if access_key == settings.root_user:
            return settings.root_password, self.root()
        if not prefetched:
            row = await self.ctx.query(credential, access_key)
        if row is None:
            raise S3Error("InvalidAccessKeyId")
        resolved = self._resolved.get(access_key)
        if resolved is not None and resolved[0] is row and _same_token(resolved[1], session_token):
            # The same credential row as last time (IdentityStore.known) and the same token:
            # only the clock can have changed the answer.
            expiration = resolved[4]
            if not expiration or int(self.ctx.clock() * 1_000_000) < expiration:
                return resolved[2], resolved[3]
        if row["status"] != "enabled" or (row["kind"] != "user" and row["parent_status"] not in ("enabled", None)):
            raise S3Error("InvalidAccessKeyId", "The access key ID you provided has been disabled.")
        if row["kind"] != "user" and row["parent_status"] is None and row["parent_user"] != settings.root_user:
            raise S3Error("InvalidAccessKeyId")
        now_us = int(self.ctx.clock() * 1_000_000)
        expiration = int(row["expiration_us"] or 0)
        if row["kind"] == "sts":
            if not session_token:
                raise S3Error(
                    "InvalidToken"
                )  # 400, "The provided token is malformed or otherwise invalid." as S3 answers
            if not hmac.compare_digest(token_hash(session_token), row["token_hash"]):
                raise S3Error(
                    "InvalidToken"
                )  # 400, "The provided token is malformed or otherwise invalid." as S3 answers
            if expiration and now_us >= expiration:
                raise S3Error("ExpiredToken", "The provided token has expired.", status=400)
        elif expiration and now_us >= expiration:
            raise S3Error("InvalidAccessKeyId", "The access key ID you provided has expired.")
        secret = self._secret(access_key, row["sealed_secret"])
        policy = orjson.loads(row["policy"]) if row["policy"] else None
        session_name = (row.get("name") or "") if row["kind"] == "sts" else ""
        identity = Identity(
            access_key,
            row["parent_user"],
            row["kind"],
            policy,
            row["role"] or "",
            int(row["gen"] or 0),
            path=row.get("parent_path") or "/",
            session_name=session_name,
        )
        if len(self._resolved) > 10_000:
            self._resolved.clear()
        self._resolved[access_key] = (row, session_token, secret, identity, expiration)
        return secret, identity

    def _secret(self, access_key: str, sealed: str) -> str:
        cached = self._secrets.get(access_key)
        if cached is not None and cached[0] == sealed:
            return cached[1]
        secret = self.ctx.sealer.unseal(sealed, f"access-key:{access_key}")
        if len(self._secrets) > 10_000:
            self._secrets.clear()
        self._secrets[access_key] = (sealed, secret)
        return secret


def _same_token(known: str | None, given: str | None) -> bool:
    """In constant time: the token that was verified for this row is a secret too."""
    if known is None or given is None:
        return known is given
    return hmac.compare_digest(known.encode(), given.encode())


def now() -> float:
    return time.time()

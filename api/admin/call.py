"""One admin API call (api.admin.operations): the request, the server context, the caller,
its row in the admin operation table, and what every handler uses (authorization by the row's
admin action, madmin's encrypted bodies, JSON answers, the IAM lookups handlers share)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from api.admin.endpoints import Endpoint
from api.admin.errors import (
    MAX_CONFIG_BYTES,
    AdminError,
    access_denied,
    bad_json,
    malformed_policy,
    no_such_group,
    no_such_policy,
    no_such_user,
)
from api.admin.madmin_crypto import decrypt_async, encrypt_async
from api.auth.authz import authorize_admin
from api.errors import S3Error
from api.response import Response
from domain.errors import DomainError
from domain.policy import CANNED_POLICY_NAMES, canned_policy_document, parse_policy
from projections.iam import queries as iam_queries

if TYPE_CHECKING:
    from api.admin.operations import AdminOperation
    from api.auth.identity import Identity
    from api.context import ServerContext
    from api.request import S3Request

JSON_TYPE = "application/json"
MAX_POLICY_BYTES = 20 * 1024
DERIVED_KINDS = ("service", "iam")  # keys that list-service-accounts and friends manage


@dataclass
class AdminCall:
    req: S3Request
    ctx: ServerContext
    operation: AdminOperation
    _secret: str | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> Endpoint:
        return self.operation.endpoint

    @property
    def identity(self) -> Identity:
        return self.req.identity

    @property
    def me(self) -> str:
        """The user whose account the caller acts for (a service account's parent)."""
        return self.identity.user

    @property
    def is_root(self) -> bool:
        return self.identity.is_root

    def q(self, name: str) -> str:
        return self.req.query.get(name, "")

    def actor(self) -> dict[str, str]:
        actor = self.req.actor()
        actor["parent_user"] = self.identity.user
        return actor

    async def read(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await self.ctx.read(fn, *args)

    # -- authorization ----------------------------------------------------------------------

    async def authorize(self) -> None:
        """AccessDenied unless root or an identity policy allows one of the row's actions."""
        *first, last = self.operation.actions
        for action in first:
            if await self.allowed(action):
                return
        await self.allow(last)

    async def authorized(self) -> bool:
        """Whether authorize() would let the call through."""
        for action in self.operation.actions:
            if await self.allowed(action):
                return True
        return False

    async def allow(self, action: str) -> None:
        """AccessDenied unless root or an identity policy allows the admin action."""
        try:
            await authorize_admin(self.req, self.ctx, action)
        except S3Error as err:
            if err.code == "AccessDenied":
                raise access_denied() from None
            raise

    async def allowed(self, action: str) -> bool:
        try:
            await self.allow(action)
        except AdminError as err:
            if err.code == "AccessDenied":
                return False
            raise
        return True

    # -- bodies -----------------------------------------------------------------------------

    async def secret(self) -> str:
        """The secret key of the credential that signed the request (madmin's password)."""
        if self._secret is None:
            token = self.req.headers.get("x-amz-security-token") or self.req.query.get("X-Amz-Security-Token")
            self._secret, _ = await self.ctx.identities.resolve(self.identity.access_key, token)
        return self._secret

    async def body(self, limit: int = MAX_CONFIG_BYTES) -> bytes:
        return await self.req.read_all(limit=limit, object_checksums=False)

    async def decrypted_body(self) -> bytes:
        payload = await self.body()
        try:
            return await decrypt_async(await self.secret(), payload)
        except Exception as exc:  # noqa: BLE001 - any decryption failure is a bad body
            raise bad_json(
                f"JSON configuration provided is of incorrect format ({exc or 'authentication failed'})"
            ) from None

    def json(self, obj: Any, status: int = 200) -> Response:
        return Response(status, {"content-type": JSON_TYPE}, dumps(obj))

    async def encrypted(self, obj: Any, status: int = 200) -> Response:
        data = await encrypt_async(await self.secret(), dumps(obj))
        return Response(status, {"content-type": JSON_TYPE}, data)

    def ok(self) -> Response:
        status = self.endpoint.success_status
        return Response(status, {"content-type": JSON_TYPE} if status != 204 else {}, b"")


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def time_of(us: int | None) -> datetime | None:
    if not us:
        return None
    return datetime.fromtimestamp(us / 1_000_000, UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


def ordered(document: Any) -> Any:
    """A policy document with MinIO's key order (Version, Id, Statement) for display."""
    if not isinstance(document, dict):
        return document
    head = {k: document[k] for k in ("Version", "Id", "Statement") if k in document}
    head.update((k, v) for k, v in document.items() if k not in head)
    return head


def space_at_ends(name: str) -> bool:
    return name != name.strip()


def resource_invalid() -> AdminError:
    return AdminError(
        "XMinioInvalidResource",
        "Policy, user or group names are not allowed to begin or end with space characters",
        400,
    )


async def require_user(call: AdminCall, name: str) -> dict[str, Any]:
    user = await call.read(iam_queries.user, name) if name else None
    if user is None:
        raise no_such_user(name)
    return user


async def require_group(call: AdminCall, name: str) -> dict[str, Any]:
    group = await call.read(iam_queries.group, name) if name else None
    if group is None:
        raise no_such_group(name)
    return group


async def policy_document(call: AdminCall, name: str) -> tuple[dict[str, Any], datetime | None, datetime | None] | None:
    if name in CANNED_POLICY_NAMES:
        return canned_policy_document(name), None, None
    row = await call.read(iam_queries.managed_policy, name)
    if row is None:
        return None
    return ordered(row["document"]), time_of(row.get("created_us")), time_of(row.get("updated_us"))


async def require_policies(call: AdminCall, names: list[str]) -> None:
    for name in names:
        if await policy_document(call, name) is None:
            raise no_such_policy(name)


def validated_policy(text: bytes | str | dict[str, Any], kind: str = "identity") -> dict[str, Any]:
    try:
        policy = parse_policy(text, kind=kind)  # type: ignore[arg-type]
    except DomainError as err:
        raise malformed_policy(err.message) from None
    return dict(policy.document)


def check_access_key(key: str) -> None:
    if not 3 <= len(key) <= 128 or any(c in key for c in "=,/ ") or not key.isprintable():
        raise AdminError(
            "XMinioAdminInvalidAccessKey",
            "The access key is invalid: 3 to 128 characters, without '=', ',', '/' or spaces.",
            400,
        )


def check_secret_key(secret: str) -> None:
    if not 8 <= len(secret) <= 128:
        raise AdminError("XMinioAdminInvalidSecretKey", "The secret key is invalid: 8 to 128 characters.", 400)

"""What every action of the IAM query API (api.iam.api) shares: one call's parameters and
caller, parameter validation, entity names (case-insensitive, as IAM's), paths and ARNs,
authorization on the entity's ARN, Marker / MaxItems paging and the XML helpers."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from xml.sax.saxutils import escape

import orjson

from api.auth.authz import decide
from api.errors import S3Error
from api.iam.protocol import caller_arn, leaf, query_response, validation_error
from domain.ownership import ACCOUNT, canonical_id
from domain.policy import parse_policy
from projections.iam import queries as iam_queries

if TYPE_CHECKING:
    from api.context import ServerContext
    from api.iam.operations import QueryOperation
    from api.request import S3Request
    from api.response import Response

ENTITY_NAME = re.compile(r"[\w+=,.@-]{1,64}")
GROUP_NAME = re.compile(r"[\w+=,.@-]{1,128}")
POLICY_NAME = re.compile(r"[\w+=,.@-]{1,128}")
# AWS's path pattern: "/" alone, or "/" + printable ASCII + "/", at most 512 characters.
PATH = re.compile(r"/|/[!-~]{1,510}/")
CANONICAL_ID = re.compile(r"[0-9a-f]{64}")
MAX_ACCESS_KEYS = 2  # AWS's AccessKeysPerUser quota
_ENTITY_ROW = {"user": iam_queries.user, "group": iam_queries.group, "role": iam_queries.role}


class Call:
    """One IAM request: its parameters, caller and the helpers every action uses."""

    def __init__(self, req: S3Request, ctx: ServerContext, operation: QueryOperation, params: dict[str, str]) -> None:
        self.req = req
        self.ctx = ctx
        self.operation = operation
        self.action = operation.name
        self.params = params
        self.identity = req.identity
        self.root_user = ctx.settings.root_user

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.params.get(name)
        return default if value is None or value == "" else value

    def need(self, name: str, pattern: re.Pattern[str] | None = None) -> str:
        value = self.params.get(name)
        if value is None or value == "":
            raise validation_error(
                f"1 validation error detected: Value null at '{name[:1].lower() + name[1:]}' failed to satisfy "
                "constraint: Member must not be null"
            )
        if pattern is not None and not pattern.fullmatch(value):
            raise validation_error(
                f"1 validation error detected: Value '{value}' at '{name[:1].lower() + name[1:]}' failed to satisfy "
                "constraint: "
                f"Member must satisfy regular expression pattern: {pattern.pattern}"
            )
        return value

    def path(self, name: str = "Path") -> str:
        """A Path / NewPath parameter ("/" when absent)."""
        if self.get(name) is None:
            return "/"
        return self.need(name, PATH)

    def caller_user(self) -> str:
        """UserName defaults to the caller (its parent user for keys and sessions)."""
        name = self.get("UserName")
        if name is not None and not ENTITY_NAME.fullmatch(name) and name != self.root_user:
            self.need("UserName", ENTITY_NAME)
        return name or self.identity.user

    async def stored(self, kind: str, name: str) -> str:
        """The name the user / group / role is stored under (IAM names ignore case); the name
        as given when there is none, so that the caller is told NoSuchEntity only once
        authorized to ask."""
        found = await self.ctx.read(iam_queries.stored_name, kind, name)
        return name if found is None else found

    async def user_param(self, param: str = "UserName") -> str:
        """A user named by a parameter, which may also give the user's canonical id (the id
        ACLs, owners and S3 clients such as Ceph's s3-tests know a user by): its stored name."""
        name = self.need(param, ENTITY_NAME)
        if CANONICAL_ID.fullmatch(name) and await self.ctx.read(iam_queries.user, name) is None:
            for row in await self.ctx.read(iam_queries.list_users):
                if canonical_id(row["name"]) == name:
                    return str(row["name"])
        return await self.stored("user", name)

    async def entity(self, kind: str) -> tuple[str, dict[str, Any]]:
        """The user / group / role named by UserName / GroupName / RoleName, by its stored name,
        and its row (see `found`)."""
        if kind == "user":
            name = await self.user_param()
        elif kind == "group":
            name = await self.stored("group", self.need("GroupName", GROUP_NAME))
        else:
            name = await self.stored("role", self.need("RoleName", ENTITY_NAME))
        return name, await self.found(kind, name)

    async def found(self, kind: str, name: str) -> dict[str, Any]:
        """The user / group / role `name` (a stored name), authorized on its ARNs; NoSuchEntity
        when there is none, told only to a caller authorized to ask."""
        row = await self.ctx.read(_ENTITY_ROW[kind], name)
        path = row["path"] if row is not None else "/"
        if kind == "user":
            await self.authorize_user(name, row)
        elif kind == "group":
            await self.authorize(arn("group", name, path))
        else:
            await self.authorize(role_arn(name, path))
        if row is None:
            raise no_such(kind, name)
        return row

    async def authorize(self, *resources: str) -> None:
        """An identity policy must allow iam:<Action> on the entity: on any of the ARNs that
        name it (`resources`), and an explicit Deny on any of them refuses."""
        if self.identity.is_root:
            return
        allowed = False
        for resource in resources:
            ok, reason, _row = await decide(self.ctx, self.req, self.operation.action, resource, None)
            if reason.startswith("explicit-deny"):
                allowed = False
                break
            allowed = allowed or ok
        if not allowed:
            raise S3Error(
                "AccessDenied",
                f"User: {caller_arn(self.identity, self.root_user)} is not authorized to perform: "
                f"{self.operation.action} on resource: {resources[0]}",
                status=403,
            )

    async def authorize_user(self, name: str, row: dict[str, Any] | None) -> None:
        """On a user's ARN (with its path), its account-less form (as MinIO and Ceph write
        it), and both of those with the user's canonical id instead of its name."""
        path = row["path"] if row is not None else "/"
        await self.authorize(
            arn("user", name, path),
            f"arn:aws:iam:::user{path}{name}",
            f"arn:aws:iam:::user/{canonical_id(name)}",
            arn("user", canonical_id(name)),
        )

    def respond(self, result: str | None = None) -> Response:
        return query_response(self.req, self.operation.service, self.action, result)

    def actor(self) -> dict[str, str]:
        return self.req.actor()

    def page(
        self, rows: list[dict[str, Any]], key: Callable[[dict[str, Any]], str]
    ) -> tuple[list[dict[str, Any]], str]:
        """Marker / MaxItems paging over rows in `key` order: (page, IsTruncated + Marker XML).
        The marker is the key of the page's last row."""
        rows = sorted(rows, key=key)
        marker = self.get("Marker")
        if marker is not None:
            rows = [r for r in rows if key(r) > marker]
        raw = self.get("MaxItems", "100") or "100"
        try:
            limit = int(raw)
        except ValueError:
            raise validation_error(
                f"1 validation error detected: Value '{raw}' at 'maxItems' failed to satisfy constraint: Member must "
                "be a number"
            ) from None
        if not 1 <= limit <= 1000:
            raise validation_error(
                f"1 validation error detected: Value '{limit}' at 'maxItems' failed to satisfy constraint: Member "
                "must have value between 1 and 1000"
            )
        page = rows[:limit]
        if len(rows) > limit:
            return page, leaf_xml("IsTruncated", True) + leaf_xml("Marker", key(page[-1]))
        return page, leaf_xml("IsTruncated", False)

    def page_names(self, names: list[str]) -> tuple[list[str], str]:
        page, tail = self.page([{"name": n} for n in names], lambda r: r["name"])
        return [r["name"] for r in page], tail

    def with_path_prefix(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """PathPrefix: the rows whose path starts with it (a plain string prefix, as AWS's)."""
        prefix = self.get("PathPrefix")
        if prefix is None:
            return rows
        if not prefix.startswith("/") or len(prefix) > 512:
            self.need("PathPrefix", re.compile(r"/[!-~]{0,511}"))
        return [r for r in rows if r["path"].startswith(prefix)]


def by_name(row: dict[str, Any]) -> str:
    """IAM lists order names regardless of case ("aa", "Ab", "ac")."""
    return str(row["name"]).lower()


def leaf_xml(tag: str, value: Any) -> str:
    return leaf(tag, value)


def arn(kind: str, name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{ACCOUNT}:{kind}{path}{name}"


def role_arn(name: str, path: str = "/") -> str:
    """Roles are account-less ("arn:aws:iam:::role/<name>"), as MinIO's and Ceph's role ARNs;
    AssumeRole takes this form and the one with the account id alike."""
    return f"arn:aws:iam:::role{path}{name}"


def encoded(document: Any) -> str:
    """Policy documents travel URL-encoded (botocore decodes them)."""
    text = document if isinstance(document, str) else orjson.dumps(document).decode()
    return quote(text, safe="")


def members(tag: str, items: list[str]) -> str:
    return f"<{tag}>" + "".join(f"<member>{escape(item)}</member>" for item in items) + f"</{tag}>"


def no_such(kind: str, name: str) -> S3Error:
    return S3Error("NoSuchEntity", f"The {kind} with name {name} cannot be found.", status=404)


def parse(document: str, kind: str) -> dict[str, Any]:
    return parse_policy(document, kind=kind).document  # type: ignore[arg-type]  # DomainError: MalformedPolicyDocument

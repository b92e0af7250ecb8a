"""Parsed policies and memoized decisions, per process: a user's policies for one IAM
generation (read with the credential, so never stale), bucket policies per stored text, and
decisions keyed by everything they are a function of."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from domain.policy import Policy, canned_policy, parse_policy
from projections.iam import queries as iam_queries

if TYPE_CHECKING:
    from api.context import ServerContext

_UNKNOWN: Any = object()


def _names_read(policies: tuple[Any, ...]) -> tuple[str, ...] | None:
    """The context keys any of (identity policies, bucket policy, session policies) reads."""
    identity, bucket, session = policies
    names: set[str] = set()
    for policy in (*identity, *((bucket,) if bucket is not None else ()), *session):
        keys = policy.context_keys
        if keys is None:
            return None
        names |= keys
    return tuple(sorted(names))


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


class PolicyCache:
    """Parsed policies per user, valid for one IAM generation; parsed bucket policies per
    document hash."""

    def __init__(self) -> None:
        self._users: dict[str, tuple[int, list[Policy]]] = {}
        self._docs: dict[tuple[str, str, str], Policy] = {}
        # Decisions, keyed by everything they are a function of: the policy objects
        # themselves (a changed policy is a new object), the action, resource and caller,
        # and the values of the context keys those policies read.
        self.decisions: dict[tuple[Any, ...], tuple[bool, str]] = {}
        self._context_names: dict[tuple[Any, ...], tuple[str, ...] | None] = {}

    def decision_key(
        self,
        policies: tuple[Any, ...],
        action: str,
        resource: str,
        user: str | None,
        arn: str | None,
        is_owner: bool,
        context: dict[str, Any],
    ) -> tuple[Any, ...] | None:
        """The memo key of a decision, None when it cannot be memoized (a policy reads an
        open-ended set of context keys)."""
        names = self.names_read(policies)
        if names is None:
            return None
        values = tuple(_hashable(context.get(n)) for n in names)  # type: ignore[union-attr]
        return (policies, action, resource, user, arn, is_owner, values)

    def names_read(self, policies: tuple[Any, ...]) -> tuple[str, ...] | None:
        names = self._context_names.get(policies, _UNKNOWN)
        if names is _UNKNOWN:
            if len(self._context_names) > 1024:
                self._context_names.clear()
            names = self._context_names[policies] = _names_read(policies)
        return names

    def cached_user(self, user: str, gen: int) -> list[Policy] | None:
        """The user's parsed policies if already read at this IAM generation."""
        cached = self._users.get(user)
        return cached[1] if cached is not None and cached[0] == gen else None

    def remember_decision(self, key: tuple[Any, ...], decided: tuple[bool, str]) -> None:
        if len(self.decisions) > 16_384:
            self.decisions.clear()
        self.decisions[key] = decided

    def parsed(self, kind: str, document: Any, bucket: str | None = None) -> Policy:
        # Keyed by the document's text itself (at most 20 KiB): a dict lookup, no re-encoding
        # or hashing of the stored JSON on every request.
        text = document if isinstance(document, str) else orjson.dumps(document).decode()
        key = (kind, bucket or "", text)
        policy = self._docs.get(key)
        if policy is None:
            if len(self._docs) > 1024:
                self._docs.clear()
            policy = parse_policy(text, kind=kind, bucket=bucket)  # type: ignore[arg-type]
            self._docs[key] = policy
        return policy

    def bucket_policy(self, stored: str, bucket: str) -> Policy:
        """The bucket policy from its stored column (the JSON encoding of the document's
        text), decoded and parsed only when that column changes."""
        key = ("bucket-stored", bucket, stored)
        policy = self._docs.get(key)
        if policy is None:
            document = orjson.loads(stored)
            policy = self.parsed("bucket", document, bucket)
            self._docs[key] = policy
        return policy

    def _attached(self, names: list[str], documents: dict[str, Any]) -> list[Policy]:
        """Attached policies by name: stored managed policies, else canned / AWS managed ones."""
        policies: list[Policy] = []
        for name in names:
            if name in documents:
                policies.append(self.parsed("identity", documents[name]))
            else:
                try:
                    policies.append(canned_policy(name))
                except (KeyError, ValueError):
                    continue  # a policy deleted after it was attached grants nothing
        return policies

    def for_role(self, role: dict[str, Any]) -> list[Policy]:
        """An assumed role's permissions: its attached and inline policies."""
        policies = self._attached(role["policies"], role["documents"])
        return policies + [self.parsed("identity", doc) for doc in role["inline"].values()]

    async def for_user(self, ctx: ServerContext, user: str, gen: int) -> list[Policy]:
        cached = self._users.get(user)
        if cached is not None and cached[0] == gen:
            return cached[1]
        sources = await ctx.read(iam_queries.policy_sources, user)
        policies = self._attached(sources["names"], sources["documents"])
        for document in sources["inline"]:
            policies.append(self.parsed("identity", document))
        if len(self._users) > 10_000:
            self._users.clear()
        self._users[user] = (gen, policies)
        return policies

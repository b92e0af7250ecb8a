"""Principal / NotPrincipal elements of bucket and trust policies: who a statement is about."""

from __future__ import annotations

import re
from collections.abc import Callable

from .checks import Fail

PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
ACCOUNT_ARN = re.compile(r"arn:aws:iam::([^:]*):root")
USER_ARN = re.compile(r"arn:aws:iam::([^:]*):user/(?:.*/)?([^/]+)")
ASSUMED_ROLE_ARN = re.compile(r"arn:aws:sts::([^:]*):assumed-role/([^/]+)/.*")
IAM_PRINCIPAL_ARN = re.compile(
    r"arn:aws:(?:iam::[^:]*:(?:root|user/.+|role/.+|group/.+)|sts::[^:]*:(?:assumed-role|federated-user)/.+)"
)


class Principal:
    """A Principal / NotPrincipal element."""

    __slots__ = ("any", "aws", "service", "federated", "canonical", "raw")

    def __init__(
        self,
        raw: object,
        *,
        any_: bool = False,
        aws: frozenset[str] = frozenset(),
        service: frozenset[str] = frozenset(),
        federated: frozenset[str] = frozenset(),
        canonical: frozenset[str] = frozenset(),
    ) -> None:
        self.raw = raw
        self.any = any_
        self.aws = aws
        self.service = service
        self.federated = federated
        self.canonical = canonical


def strings(value: object) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def parse_principal(raw: object, fail: Fail, principal_exists: Callable[[str], bool] | None) -> Principal:
    if raw == "*":
        return Principal(raw, any_=True)
    if not isinstance(raw, dict) or not raw:
        raise fail("bad_principal")
    sets: dict[str, frozenset[str]] = {}
    any_ = False
    for typ, value in raw.items():
        if typ not in PRINCIPAL_TYPES:
            raise fail("bad_principal")
        values = strings(value)
        if values is None:
            raise fail("bad_principal")
        if typ == "AWS":
            for v in values:
                if v == "*":
                    any_ = True
                    continue
                if v.startswith("arn:"):
                    if not IAM_PRINCIPAL_ARN.fullmatch(v):
                        raise fail("bad_principal")
                elif not v or any(c in v for c in "*?:/"):
                    raise fail("bad_principal")
                if principal_exists is not None and not principal_exists(v):
                    raise fail("bad_principal")
        elif any(not v for v in values):
            raise fail("bad_principal")
        sets[typ] = frozenset(values)
    return Principal(
        raw,
        any_=any_,
        aws=sets.get("AWS", frozenset()) - {"*"},
        service=sets.get("Service", frozenset()),
        federated=sets.get("Federated", frozenset()),
        canonical=sets.get("CanonicalUser", frozenset()),
    )

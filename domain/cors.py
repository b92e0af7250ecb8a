"""A bucket's CORS configuration (PutBucketCors): its rules, the limits AWS puts on them,
and how a cross-origin request is matched against them. Pure: no I/O.

AWS takes the first rule that matches: the Origin matches one of its AllowedOrigin
patterns, the method (the Access-Control-Request-Method header's when there is one) is
one of its AllowedMethod, and every name in Access-Control-Request-Headers matches one of
its AllowedHeader patterns. A pattern holds at most one `*`, which stands for any run of
characters (none too). Names, origins and methods are compared without regard to case.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.errors import DomainError

SUBRESOURCE = "cors"  # the bucket configuration holding the rules
MAX_RULES = 100
MAX_ID_LENGTH = 255
METHODS = ("GET", "PUT", "HEAD", "POST", "DELETE")
WILDCARD = "*"
# A cache must keep apart answers to requests that differ in these.
VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"


def _matches(pattern: str, value: str) -> bool:
    """`value` against a pattern with at most one `*` (any run of characters), anchored at
    both ends, without regard to case."""
    pattern, value = pattern.lower(), value.lower()
    head, star, tail = pattern.partition(WILDCARD)
    if not star:
        return pattern == value
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


def requested_headers(value: str) -> list[str]:
    """The names of an Access-Control-Request-Headers value, lowercased, in the order given."""
    return [name.strip().lower() for name in value.split(",") if name.strip()]


@dataclass(frozen=True)
class CorsRule:
    allowed_origins: tuple[str, ...]
    allowed_methods: tuple[str, ...]
    allowed_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age_seconds: int | None = None
    id: str | None = None

    def check(self) -> None:
        """Refuse what AWS refuses, with its code and words."""
        if not self.allowed_origins or not self.allowed_methods:
            raise DomainError("MalformedXML")
        for method in self.allowed_methods:
            if method not in METHODS:
                raise DomainError(
                    "InvalidRequest", f"Found unsupported HTTP method in CORS config. Unsupported method is {method}"
                )
        for kind, patterns in (("AllowedOrigin", self.allowed_origins), ("AllowedHeader", self.allowed_headers)):
            for pattern in patterns:
                if pattern.count(WILDCARD) > 1:
                    raise DomainError("InvalidRequest", f'{kind} "{pattern}" can not have more than one wildcard.')
        if self.id is not None and len(self.id) > MAX_ID_LENGTH:
            raise DomainError("InvalidArgument", f"ID length should not exceed allowed limit of {MAX_ID_LENGTH}")
        if self.max_age_seconds is not None and self.max_age_seconds < 0:
            raise DomainError("MalformedXML")

    def origin_pattern(self, origin: str) -> str | None:
        return next((p for p in self.allowed_origins if _matches(p, origin)), None)

    def allows_method(self, method: str) -> bool:
        return method.upper() in self.allowed_methods

    def allows_headers(self, names: list[str]) -> bool:
        return all(any(_matches(p, name) for p in self.allowed_headers) for name in names)

    def to_document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "AllowedOrigins": list(self.allowed_origins),
            "AllowedMethods": list(self.allowed_methods),
        }
        if self.allowed_headers:
            doc["AllowedHeaders"] = list(self.allowed_headers)
        if self.expose_headers:
            doc["ExposeHeaders"] = list(self.expose_headers)
        if self.max_age_seconds is not None:
            doc["MaxAgeSeconds"] = self.max_age_seconds
        if self.id is not None:
            doc["ID"] = self.id
        return doc

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> CorsRule:
        return cls(
            allowed_origins=tuple(doc["AllowedOrigins"]),
            allowed_methods=tuple(doc["AllowedMethods"]),
            allowed_headers=tuple(doc.get("AllowedHeaders", ())),
            expose_headers=tuple(doc.get("ExposeHeaders", ())),
            max_age_seconds=doc.get("MaxAgeSeconds"),
            id=doc.get("ID"),
        )


@dataclass(frozen=True)
class CorsMatch:
    """The rule that allowed a cross-origin request, and what to answer it with."""

    rule: CorsRule
    origin: str
    any_origin: bool  # the rule allows every origin ("*"): answer "*", without credentials
    headers: tuple[str, ...]  # the requested headers, lowercased

    def response_headers(self, *, preflight: bool) -> dict[str, str]:
        rule = self.rule
        out = {
            "access-control-allow-origin": WILDCARD if self.any_origin else self.origin,
            "access-control-allow-methods": ", ".join(rule.allowed_methods),
        }
        if not self.any_origin:
            out["access-control-allow-credentials"] = "true"
        if preflight and self.headers:
            out["access-control-allow-headers"] = ", ".join(self.headers)
        if rule.expose_headers:
            out["access-control-expose-headers"] = ", ".join(rule.expose_headers)
        if rule.max_age_seconds is not None:
            out["access-control-max-age"] = str(rule.max_age_seconds)
        out["vary"] = VARY
        return out


@dataclass(frozen=True)
class CorsConfiguration:
    rules: tuple[CorsRule, ...]

    def check(self) -> CorsConfiguration:
        if not self.rules or len(self.rules) > MAX_RULES:
            raise DomainError("MalformedXML")
        for rule in self.rules:
            rule.check()
        return self

    def match(self, origin: str, method: str, request_headers: str = "") -> CorsMatch | None:
        """The first rule allowing `origin` to send `method` with `request_headers` (an
        Access-Control-Request-Headers value), or None."""
        names = requested_headers(request_headers)
        for rule in self.rules:
            pattern = rule.origin_pattern(origin)
            if pattern is None or not rule.allows_method(method) or not rule.allows_headers(names):
                continue
            return CorsMatch(rule, origin, pattern == WILDCARD, tuple(names))
        return None

    def to_document(self) -> dict[str, Any]:
        return {"CORSRules": [rule.to_document() for rule in self.rules]}

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> CorsConfiguration:
        return cls(tuple(CorsRule.from_document(rule) for rule in doc["CORSRules"]))

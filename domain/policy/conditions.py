"""Condition operators with AWS semantics.

A Condition block is `{operator: {key: value | [values]}}`. Every
(operator, key) pair must hold (AND); the values listed for one key are
alternatives (OR). Keys are case-insensitive (the request context uses
lower-case names); values compare case-sensitively unless the operator says
otherwise.

Missing keys (the request context has no value, or an empty list):
- a positive operator is false; a negated one (StringNotEquals,
  StringNotLike, NumericNotEquals, DateNotEquals, NotIpAddress, ArnNotEquals,
  ArnNotLike) is true;
- the `...IfExists` form is true;
- `ForAllValues:` is true (vacuously), `ForAnyValue:` is false;
- `Null` tests presence: `"Null": {"k": "true"}` holds when k is missing.

Multi-valued request keys: `ForAllValues:Op` holds when every request value
satisfies Op, `ForAnyValue:Op` when at least one does (negated operators are
applied per value). Without a qualifier a positive operator holds when any
request value matches any policy value and a negated one when none does.

Policy variables in values are substituted for String* and Arn* operators
(Version 2012-10-17 only).
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from .patterns import (
    Template,
    compile_globs,
    compile_regex,
    compile_templates,
    glob_to_regex,
)

Context = Mapping[str, object]

# family, negated, comparison (numeric / date)
_OPERATORS: dict[str, tuple[str, str, bool, str]] = {}


def _op(name: str, family: str, negated: bool = False, cmp: str = "") -> None:
    _OPERATORS[name.lower()] = (name, family, negated, cmp)


_op("StringEquals", "str")
_op("StringNotEquals", "str", True)
_op("StringEqualsIgnoreCase", "stri")
_op("StringNotEqualsIgnoreCase", "stri", True)
_op("StringLike", "like")
_op("StringNotLike", "like", True)
for _name, _cmp in (
    ("Equals", "eq"),
    ("NotEquals", "eq"),
    ("LessThan", "lt"),
    ("LessThanEquals", "le"),
    ("GreaterThan", "gt"),
    ("GreaterThanEquals", "ge"),
):
    _op("Numeric" + _name, "num", _name == "NotEquals", _cmp)
    _op("Date" + _name, "date", _name == "NotEquals", _cmp)
_op("Bool", "bool")
_op("BinaryEquals", "bin")
_op("IpAddress", "ip")
_op("NotIpAddress", "ip", True)
_op("ArnEquals", "arn")
_op("ArnLike", "arn")
_op("ArnNotEquals", "arn", True)
_op("ArnNotLike", "arn", True)
_op("Null", "null")

OPERATOR_NAMES: frozenset[str] = frozenset(v[0] for v in _OPERATORS.values())

_CMP: dict[str, Callable[[float, float], bool]] = {
    "eq": lambda a, b: a == b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
}


class ConditionError(ValueError):
    """A Condition block that cannot be parsed (the message says why)."""


# --- value parsing ----------------------------------------------------------


def parse_number(text: str) -> float | None:
    try:
        value = float(text.strip())
    except (ValueError, AttributeError):
        return None
    return value if math.isfinite(value) else None


@lru_cache(maxsize=4096)
def parse_date(text: str) -> float | None:
    """Seconds since the epoch for an ISO 8601 date/time or an epoch number."""
    s = text.strip()
    if not s:
        return None
    if re.fullmatch(r"-?\d+(\.\d+)?", s):
        return float(s)
    try:
        dt = datetime.fromisoformat(s.replace("z", "Z"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


@lru_cache(maxsize=4096)
def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _component_glob(part: str) -> str:
    """Regex source for one ARN component: wildcards never cross a colon."""
    out: list[str] = []
    for ch in part:
        if ch == "*":
            out.append("[^:]*")
        elif ch == "?":
            out.append("[^:]")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def arn_regex_source(pattern: str) -> str:
    """ARN matching (ArnEquals / ArnLike): the six colon-separated parts are
    matched one by one; only the last (resource) part may span colons."""
    parts = pattern.split(":", 5)
    if len(parts) < 6:
        return glob_to_regex(pattern)
    return ":".join([*(_component_glob(p) for p in parts[:5]), glob_to_regex(parts[5])])


# --- the condition ------------------------------------------------------------


class Condition:
    """One (operator, key) pair of a Condition block, compiled."""

    __slots__ = (
        "operator",
        "family",
        "negated",
        "qualifier",
        "if_exists",
        "key",
        "values",
        "_match",
    )

    def __init__(
        self,
        operator: str,
        key: str,
        values: tuple[str, ...],
        *,
        variables: bool,
    ) -> None:
        self.operator = operator
        qualifier = ""
        name = operator
        head, sep, tail = operator.partition(":")
        if sep:
            q = head.lower()
            if q == "foranyvalue":
                qualifier = "any"
            elif q == "forallvalues":
                qualifier = "all"
            else:
                raise ConditionError(f"Invalid Condition type : {operator}")
            name = tail
        if_exists = False
        lname = name.lower()
        if lname.endswith("ifexists"):
            if_exists = True
            lname = lname[: -len("ifexists")]
        spec = _OPERATORS.get(lname)
        if spec is None or (if_exists and spec[1] == "null"):
            raise ConditionError(f"Invalid Condition type : {operator}")
        _, family, negated, cmp = spec
        if not key or ":" not in key:
            raise ConditionError(f"Invalid Condition key : {key}")
        self.family = family
        self.negated = negated
        self.qualifier = qualifier
        self.if_exists = if_exists
        self.key = key.lower()
        self.values = values
        self._match = self._compile(family, cmp, values, variables)

    # A matcher answers: does this one request value match any policy value?
    def _compile(self, family: str, cmp: str, values: tuple[str, ...], variables: bool) -> Matcher:
        if family in _TEMPLATE_MATCHERS:
            templates = tuple(Template(v, variables=variables) for v in values)
            return _TEMPLATE_MATCHERS[family](values, templates, all(t.is_static for t in templates))
        try:
            return _VALUE_MATCHERS[family](values, cmp)
        except _BadValue as bad:
            raise ConditionError(f"Invalid Condition value : {bad} for {self.operator}") from None

    def evaluate(self, context: Context) -> bool:
        raw = context.get(self.key)
        if raw is None:
            vals: list[str] | tuple[str, ...] = ()
        elif isinstance(raw, str):
            vals = (raw,)
        elif isinstance(raw, list | tuple | set | frozenset):
            vals = [str(x) for x in raw]
        else:
            vals = (str(raw),)
        if self.family == "null":
            return self._match(not vals, context)  # type: ignore[arg-type]
        if not vals:
            if self.if_exists:
                return True
            if self.qualifier == "all":
                return True
            if self.qualifier == "any":
                return False
            return self.negated
        match = self._match
        negated = self.negated
        if self.qualifier == "all":
            return all(match(v, context) != negated for v in vals)
        if self.qualifier == "any":
            return any(match(v, context) != negated for v in vals)
        hit = any(match(v, context) for v in vals)
        return not hit if negated else hit

    def to_json(self) -> tuple[str, str, list[str]]:
        return self.operator, self.key, list(self.values)


def _value_strings(raw: object, where: str) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    out: list[str] = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, str):
            out.append(item)
        elif isinstance(item, int | float):
            out.append(str(item))
        else:
            raise ConditionError(f"Invalid Condition value for {where}")
    return tuple(out)


def parse_conditions(block: object, *, variables: bool) -> tuple[Condition, ...]:
    """Parse and compile a statement's Condition block."""
    if not isinstance(block, dict):
        raise ConditionError("Condition must be an object")
    out: list[Condition] = []
    for operator, entries in block.items():
        if not isinstance(entries, dict):
            raise ConditionError(f"Invalid Condition block for {operator}")
        if not entries:
            raise ConditionError(f"Condition {operator} has no keys")
        for key, raw in entries.items():
            if not isinstance(key, str):
                raise ConditionError(f"Invalid Condition key : {key}")
            values = _value_strings(raw, f"{operator}/{key}")
            out.append(Condition(operator, key, values, variables=variables))
    return tuple(out)


def conditions_hold(conditions: tuple[Condition, ...], context: Context) -> bool:
    for c in conditions:
        if not c.evaluate(context):
            return False
    return True


# -- matchers, one per operator family --------------------------------------------------

Matcher = Callable[[str, Context], bool]


class _BadValue(ValueError):
    """A policy value the operator cannot take (the message is the value)."""


def _string_matcher(values: tuple[str, ...], templates: tuple[Template, ...], static: bool) -> Matcher:
    if static:
        exact = frozenset(values)
        return lambda v, ctx: v in exact
    return lambda v, ctx: any(t.render(ctx) == v for t in templates)


def _string_ignore_case_matcher(values: tuple[str, ...], templates: tuple[Template, ...], static: bool) -> Matcher:
    if static:
        folded = frozenset(x.casefold() for x in values)
        return lambda v, ctx: v.casefold() in folded
    return lambda v, ctx: any((r := t.render(ctx)) is not None and r.casefold() == v.casefold() for t in templates)


def _like_matcher(values: tuple[str, ...], templates: tuple[Template, ...], static: bool) -> Matcher:
    if static:
        rx = compile_globs(values)
        return lambda v, ctx: rx.fullmatch(v) is not None

    def like(v: str, ctx: Context) -> bool:
        dyn = compile_templates(templates, ctx)
        return dyn is not None and dyn.fullmatch(v) is not None

    return like


def _arn_matcher(values: tuple[str, ...], templates: tuple[Template, ...], static: bool) -> Matcher:
    def arn_sources(ctx: Context) -> list[str]:
        out = []
        for t in templates:
            src: str | None
            if t.static is not None:
                src = arn_regex_source(t.static)
            else:
                src = t.regex_source(ctx)  # substituted ARNs: whole-string glob
            if src is not None:
                out.append(src)
        return out

    if static:
        srcs = arn_sources({})
        rx = compile_regex("|".join(f"(?:{s})" for s in srcs))
        return lambda v, ctx: rx.fullmatch(v) is not None

    def arn(v: str, ctx: Context) -> bool:
        srcs = arn_sources(ctx)
        if not srcs:
            return False
        return compile_regex("|".join(f"(?:{s})" for s in srcs)).fullmatch(v) is not None

    return arn


def _parsed(values: tuple[str, ...], parse: Callable[[str], Any]) -> list[Any]:
    out = []
    for x in values:
        parsed = parse(x)
        if parsed is None:
            raise _BadValue(x)
        out.append(parsed)
    return out


def _numeric_matcher(values: tuple[str, ...], cmp: str) -> Matcher:
    nums = _parsed(values, parse_number)
    op = _CMP[cmp]

    def numeric(v: str, ctx: Context) -> bool:
        n = parse_number(v)
        return n is not None and any(op(n, p) for p in nums)

    return numeric


def _date_matcher(values: tuple[str, ...], cmp: str) -> Matcher:
    dates = _parsed(values, parse_date)
    op = _CMP[cmp]

    def date(v: str, ctx: Context) -> bool:
        d = parse_date(v)
        return d is not None and any(op(d, p) for p in dates)

    return date


def _true_or_false(values: tuple[str, ...]) -> list[str]:
    return _parsed(values, lambda x: x.lower() if x.lower() in ("true", "false") else None)


def _bool_matcher(values: tuple[str, ...], cmp: str) -> Matcher:
    bools = set(_true_or_false(values))
    return lambda v, ctx: v.lower() in bools


def _binary_matcher(values: tuple[str, ...], cmp: str) -> Matcher:
    exact = frozenset(values)
    return lambda v, ctx: v in exact


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _ip_matcher(values: tuple[str, ...], cmp: str) -> Matcher:
    nets = _parsed(values, _network)

    def ip(v: str, ctx: Context) -> bool:
        addr = _parse_ip(v)
        if addr is None:
            return False
        return any(addr.version == n.version and addr in n for n in nets)

    return ip


def _null_matcher(values: tuple[str, ...], cmp: str) -> Matcher:
    wants = frozenset(x == "true" for x in _true_or_false(values))
    return lambda absent, ctx: absent in wants  # type: ignore[comparison-overlap]


_TEMPLATE_MATCHERS: dict[str, Callable[[tuple[str, ...], tuple[Template, ...], bool], Matcher]] = {
    "str": _string_matcher,
    "stri": _string_ignore_case_matcher,
    "like": _like_matcher,
    "arn": _arn_matcher,
}
_VALUE_MATCHERS: dict[str, Callable[[tuple[str, ...], str], Matcher]] = {
    "num": _numeric_matcher,
    "date": _date_matcher,
    "bool": _bool_matcher,
    "bin": _binary_matcher,
    "ip": _ip_matcher,
    "null": _null_matcher,
}

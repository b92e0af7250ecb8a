"""Wildcard patterns and policy variables, compiled once.

`*` matches any run of characters (including `/` and nothing), `?` exactly
one character. Policy variables (`${aws:username}`, `${s3:prefix}`,
`${aws:username, 'default'}`) are substituted from the request context and
always match literally; `${*}`, `${?}` and `${$}` stand for a literal `*`,
`?` and `$`. Variables are only recognised in policies of Version
2012-10-17; in 2008-10-17 policies `${...}` is plain text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

_VAR = re.compile(r"\$\{([^}]*)\}")


@lru_cache(maxsize=8192)
def glob_to_regex(pattern: str) -> str:
    """The regular-expression source for a `*` / `?` wildcard pattern."""
    out: list[str] = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return "".join(out)


@lru_cache(maxsize=8192)
def compile_regex(source: str, ignore_case: bool = False) -> re.Pattern[str]:
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile(source, flags)


def compile_globs(patterns: tuple[str, ...], ignore_case: bool = False) -> re.Pattern[str]:
    """One regex that fully matches any of the wildcard patterns."""
    return compile_regex("|".join(f"(?:{glob_to_regex(p)})" for p in patterns), ignore_case)


def has_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


def lookup_variable(context: Mapping[str, object], key: str, default: str | None) -> str | None:
    """The value a variable stands for, or None when the request has none."""
    value = context.get(key)
    if isinstance(value, list | tuple):
        value = value[0] if len(value) == 1 else None
    if value is None or value == "":
        if default is not None:
            return default
        if key.startswith("jwt:"):
            return ""
        return None
    return str(value)


class Template:
    """A string that may contain policy variables.

    `parts` alternates literal text (str) and variables ((key, default));
    escapes are folded into literal text flagged as such so they never act as
    wildcards.
    """

    __slots__ = ("text", "parts", "static")

    def __init__(self, text: str, *, variables: bool) -> None:
        self.text = text
        parts: list[tuple[str, str] | tuple[str, str, str | None]] = []
        if variables and "${" in text:
            pos = 0
            for m in _VAR.finditer(text):
                inner = m.group(1)
                if inner in ("*", "?", "$"):
                    if m.start() > pos:
                        parts.append(("lit", text[pos : m.start()]))
                    parts.append(("esc", inner))
                    pos = m.end()
                    continue
                key, _, default = inner.partition(",")
                key = key.strip()
                if ":" not in key:
                    continue  # not a variable: keep as text
                if m.start() > pos:
                    parts.append(("lit", text[pos : m.start()]))
                dflt: str | None = None
                if _:
                    d = default.strip()
                    if len(d) >= 2 and d[0] == d[-1] == "'":
                        d = d[1:-1]
                    dflt = d
                parts.append(("var", key.lower(), dflt))
                pos = m.end()
            if pos < len(text):
                parts.append(("lit", text[pos:]))
        self.parts = tuple(parts)
        #: the plain value when nothing needs substituting
        self.static: str | None = text if not parts else None
        if parts and not any(p[0] == "var" for p in parts):
            # escapes only: a fixed string, but wildcards in it are literal
            self.static = None

    @property
    def is_static(self) -> bool:
        return self.static is not None

    def render(self, context: Mapping[str, object]) -> str | None:
        """The text with variables substituted (None: a variable is missing)."""
        if self.static is not None:
            return self.static
        out: list[str] = []
        for part in self.parts:
            if part[0] == "var":
                value = lookup_variable(context, part[1], part[2])  # type: ignore[misc]
                if value is None:
                    return None
                out.append(value)
            else:
                out.append(part[1])
        return "".join(out)

    def regex_source(self, context: Mapping[str, object]) -> str | None:
        """Regex source treating literal text as a wildcard pattern and
        substituted values / escapes as literal (None: a variable is missing)."""
        if self.static is not None:
            return glob_to_regex(self.static)
        out: list[str] = []
        for part in self.parts:
            kind = part[0]
            if kind == "lit":
                out.append(glob_to_regex(part[1]))
            elif kind == "esc":
                out.append(re.escape(part[1]))
            else:
                value = lookup_variable(context, part[1], part[2])  # type: ignore[misc]
                if value is None:
                    return None
                out.append(re.escape(value))
        return "".join(out)


def compile_templates(
    templates: tuple[Template, ...],
    context: Mapping[str, object],
    ignore_case: bool = False,
) -> re.Pattern[str] | None:
    """One regex matching any template after substitution (None: none can match)."""
    sources = [s for s in (t.regex_source(context) for t in templates) if s is not None]
    if not sources:
        return None
    return compile_regex("|".join(f"(?:{s})" for s in sources), ignore_case)

"""How long a bucket's superseded and deleted object data stays readable as of the past: a
duration as users write it (30d, 12h, 90m, 45s, 2w, or 0) to whole seconds and back. Pure.

0 means superseded data may be reclaimed at the next garbage collection pass. The ceiling
(100 years) keeps every window, in microseconds, far inside a 64-bit column."""

from __future__ import annotations

import re

from domain.errors import DomainError

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_SECONDS = 36500 * 86400
_DURATION = re.compile(r"(\d+)([smhdw]?)")
HOW = "a duration such as 30d, 12h, 90m, 45s or 0"


def parse_retention(text: object) -> int:
    """Whole seconds from `30d`, `12h`, `90m`, `45s`, `2w`, a number of seconds, or 0;
    InvalidArgument (saying what to write) for anything else."""
    if isinstance(text, int) and not isinstance(text, bool):
        return check_retention(text)
    m = _DURATION.fullmatch(text.strip().lower()) if isinstance(text, str) else None
    if m is None:
        raise DomainError("InvalidArgument", f"history retention must be {HOW}, not {text!r}")
    return check_retention(int(m.group(1)) * UNITS[m.group(2) or "s"])


def check_retention(seconds: int) -> int:
    if not 0 <= seconds <= MAX_SECONDS:
        raise DomainError(
            "InvalidArgument",
            f"history retention must be from 0 to {MAX_SECONDS // 86400}d, not {seconds} seconds",
        )
    return seconds


def format_retention(seconds: float) -> str:
    """The largest unit that divides the window exactly: 2592000 -> 30d, 5400 -> 90m, 0 -> 0."""
    if seconds == 0:
        return "0"
    if seconds != int(seconds):
        return f"{seconds:g}s"
    whole = int(seconds)
    for unit in ("d", "h", "m"):
        if whole % UNITS[unit] == 0:
            return f"{whole // UNITS[unit]}{unit}"
    return f"{whole}s"

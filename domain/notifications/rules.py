"""Which targets an (event name, object key) reaches under a bucket's configuration
(`internal/event/rules.go`, `rulesmap.go`, minio/pkg `wildcard.MatchSimple`).

Each QueueConfiguration becomes one pattern, `prefix + "*"` joined with `"*" + suffix`
(`**` collapsed to `*`; `*` alone when there is no filter), registered for every single
event name its events expand to. A key matches a pattern with MatchSimple on the raw
(unescaped) key: `*` is any run of bytes, `?` one byte, and a `?` reached when the key
is used up matches (so `a?` matches `a`). A `*` or `?` inside a prefix or suffix value is
therefore a wildcard too, as in MinIO.
"""

from __future__ import annotations

from collections.abc import Iterable

from domain.notifications.arn import ARN
from domain.notifications.config import NotificationConfig
from domain.notifications.names import expand, mask


def new_pattern(prefix: str, suffix: str) -> str:
    """`event.NewPattern`."""
    pattern = ""
    if prefix:
        pattern = prefix if prefix.endswith("*") else prefix + "*"
    if suffix:
        pattern += suffix if suffix.startswith("*") else "*" + suffix
    return pattern.replace("**", "*")


def _deep_match(name: bytes, pattern: bytes) -> bool:
    """Full match of `*`/`?` pattern against name, byte-wise, without exponential
    backtracking: on a mismatch, let the most recent `*` take one more byte."""
    n = p = 0
    star = -1
    mark = 0
    STAR, QMARK = 42, 63
    while n < len(name) or p < len(pattern):
        if p < len(pattern):
            c = pattern[p]
            if c == STAR:
                star, mark = p, n
                p += 1
                continue
            if n < len(name) and (c == QMARK or c == name[n]):
                n += 1
                p += 1
                continue
        if star < 0 or mark >= len(name):
            return False
        mark += 1
        n, p = mark, star + 1
    return True


def _star_only_match(pattern: str, name: str) -> bool:
    parts = pattern.split("*")
    if len(parts) == 1:
        return pattern == name
    first, last = parts[0], parts[-1]
    if len(name) < len(first) + len(last) or not name.startswith(first) or not name.endswith(last):
        return False
    pos, end = len(first), len(name) - len(last)
    for mid in parts[1:-1]:
        if not mid:
            continue
        at = name.find(mid, pos, end)
        if at < 0:
            return False
        pos = at + len(mid)
    return True


def match_simple(pattern: str, name: str) -> bool:
    """minio/pkg `wildcard.MatchSimple(pattern, name)`."""
    if pattern == "":
        return name == ""
    if pattern == "*":
        return True
    if "?" not in pattern:
        return _star_only_match(pattern, name)
    pb = pattern.encode("utf-8", "surrogatepass")
    nb = name.encode("utf-8", "surrogatepass")
    if _deep_match(nb, pb):
        return True
    # A '?' met with the name used up succeeds: some prefix of the pattern ending just
    # before a '?' consumes the whole name.
    return any(c == 63 and _deep_match(nb, pb[:i]) for i, c in enumerate(pb))


class RulesMap:
    """event name (single) → pattern → targets; MinIO's RulesMap."""

    __slots__ = ("_rules", "mask")

    def __init__(self) -> None:
        self._rules: dict[str, dict[str, set[ARN]]] = {}
        self.mask = 0

    def add(self, event_names: Iterable[str], pattern: str, target: ARN) -> None:
        pattern = pattern or "*"
        for event_name in event_names:
            self.mask |= mask(event_name)
            for single in expand(event_name):
                self._rules.setdefault(single, {}).setdefault(pattern, set()).add(target)

    def subscribes(self, event_name: str) -> bool:
        """Whether any rule delivers `event_name` (for some key)."""
        return event_name in self._rules

    def match(self, event_name: str, key: str) -> frozenset[ARN]:
        rules = self._rules.get(event_name)
        if not rules:
            return frozenset()
        out: set[ARN] = set()
        for pattern, targets in rules.items():
            if not targets <= out and match_simple(pattern, key):
                out |= targets
        return frozenset(out)

    def __bool__(self) -> bool:
        return bool(self._rules)


def rules_map(config: NotificationConfig) -> RulesMap:
    """`Config.ToRulesMap`."""
    rm = RulesMap()
    for q in config.queues:
        rm.add(q.events, new_pattern(q.prefix, q.suffix), q.arn)
    return rm


def match_targets(config: NotificationConfig, event_name: str, key: str) -> frozenset[ARN]:
    """The targets `config` sends `event_name` on `key` to."""
    return rules_map(config).match(event_name, key)

"""What a subscriber to the event stream asks for: buckets, a key prefix and suffix, event
names (with `*` and `?` wildcards), kinds, a principal. Pure: it reads change records
(domain.change_record) and says whether one is wanted."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from domain.change_record import KINDS


class BadStreamFilter(ValueError):
    """A filter that can never be right (an unknown kind); the message says what to use."""


@dataclass(frozen=True)
class StreamFilter:
    buckets: tuple[str, ...] = ()
    prefix: str = ""
    suffix: str = ""
    events: tuple[str, ...] = ()  # ObjectVersion.Created, User.*, *.Deleted
    kinds: tuple[str, ...] = ()  # bucket, object, access, iam, target
    principal: str | None = None  # an access key or its parent user

    def __post_init__(self) -> None:
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown:
            raise BadStreamFilter(f"unknown kind {unknown[0]!r}: use one of {', '.join(KINDS)}")

    @property
    def has_key_filter(self) -> bool:
        return bool(self.prefix or self.suffix)

    def matches(self, record: dict[str, Any]) -> bool:
        if self.buckets and record.get("bucket") not in self.buckets:
            return False
        if self.kinds and record.get("kind") not in self.kinds:
            return False
        if self.has_key_filter:
            key = record.get("key")
            if key is None or not key.startswith(self.prefix) or not key.endswith(self.suffix):
                return False
        if self.events and not any(fnmatchcase(record.get("event", ""), p) for p in self.events):
            return False
        if self.principal is not None:
            who = record.get("principal") or {}
            if self.principal not in (who.get("accessKey"), who.get("parentUser")):
                return False
        return True

"""Who subscribes to what, for the request path: listen API subscribers and which reads
must be recorded as s3:ObjectAccessed events.

A GET or HEAD appends an ObjectAccess event only when a bucket rule or a listener
subscribes to it, so other reads cost nothing. The rules and the listeners of every node
(``notify_listeners``) are read in one query, at most once a second; a change made
through this node (a rule set, a listener connecting) takes effect here at once, and on
other nodes within that second.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from domain.notifications import NotificationConfig, RulesMap, match_simple, rules_map
from projections.tx import Tx

if TYPE_CHECKING:
    from api.context import ServerContext

REFRESH_SECONDS = 1.0
LISTENER_TTL_US = 30_000_000  # a listener row outlives a node that died by this long
ACCESS_EVENTS = ("s3:ObjectAccessed:Get", "s3:ObjectAccessed:Head")


@dataclass(eq=False)
class Listener:
    """One listen API connection."""

    bucket: str  # "" = every bucket
    events: frozenset[str]  # single event names
    pattern: str  # prefix/suffix as a MatchSimple pattern ("*" = any key)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def matches(self, bucket: str, key: str, event_name: str) -> bool:
        return (
            event_name in self.events
            and (not self.bucket or self.bucket == bucket)
            and match_simple(self.pattern, key)
        )


class Subscriptions:
    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.local: set[Listener] = set()
        self._rules: dict[str, RulesMap] = {}
        self._remote: list[tuple[str, frozenset[str], str]] = []
        self._loaded = 0.0
        self._refreshing = False
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- wake-ups: a commit in this process wakes the local listeners ----------------------

    def attach(self, committer: Any) -> None:
        committer.on_commit.append(self._committed)

    def _committed(self) -> None:
        loop = self._loop
        if loop is not None and self.local:
            loop.call_soon_threadsafe(self._wake_all)

    def _wake_all(self) -> None:
        for listener in self.local:
            listener.wake.set()

    # -- listeners --------------------------------------------------------------------------

    async def add(self, listener: Listener) -> None:
        self._loop = asyncio.get_running_loop()
        self.local.add(listener)
        await self._touch(listener)

    async def remove(self, listener: Listener) -> None:
        self.local.discard(listener)
        try:
            await self.ctx.write(_delete_listener, listener.id)
        except Exception:  # noqa: BLE001 - the row expires by itself
            pass

    async def _touch(self, listener: Listener) -> None:
        expires = int(time.time() * 1_000_000) + LISTENER_TTL_US
        await self.ctx.write(_upsert_listener, listener, expires)

    async def keep_alive(self, listener: Listener) -> None:
        await self._touch(listener)

    # -- reads to record ----------------------------------------------------------------------

    def wants(self, bucket: str, key: str, event_name: str) -> bool:
        """Whether a read (``s3:ObjectAccessed:Get|Head``) of bucket/key must be recorded."""
        if time.monotonic() - self._loaded > REFRESH_SECONDS and not self._refreshing:
            self._refreshing = True
            asyncio.get_running_loop().create_task(self.refresh())
        rules = self._rules.get(bucket)
        if rules is not None and rules.match(event_name, key):
            return True
        if any(lst.matches(bucket, key, event_name) for lst in self.local):
            return True
        return any(
            (not b or b == bucket) and event_name in names and match_simple(pattern, key)
            for b, names, pattern in self._remote
        )

    async def refresh(self) -> None:
        try:
            rules, remote = await self.ctx.query(_load, int(time.time() * 1_000_000))
            self._rules = rules
            self._remote = remote
            self._loaded = time.monotonic()
        finally:
            self._refreshing = False


def _load(tx: Tx, now_us: int) -> tuple[dict[str, RulesMap], list[tuple[str, frozenset[str], str]]]:
    rules: dict[str, RulesMap] = {}
    for row in tx.all("SELECT bucket, document FROM ns_bucket_configs WHERE name = 'notification'"):
        rm = rules_map(NotificationConfig.from_dict(orjson.loads(row["document"])))
        if any(rm.subscribes(name) for name in ACCESS_EVENTS):
            rules[row["bucket"]] = rm
    remote = [
        (r["bucket"], frozenset(orjson.loads(r["events"])), r["pattern"])
        for r in tx.all(
            "SELECT bucket, events, pattern FROM notify_listeners WHERE expires_us > ?", (now_us,)
        )
    ]
    return rules, remote


def _upsert_listener(tx: Tx, listener: Listener, expires_us: int) -> None:
    tx.execute("DELETE FROM notify_listeners WHERE id = ?", (listener.id,))
    tx.execute(
        "INSERT INTO notify_listeners (id, bucket, events, pattern, expires_us) VALUES (?, ?, ?, ?, ?)",
        (listener.id, listener.bucket, orjson.dumps(sorted(listener.events)).decode(), listener.pattern, expires_us),
    )


def _delete_listener(tx: Tx, listener_id: str) -> None:
    tx.execute("DELETE FROM notify_listeners WHERE id = ?", (listener_id,))


def single_names(names: Iterable[str]) -> frozenset[str]:
    from domain.notifications import expand

    return frozenset(single for name in names for single in expand(name))

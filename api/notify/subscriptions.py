"""Who subscribes to what, for the request path: listen API subscribers and which reads
must be recorded as s3:ObjectAccessed events.

A GET or HEAD appends an ObjectAccess event only when a bucket rule or a listener
subscribes to it, so other reads cost nothing. Each node caches the rules and the
listeners of every node (``notify_listeners``), read in one query together with the
subscriptions generation (projections/notifications/subscriptions_generation.py), which moves in the
same transaction as every rule change and listener registration. A read's statement reads
that generation with its bucket and version; when it is ahead of the cache, the cache is
read again before the read is answered, so a read after a subscription appeared (on any
node) is recorded. While remote listeners are known the cache is also re-read once a
second, to forget those of a node that died without leaving.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from domain.notifications import NotificationConfig, RulesMap, expand, match_simple, rules_map
from projections.eventstore.tx import Tx
from projections.notifications import subscriptions_generation

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
            event_name in self.events and (not self.bucket or self.bucket == bucket) and match_simple(self.pattern, key)
        )


class Subscriptions:
    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.local: set[Listener] = set()
        self._rules: dict[str, RulesMap] = {}
        self._remote: list[tuple[str, frozenset[str], str]] = []
        self._generation: int | None = None  # the generation the cache was read at
        self._loaded = 0.0
        self._refreshing: asyncio.Future[None] | None = None
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
        await self.ctx.write(_register_listener, listener, _expiry())

    async def remove(self, listener: Listener) -> None:
        self.local.discard(listener)
        try:
            await self.ctx.write(_delete_listener, listener.id)
        except Exception:  # noqa: BLE001 - the row expires by itself
            pass

    async def keep_alive(self, listener: Listener) -> None:
        await self.ctx.write(_upsert_listener, listener, _expiry())

    # -- reads to record ----------------------------------------------------------------------

    def current(self, generation: int | None) -> bool:
        """Whether the cache is at least as new as ``generation`` (what a request's
        statement read; None: no change was ever made)."""
        return self._generation is not None and self._generation >= (generation or 0)

    async def catch_up(self, generation: int | None) -> None:
        """Read the subscriptions again until the cache is at least as new as
        ``generation``: once, or twice when a read already under way predates it (the
        counter only grows, so a third is never needed)."""
        for _ in range(3):
            if self.current(generation):
                return
            await self._refresh()

    def wants(self, bucket: str, key: str, event_name: str) -> bool:
        """Whether a read (``s3:ObjectAccessed:Get|Head``) of bucket/key must be recorded;
        call ``catch_up`` with the read's generation first."""
        if self._remote and time.monotonic() - self._loaded > REFRESH_SECONDS and self._refreshing is None:
            # Remote listeners may have expired (their node died): look again, meanwhile
            # answer from the cache (recording a read too many is harmless).
            self._refresh().add_done_callback(_retrieved)
        rules = self._rules.get(bucket)
        if rules is not None and rules.match(event_name, key):
            return True
        if any(lst.matches(bucket, key, event_name) for lst in self.local):
            return True
        return any(
            (not b or b == bucket) and event_name in names and match_simple(pattern, key)
            for b, names, pattern in self._remote
        )

    def _refresh(self) -> asyncio.Future[None]:
        """One read of the subscriptions at a time; callers meanwhile share it."""
        if self._refreshing is None:
            self._refreshing = asyncio.ensure_future(self._load())
        return self._refreshing

    async def _load(self) -> None:
        try:
            generation, rules, remote = await self.ctx.query(_load, int(time.time() * 1_000_000))
            if self._generation is None or generation >= self._generation:
                self._generation, self._rules, self._remote = generation, rules, remote
                self._loaded = time.monotonic()
        finally:
            self._refreshing = None


def _retrieved(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()  # a failed background look: the next read tries again


def _expiry() -> int:
    return int(time.time() * 1_000_000) + LISTENER_TTL_US


def _load(tx: Tx, now_us: int) -> tuple[int, dict[str, RulesMap], list[tuple[str, frozenset[str], str]]]:
    # The generation first: what is read after it is at least as new.
    generation = subscriptions_generation.read(tx)
    rules: dict[str, RulesMap] = {}
    for row in tx.all("SELECT bucket, document FROM ns_bucket_configs WHERE name = 'notification'"):
        rm = rules_map(NotificationConfig.from_dict(orjson.loads(row["document"])))
        if any(rm.subscribes(name) for name in ACCESS_EVENTS):
            rules[row["bucket"]] = rm
    remote = [
        (r["bucket"], frozenset(orjson.loads(r["events"])), r["pattern"])
        for r in tx.all("SELECT bucket, events, pattern FROM notify_listeners WHERE expires_us > ?", (now_us,))
    ]
    return generation, rules, remote


def _upsert_listener(tx: Tx, listener: Listener, expires_us: int) -> None:
    tx.execute("DELETE FROM notify_listeners WHERE id = ?", (listener.id,))
    tx.execute(
        "INSERT INTO notify_listeners (id, bucket, events, pattern, expires_us) VALUES (?, ?, ?, ?, ?)",
        (
            listener.id,
            listener.bucket,
            orjson.dumps(sorted(listener.events)).decode(),
            listener.pattern,
            expires_us,
        ),
    )


def _register_listener(tx: Tx, listener: Listener, expires_us: int) -> None:
    _upsert_listener(tx, listener, expires_us)
    subscriptions_generation.bump(tx)


def _delete_listener(tx: Tx, listener_id: str) -> None:
    tx.execute("DELETE FROM notify_listeners WHERE id = ?", (listener_id,))
    subscriptions_generation.bump(tx)


def single_names(names: Iterable[str]) -> frozenset[str]:
    return frozenset(single for name in names for single in expand(name))

"""Everything a handler may use: the event store, the committer, the blob store, settings."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import anyio

from projections.blobstore import BlobStore
from projections.committer import GroupCommitter
from projections.eventstore import Change, ChronicleApplication
from projections.tx import Tx

T = TypeVar("T")


@dataclass
class Settings:
    root_user: str
    root_password: str
    region: str = "us-east-1"
    domain: str | None = None
    max_header_bytes: int = 8 * 1024
    extra: dict[str, Any] = field(default_factory=dict)


class ServerContext:
    def __init__(
        self,
        store: ChronicleApplication,
        blobs: BlobStore,
        settings: Settings,
        master_key: bytes,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from api.identity import IdentityStore
        from api.sealing import Sealer

        self.store = store
        self.blobs = blobs
        self.settings = settings
        self.sealer = Sealer(master_key)
        self.clock = clock
        self.committer = GroupCommitter(store)
        self._limiter = anyio.CapacityLimiter(32)
        self.identities = IdentityStore(self)
        from api.authz import PolicyCache

        self.policies = PolicyCache()

    def check_master_key(self) -> None:
        """Record the key's check value on first start; refuse a different key afterwards."""
        value = self.sealer.check_value()
        with self.store.store.datastore.transaction(commit=True) as cursor:
            tx = Tx(cursor, self.store.store.dialect)
            stored = tx.scalar("SELECT value FROM chronicle_settings WHERE name = 'master-key-check'")
            if stored is None:
                tx.execute("INSERT INTO chronicle_settings (name, value) VALUES ('master-key-check', ?) ON CONFLICT (name) DO NOTHING", (value,))
            elif stored != value:
                raise SystemExit(
                    "CHRONICLE_MASTER_KEY does not match the key this database was set up with: "
                    "start every node with the same key."
                )

    def read_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self.store.store.read() as cursor:
            return fn(Tx(cursor, self.store.store.dialect), *args, **kwargs)

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a query view off the event loop, in a read-only transaction."""
        call = partial(self.read_sync, fn, *args, **kwargs)
        return await anyio.to_thread.run_sync(call, limiter=self._limiter)

    async def commit(self, change: Change) -> Change:
        return await self.committer.commit(change)

    def close(self) -> None:
        self.committer.close()
        self.store.close()

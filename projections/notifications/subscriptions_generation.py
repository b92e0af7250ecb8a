"""The subscriptions generation: a counter that moves, in the same transaction, with
every change to who may want reads recorded as s3:ObjectAccessed events — a bucket's
notification rules set, removed, or gone with their bucket, and a listen API listener
registered or leaving.

Each node caches the rules and listeners (api/notify/subscriptions.py). A GET or HEAD
reads the counter in the statement that reads its bucket and version
(``GENERATION_COLUMN``); when it is ahead of the cache, the node reads the subscriptions
again before deciding, so a read that follows a change on any node is recorded, and reads
cost nothing more while nothing changes.

Not a projection: like ``notify_listeners`` it is operational state that replay leaves
alone (replaying rule changes only moves it on, which is harmless). Created by
migrations/versions/0009_subscriptions_generation.py.
"""

from __future__ import annotations

from projections.eventstore.tx import Tx

TABLE = "notify_subscriptions_generation"
GENERATION_COLUMN = f"(SELECT gen FROM {TABLE} WHERE id = 1) AS n_gen"


def bump(tx: Tx) -> None:
    tx.execute(f"INSERT INTO {TABLE} (id, gen) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET gen = {TABLE}.gen + 1")


def read(tx: Tx) -> int:
    return int(tx.scalar(f"SELECT gen FROM {TABLE} WHERE id = 1") or 0)

"""Where the chain lives: one link per event (`chain_links`), signed checkpoints of the head
(`chain_checkpoints`) and the signing keys (`chain_keys`, the private key sealed with the
master key). They sit beside the event table and are not projections: `chronicle replay`
never drops them, because recomputing them from the events would bless whatever was edited.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

from domain.chain import Checkpoint, StoredEvent
from projections.eventstore.tx import Tx

CHAIN_TABLES = ("chain_links", "chain_checkpoints", "chain_keys")


def last_link(tx: Tx) -> tuple[int, bytes] | None:
    row = tx.one("SELECT position, link FROM chain_links ORDER BY position DESC LIMIT 1")
    return None if row is None else (int(row["position"]), bytes(row["link"]))


def link_before(tx: Tx, position: int) -> tuple[int, bytes] | None:
    row = tx.one(
        "SELECT position, link FROM chain_links WHERE position < ? ORDER BY position DESC LIMIT 1", (position,)
    )
    return None if row is None else (int(row["position"]), bytes(row["link"]))


def links_page(tx: Tx, after: int, limit: int) -> list[tuple[int, bytes]]:
    rows = tx.all("SELECT position, link FROM chain_links WHERE position > ? ORDER BY position LIMIT ?", (after, limit))
    return [(int(r["position"]), bytes(r["link"])) for r in rows]


def insert_links(tx: Tx, links: list[tuple[int, bytes]]) -> None:
    for i in range(0, len(links), 500):
        chunk = links[i : i + 500]
        marks = ", ".join(["(?, ?)"] * len(chunk))
        tx.execute(f"INSERT INTO chain_links (position, link) VALUES {marks}", [v for pair in chunk for v in pair])


def events_page(store: Any, tx: Tx, after: int, limit: int) -> list[StoredEvent]:
    """Events after position `after`, in log order, as stored."""
    rows = tx.all(store.events_page_sql(), (after + 1, limit))
    return [stored_event(r) for r in rows]


def stored_event(row: dict[str, Any]) -> StoredEvent:
    originator_id = row["originator_id"]
    state = row["state"]
    if isinstance(state, str):  # SQLite keeps whatever type was written: an edit may leave text
        state = state.encode()
    return StoredEvent(
        position=int(row["notification_id"]),
        originator_id=originator_id if isinstance(originator_id, UUID) else UUID(str(originator_id)),
        originator_version=int(row["originator_version"]),
        topic=str(row["topic"]),
        state=bytes(state),
    )


def head_position(store: Any, tx: Tx) -> int:
    return int(tx.scalar(store.head_sql()) or 0)


def checkpoints(tx: Tx) -> Iterator[Checkpoint]:
    for row in tx.all("SELECT position, link, time_us, signature, key_id FROM chain_checkpoints ORDER BY position"):
        yield _checkpoint(row)


def last_checkpoint(tx: Tx) -> Checkpoint | None:
    row = tx.one(
        "SELECT position, link, time_us, signature, key_id FROM chain_checkpoints ORDER BY position DESC LIMIT 1"
    )
    return None if row is None else _checkpoint(row)


def insert_checkpoint(tx: Tx, cp: Checkpoint) -> None:
    tx.execute(
        "INSERT INTO chain_checkpoints (position, link, time_us, signature, key_id, published_us) "
        "VALUES (?, ?, ?, ?, ?, NULL)",
        (cp.position, cp.link, cp.time_us, cp.signature, cp.key_id),
    )


def unpublished_checkpoints(tx: Tx) -> list[Checkpoint]:
    rows = tx.all(
        "SELECT position, link, time_us, signature, key_id FROM chain_checkpoints "
        "WHERE published_us IS NULL ORDER BY position"
    )
    return [_checkpoint(r) for r in rows]


def mark_published(tx: Tx, position: int, when_us: int) -> None:
    tx.execute("UPDATE chain_checkpoints SET published_us = ? WHERE position = ?", (when_us, position))


def _checkpoint(row: dict[str, Any]) -> Checkpoint:
    return Checkpoint(
        position=int(row["position"]),
        link=bytes(row["link"]),
        time_us=int(row["time_us"]),
        signature=bytes(row["signature"]),
        key_id=str(row["key_id"]),
    )


def public_keys(tx: Tx) -> dict[str, bytes]:
    return {str(r["id"]): bytes(r["public_key"]) for r in tx.all("SELECT id, public_key FROM chain_keys")}

"""Durable named subscriptions: the position each consumer has committed. A consumer commits
what it has processed (at-least-once), and a reconnect — after a disconnect, a restart, a
fail-over to another node — resumes right after it. Not a projection: replay keeps it."""

from __future__ import annotations

import re
import time

from projections.eventstore.tx import Tx

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


class BadConsumerName(ValueError):
    pass


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise BadConsumerName(
            f"consumer name {name!r}: use 1-128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit"
        )
    return name


def committed(tx: Tx, name: str) -> int | None:
    """The position `name` committed last, or None for a consumer never seen."""
    value = tx.scalar("SELECT position FROM event_consumers WHERE name = ?", (name,))
    return None if value is None else int(value)


def commit(tx: Tx, name: str, position: int) -> None:
    """Record that `name` has processed everything up to `position`. A commit never moves a
    consumer back (a late commit from a connection that was replaced must not undo a newer one)."""
    now_us = int(time.time() * 1_000_000)
    tx.execute(
        "INSERT INTO event_consumers (name, position, committed_us) VALUES (?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET position = excluded.position, committed_us = excluded.committed_us "
        "WHERE event_consumers.position < excluded.position",
        (name, position, now_us),
    )


def owner(tx: Tx, name: str) -> str | None:
    """Whose consumer `name` is (a user name; '' for the command line's), None if none exists."""
    value = tx.scalar("SELECT owner FROM event_consumers WHERE name = ?", (name,))
    return None if value is None else str(value)


def start(tx: Tx, name: str, position: int, owner: str = "") -> None:
    """Create `name` at `position` (it starts after it); an existing consumer is left as it is."""
    tx.execute(
        "INSERT INTO event_consumers (name, position, committed_us, owner) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (name) DO NOTHING",
        (name, position, int(time.time() * 1_000_000), owner),
    )


def reset(tx: Tx, name: str, position: int, owner: str = "") -> None:
    """Move `name` to `position`, back or forward: an operator's explicit choice."""
    tx.execute("DELETE FROM event_consumers WHERE name = ?", (name,))
    start(tx, name, position, owner)

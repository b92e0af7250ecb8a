"""How the audit index tells its readers that it grew: after each committed page the indexer
NOTIFYs INDEXED_CHANNEL (PostgreSQL: any process, any node, hears it) and calls this process's
listeners (SQLite, where the one server process runs the indexer, and PostgreSQL's leader
process, without a round trip). A wake-up only says "look again": readers ask the index how
far it reaches, so a listener of another store in the same process costs one look, no error."""

from __future__ import annotations

import threading
from collections.abc import Callable

INDEXED_CHANNEL = "chronicle_audit_indexed"


class IndexProgress:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def add(self, listener: Callable[[], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove(self, listener: Callable[[], None]) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def announce(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()


INDEX_PROGRESS = IndexProgress()

"""The event store out of reach (PostgreSQL down, restarting, out of connections, a lock
wait timed out): the API answers 503 SlowDown with Retry-After, so clients back off and
try again, and the log gets one warning per outage instead of a traceback per request."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

import psycopg
from eventsourcing.persistence import ConnectionUnavailableError

log = logging.getLogger("chronicle.store")

RETRY_AFTER = 1  # seconds a client is asked to wait before trying again
# An outage is over once something succeeds this long after the last failure: a request
# that needs no database may succeed in the middle of one, while the background loops
# (notification follower, node lock) fail about once a second for as long as it lasts.
QUIET = 5.0


def is_unavailable(exc: BaseException) -> bool:
    """True when exc (or what caused it) says the store cannot be used right now, as
    opposed to a fault of the request or of the code. psycopg's OperationalError covers
    refused and broken connections, pool timeouts (psycopg_pool.PoolTimeout), server
    shutdown and start-up, too many clients, lock and statement timeouts; eventsourcing
    wraps them with the original as __cause__."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (psycopg.OperationalError, psycopg.InterfaceError, ConnectionUnavailableError)):
            return True
        if isinstance(current, sqlite3.OperationalError) and "locked" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class Outage:
    """Says once that the store is out of reach, and once that it is back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._since: float | None = None
        self._last = 0.0
        self._failures = 0

    @property
    def active(self) -> bool:
        return self._since is not None

    def failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            first = self._since is None
            if first:
                self._since = now
            self._last = now
            self._failures += 1
        if first:
            log.warning(
                "the event store is out of reach (%s): requests are answered 503 SlowDown and "
                "notifications wait until it is back",
                first_line(exc),
            )

    def succeeded(self) -> None:
        if self._since is None:
            return
        now = time.monotonic()
        with self._lock:
            since = self._since
            if since is None or now - self._last < QUIET:
                return
            failures, self._since, self._failures = self._failures, None, 0
        log.warning("the event store is back after %.1f s (%d failures meanwhile)", now - since, failures)


# One per process: the API's requests and the background loops share it.
STORE_OUTAGE = Outage()

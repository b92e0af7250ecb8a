"""How long a connection may take to send a request head, stay idle, and how many one
process serves at once (CHRONICLE_HEADER_TIMEOUT, CHRONICLE_IDLE_TIMEOUT,
CHRONICLE_MAX_CONNECTIONS).

The timeouts default to MinIO's (its `--read-header-timeout` and `--idle-timeout`, both
30 s): a client's request head is a few kilobytes signed before it is sent, so even a slow
link delivers it in well under a second, and 30 s leaves room for a stalled network without
letting a client that trickles a byte every few seconds hold a connection for ever.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_MAX_CONNECTIONS = 1024
DEFAULT_HEADER_TIMEOUT = 30.0
DEFAULT_IDLE_TIMEOUT = 30.0


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    max_connections_chosen: bool = False  # set in the environment, not the default

    @property
    def overflow(self) -> int:
        """Connections beyond the cap still answered (503 SlowDown) before any is closed
        unanswered: a burst over the cap gets told to back off, yet the descriptors one
        process holds stay bounded."""
        return max(16, self.max_connections // 16)

    @property
    def descriptors(self) -> int:
        """File descriptors the connections may take at most."""
        return self.max_connections + self.overflow

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ConnectionLimits:
        """Raises ValueError with a message naming the variable when one is malformed."""
        chosen = environ.get("CHRONICLE_MAX_CONNECTIONS", "").strip()
        return cls(
            max_connections=_positive_int(environ, "CHRONICLE_MAX_CONNECTIONS", DEFAULT_MAX_CONNECTIONS),
            header_timeout=_positive_seconds(environ, "CHRONICLE_HEADER_TIMEOUT", DEFAULT_HEADER_TIMEOUT),
            idle_timeout=_positive_seconds(environ, "CHRONICLE_IDLE_TIMEOUT", DEFAULT_IDLE_TIMEOUT),
            max_connections_chosen=bool(chosen),
        )

    def with_max_connections(self, count: int) -> ConnectionLimits:
        return ConnectionLimits(count, self.header_timeout, self.idle_timeout, self.max_connections_chosen)


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    text = environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{name}={text!r}: give a whole number of connections, at least 1 (default {default})")
    return int(text)


def _positive_seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{name}={text!r}: give a number of seconds greater than 0 (default {default:g})")
    return value

"""How Chronicle's PostgreSQL sessions show in pg_stat_activity (application_name), so an
operator can tell them apart from other clients and from each other."""

from __future__ import annotations

import os
import socket

# PostgreSQL keeps the first NAMEDATALEN-1 bytes of application_name.
_LIMIT = 63


def session_name(role: str, where: str = "") -> str:
    """`chronicle-<role> <where> pid=<pid>`: where is the node's listening address (API
    nodes) or the host name (workers, command-line tools)."""
    tail = f" pid={os.getpid()}"
    head = f"chronicle-{role}"
    where = where or socket.gethostname()
    room = _LIMIT - len(head) - len(tail) - 1
    if room > 0:
        head = f"{head} {where[:room]}"
    # Only printable ASCII reaches the server unaltered.
    return "".join(c if " " <= c <= "~" else "?" for c in head + tail)

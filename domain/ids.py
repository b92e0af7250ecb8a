"""Random (version 4) UUIDs from a buffer of OS randomness.

uuid.uuid4() makes one getrandom call per id, which releases and retakes the GIL: on a busy
server each id then waits behind other threads. One call per 256 ids avoids that; the bytes
are the same quality (os.urandom)."""

from __future__ import annotations

import os
import threading
from uuid import UUID

_CHUNK = 16 * 256


class _Buffer(threading.local):
    data = b""
    pos = 0


_buffer = _Buffer()


def _forget() -> None:
    # A forked child must never hand out the ids its parent's buffer still holds.
    global _buffer
    _buffer = _Buffer()


os.register_at_fork(after_in_child=_forget)


def random_uuid() -> UUID:
    buf = _buffer
    pos = buf.pos
    if pos >= len(buf.data):
        buf.data = os.urandom(_CHUNK)
        pos = 0
    buf.pos = pos + 16
    return UUID(bytes=buf.data[pos : pos + 16], version=4)

"""Random (version 4) UUIDs from a buffer of OS randomness.

uuid.uuid4() makes one getrandom call per id, which releases and retakes the GIL: on a busy
server each id then waits behind other threads. One call per 256 ids avoids that; the bytes
are the same quality (os.urandom)."""

from __future__ import annotations

import os
import threading
from uuid import UUID, SafeUUID

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


def _take16() -> bytes:
    buf = _buffer
    pos = buf.pos
    if pos >= len(buf.data):
        buf.data = os.urandom(_CHUNK)
        pos = 0
    buf.pos = pos + 16
    return buf.data[pos : pos + 16]


_new = object.__new__
_set = object.__setattr__
# UUID(bytes=..., version=4) without its argument checks: variant RFC 4122, version 4.
_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_MARK = (0x8000 << 48) | (4 << 76)


def random_uuid() -> UUID:
    value = (int.from_bytes(_take16(), "big") & _CLEAR) | _MARK
    u = _new(UUID)
    _set(u, "int", value)
    _set(u, "is_safe", SafeUUID.unknown)
    return u


def random_hex() -> str:
    """32 random hex digits (an id that need not be a UUID)."""
    return _take16().hex()

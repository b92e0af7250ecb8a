"""The hash chain over the log (DESIGN invariant 9): each event's link is a SHA-256 over the
link before it and the event's stored form, so editing, removing, inserting or reordering a
stored event changes its link and every link after it.

The stored form is what the event store holds for the event, encoded without ambiguity:
position, originator id, originator version, topic and state (the event's fields, its
timestamp among them, exactly as stored), variable-length parts length-prefixed. Nothing is
taken from a decoded event, so a chain can be checked without the code that wrote the log.

A checkpoint is a signed statement "the chain reached LINK at POSITION at TIME"; its message
is fixed here so that anyone holding the public key can check a published checkpoint.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from uuid import UUID

GENESIS = bytes(32)  # the link "before" the first event
_HEAD = struct.Struct(">Q16sQ")  # position, originator id, originator version
_LEN = struct.Struct(">I")
_CHECKPOINT = struct.Struct(">QQ")  # position, time (microseconds since the epoch)
CHECKPOINT_DOMAIN = b"chronicle-chain-checkpoint-v1\x00"


@dataclass(frozen=True, slots=True)
class StoredEvent:
    position: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


def link(previous: bytes, event: StoredEvent) -> bytes:
    """The link of `event`, following `previous` (GENESIS for the first event)."""
    topic = event.topic.encode()
    h = hashlib.sha256(previous)
    h.update(_HEAD.pack(event.position, event.originator_id.bytes, event.originator_version))
    h.update(_LEN.pack(len(topic)))
    h.update(topic)
    h.update(_LEN.pack(len(event.state)))
    h.update(event.state)
    return h.digest()


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The chain's head at a position, as signed."""

    position: int
    link: bytes
    time_us: int
    signature: bytes = b""
    key_id: str = ""

    def message(self) -> bytes:
        """The bytes the signature covers."""
        return CHECKPOINT_DOMAIN + _CHECKPOINT.pack(self.position, self.time_us) + self.link

    def to_json(self) -> dict[str, object]:
        return {
            "position": self.position,
            "link": self.link.hex(),
            "time_us": self.time_us,
            "signature": self.signature.hex(),
            "key_id": self.key_id,
        }

    @classmethod
    def from_json(cls, doc: dict[str, object]) -> Checkpoint:
        return cls(
            position=int(doc["position"]),  # type: ignore[call-overload]
            link=bytes.fromhex(str(doc["link"])),
            time_us=int(doc["time_us"]),  # type: ignore[call-overload]
            signature=bytes.fromhex(str(doc.get("signature", ""))),
            key_id=str(doc.get("key_id", "")),
        )


def key_id(public_key: bytes) -> str:
    """A short, stable name for a signing key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(public_key).hexdigest()[:16]

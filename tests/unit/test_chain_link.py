"""The chain's link and checkpoint encodings are pinned: every chain already written depends
on them, so a change here is a change of format (a new CHECKPOINT_DOMAIN and a migration),
never a refactoring."""

from __future__ import annotations

import hashlib
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from domain.chain import GENESIS, Checkpoint, StoredEvent, link
from projections.chain.keys import SigningKey, signature_valid

FIRST = StoredEvent(
    1, UUID("12345678-1234-5678-1234-567812345678"), 1, "chronicle.Bucket.Created", b'{"name":"photos"}'
)
SECOND = StoredEvent(
    2, UUID("12345678-1234-5678-1234-567812345679"), 3, "chronicle.ObjectVersion.Created", b"\x00\x01state"
)


def test_links_are_pinned():
    first = link(GENESIS, FIRST)
    assert first.hex() == "48568d994bac099157d5483648024c9ccb8ab97c843e14719237aa0ce909b434"
    assert link(first, SECOND).hex() == "db3ced289667e11260b33f6b4eb85ca0ad728d190763654dbcaa90f9079a27bb"


def test_the_link_is_sha256_over_the_previous_link_and_the_stored_form():
    expected = hashlib.sha256(
        GENESIS
        + (1).to_bytes(8, "big")
        + FIRST.originator_id.bytes
        + (1).to_bytes(8, "big")
        + len(FIRST.topic).to_bytes(4, "big")
        + FIRST.topic.encode()
        + len(FIRST.state).to_bytes(4, "big")
        + FIRST.state
    ).digest()
    assert link(GENESIS, FIRST) == expected


def test_every_part_of_the_stored_form_changes_the_link():
    base = link(GENESIS, SECOND)
    variants = [
        StoredEvent(3, SECOND.originator_id, 3, SECOND.topic, SECOND.state),
        StoredEvent(2, UUID(int=SECOND.originator_id.int + 1), 3, SECOND.topic, SECOND.state),
        StoredEvent(2, SECOND.originator_id, 4, SECOND.topic, SECOND.state),
        StoredEvent(2, SECOND.originator_id, 3, SECOND.topic + "x", SECOND.state),
        StoredEvent(2, SECOND.originator_id, 3, SECOND.topic, SECOND.state + b"x"),
    ]
    assert all(link(GENESIS, v) != base for v in variants)
    assert link(b"\x01" * 32, SECOND) != base
    # Length prefixes: moving a byte from the topic to the state is a different event.
    assert link(GENESIS, StoredEvent(2, SECOND.originator_id, 3, "ab", b"c")) != link(
        GENESIS, StoredEvent(2, SECOND.originator_id, 3, "a", b"bc")
    )


def test_checkpoint_message_is_pinned_and_signatures_verify():
    cp = Checkpoint(
        2, bytes.fromhex("db3ced289667e11260b33f6b4eb85ca0ad728d190763654dbcaa90f9079a27bb"), 1796679280063590
    )
    assert cp.message().hex() == (
        "6368726f6e69636c652d636861696e2d636865636b706f696e742d7631000000000000000002"
        "00066211fe437466db3ced289667e11260b33f6b4eb85ca0ad728d190763654dbcaa90f9079a27bb"
    )
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes_raw()
    signed = SigningKey(private, public, "k").sign(cp.position, cp.link, cp.time_us)
    assert signature_valid(signed, public)
    forged = Checkpoint(signed.position, b"\x00" * 32, signed.time_us, signed.signature, signed.key_id)
    assert not signature_valid(forged, public)
    assert Checkpoint.from_json(signed.to_json()) == signed

"""The chain's signing key: an Ed25519 key pair made once per deployment by the first node
that needs it. The private key is stored sealed with the master key (`chain_keys`), so the
database alone cannot sign; the public key is stored in the clear for anyone to check with.
In embedded mode the master key sits in the data dir beside the database: whoever can read
both can sign, which is why checkpoints are also published outside (projections.chain.publish).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from domain.chain import Checkpoint, key_id
from projections.eventstore.tx import Tx

Seal = Callable[[str, str], str]  # (plaintext, context) -> sealed text


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey
    public_raw: bytes
    id: str

    def sign(self, position: int, link: bytes, time_us: int) -> Checkpoint:
        unsigned = Checkpoint(position=position, link=link, time_us=time_us, key_id=self.id)
        return Checkpoint(position, link, time_us, self.private.sign(unsigned.message()), self.id)

    def public_pem(self) -> str:
        return public_pem(self.public_raw)


def public_pem(public_raw: bytes) -> str:
    return (
        Ed25519PublicKey.from_public_bytes(public_raw)
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def signature_valid(cp: Checkpoint, public_raw: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(cp.signature, cp.message())
    except (InvalidSignature, ValueError):
        return False
    return True


def load_or_create(tx: Tx, seal: Seal, unseal: Seal) -> SigningKey:
    """The deployment's signing key (the oldest one, should two nodes have made one at once),
    made and stored sealed when there is none."""
    row = _oldest(tx)
    if row is None:
        private = Ed25519PrivateKey.generate()
        public_raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        kid = key_id(public_raw)
        private_hex = private.private_bytes_raw().hex()
        tx.execute(
            "INSERT INTO chain_keys (id, public_key, sealed_private_key, created_us) VALUES (?, ?, ?, ?)",
            (kid, public_raw, seal(private_hex, _context(kid)), int(time.time() * 1_000_000)),
        )
        row = _oldest(tx)
        assert row is not None
    kid, public_raw = str(row["id"]), bytes(row["public_key"])
    private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(unseal(str(row["sealed_private_key"]), _context(kid))))
    if private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw) != public_raw:
        raise ValueError(f"chain signing key {kid}: the sealed private key does not match its public key")
    return SigningKey(private, public_raw, kid)


def current_public_key(tx: Tx) -> tuple[str, bytes] | None:
    row = _oldest(tx)
    return None if row is None else (str(row["id"]), bytes(row["public_key"]))


def _oldest(tx: Tx) -> dict[str, Any] | None:
    return tx.one("SELECT id, public_key, sealed_private_key FROM chain_keys ORDER BY created_us, id LIMIT 1")


def _context(kid: str) -> str:
    return f"chain-signing-key:{kid}"

"""Secrets are sealed (AES-GCM under the master key) at the api boundary, before they enter a
command: events and tables only ever hold ciphertext. The associated data binds a sealed
secret to the key it belongs to, so one cannot be swapped for another."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class Sealer:
    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise ValueError("the master key must be 32 bytes")
        self._aead = AESGCM(master_key)
        self._key = master_key

    def seal(self, plaintext: str, context: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = nonce + self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        return base64.b64encode(sealed).decode()

    def unseal(self, sealed: str, context: str) -> str:
        raw = base64.b64decode(sealed)
        try:
            return self._aead.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except InvalidTag as exc:
            raise ValueError("sealed secret does not open with this master key") from exc

    def check_value(self) -> str:
        """A fingerprint of the key, stored in the database so that a node started with a
        different key refuses to start instead of failing every request."""
        return hmac.new(self._key, b"chronicle key check", hashlib.sha256).hexdigest()[:32]

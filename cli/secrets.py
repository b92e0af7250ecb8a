"""Root credentials and the master key for the embedded mode, kept in the data dir.

The master key file is created once (0600). Generated root credentials are sealed with it
(AES-GCM) so the secret never sits in plaintext on disk; they are printed at first start only.
"""

from __future__ import annotations

import base64
import os
import secrets
import sys
from pathlib import Path

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_FILE = "master.key"
ROOT_FILE = "root-credentials.sealed"


def master_key(data_dir: Path) -> bytes:
    env = os.environ.get("CHRONICLE_MASTER_KEY")
    if env:
        try:
            key = bytes.fromhex(env)
        except ValueError:
            key = base64.b64decode(env)
        if len(key) != 32:
            raise SystemExit("CHRONICLE_MASTER_KEY must be 32 bytes (64 hex characters or base64)")
        return key
    path = data_dir / KEY_FILE
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex())
    return key


def seal(key: bytes, plaintext: bytes, context: bytes) -> bytes:
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context)


def unseal(key: bytes, sealed: bytes, context: bytes) -> bytes:
    return AESGCM(key).decrypt(sealed[:12], sealed[12:], context)


def root_credentials(data_dir: Path, *, embedded: bool) -> tuple[str, str]:
    user = os.environ.get("CHRONICLE_ROOT_USER")
    password = os.environ.get("CHRONICLE_ROOT_PASSWORD")
    if user and password:
        if len(password) < 8:
            raise SystemExit("CHRONICLE_ROOT_PASSWORD must be at least 8 characters")
        return user, password
    if not embedded:
        raise SystemExit(
            "CHRONICLE_ROOT_USER and CHRONICLE_ROOT_PASSWORD are required with PostgreSQL, so that "
            "every node agrees on them. Set both and start again."
        )
    key = master_key(data_dir)
    path = data_dir / ROOT_FILE
    if path.exists():
        doc = orjson.loads(unseal(key, path.read_bytes(), b"root"))
        return doc["user"], doc["password"]
    user = "chronicle-" + secrets.token_hex(3)
    password = secrets.token_urlsafe(24)
    path.write_bytes(seal(key, orjson.dumps({"user": user, "password": password}), b"root"))
    os.chmod(path, 0o600)
    print(
        "Generated root credentials (shown once; set CHRONICLE_ROOT_USER / CHRONICLE_ROOT_PASSWORD "
        f"to choose your own):\n  access key: {user}\n  secret key: {password}",
        file=sys.stderr,
    )
    return user, password

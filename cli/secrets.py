"""Root credentials and the master key for the embedded mode, kept in the data dir.

The master key file is created once (0600). Generated root credentials are sealed with it
(AES-GCM) so the secret never sits in plaintext on disk; they are printed at first start only.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import sys
from pathlib import Path

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cli.config_errors import ConfigurationError
from cli.settings import ChronicleSettings

KEY_FILE = "master.key"
ROOT_FILE = "root-credentials.sealed"


def master_key(data_dir: Path, configured: str = "", *, create: bool = False) -> bytes:
    """CONFIGURED (CHRONICLE_MASTER_KEY), else the data dir's key file (made there when
    CREATE: only `serve` makes one; another command finding none was given the wrong data dir)."""
    if configured:
        return parse_master_key(configured)
    path = data_dir / KEY_FILE
    if path.exists():
        try:
            key = bytes.fromhex(path.read_text().strip())
        except (OSError, ValueError):
            key = b""
        if len(key) != 32:
            raise ConfigurationError(
                f"{path} does not hold a master key (64 hex characters): "
                "restore it from a backup, or set CHRONICLE_MASTER_KEY"
            )
        return key
    if not create:
        raise ConfigurationError(
            f"no master key: {path} does not exist and CHRONICLE_MASTER_KEY is unset: "
            "give the --data-dir the server uses, or set the key"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex())
    return key


def parse_master_key(text: str) -> bytes:
    """The 32 bytes of CHRONICLE_MASTER_KEY (64 hex characters, or base64)."""
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        try:
            key = base64.b64decode(text.strip(), validate=True)
        except binascii.Error:
            key = b""
    if len(key) != 32:
        raise ConfigurationError(
            "CHRONICLE_MASTER_KEY must be 32 bytes, written as 64 hex characters (openssl rand -hex 32) or base64"
        )
    return key


def seal(key: bytes, plaintext: bytes, context: bytes) -> bytes:
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context)


def unseal(key: bytes, sealed: bytes, context: bytes) -> bytes:
    return AESGCM(key).decrypt(sealed[:12], sealed[12:], context)


def root_credentials(settings: ChronicleSettings, data_dir: Path, *, embedded: bool) -> tuple[str, str]:
    user = settings.root_user
    password = settings.root_password
    if user and password:
        if len(password) < 8:
            raise ConfigurationError("CHRONICLE_ROOT_PASSWORD must be at least 8 characters")
        return user, password
    if not embedded:
        raise ConfigurationError(
            "CHRONICLE_ROOT_USER and CHRONICLE_ROOT_PASSWORD are required with PostgreSQL, so that "
            "every node agrees on them. Set both and start again."
        )
    key = master_key(data_dir, settings.master_key, create=True)
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

"""madmin's ``EncryptData`` / ``DecryptData`` payload format.

The MinIO admin API seals secrets (new users' secret keys, service-account
credentials, user listings, ...) with a format implemented by madmin-go's
``encrypt.go`` on top of secure-io/sio-go.  This module is an independent
implementation of that wire format.

Layout::

    salt (32) | AEAD id (1) | nonce (8) | sio stream

AEAD ids:

    0x00  key = argon2id(password, salt, t=1, m=64 MiB, p=4, len 32), AES-256-GCM
    0x01  key = argon2id(...) as above, ChaCha20-Poly1305
    0x02  key = PBKDF2-HMAC-SHA256(password, salt, 8192 rounds, len 32), AES-256-GCM (FIPS)

The sio stream (buffer size 16 KiB, AEAD tag 16 bytes, 12-byte AEAD nonce):

* the 12-byte nonce of fragment ``i`` is ``nonce(8) || uint32_le(i)``;
* the associated data of every fragment is ``flag || T`` where ``T`` is the tag
  the AEAD produces when sealing an empty plaintext under nonce
  ``nonce || uint32_le(0)`` with no associated data (madmin passes nil), and
  ``flag`` is 0x00 for every fragment but the last, 0x80 for the last;
* fragments are numbered from 1; every fragment but the last holds exactly
  16 KiB of plaintext, the last holds 0..16 KiB (an empty payload is one empty
  final fragment, i.e. a lone 16-byte tag; a payload of exactly 16 KiB is one
  full final fragment);
* the reader treats a ciphertext fragment as final when fewer than
  ``16 KiB + 16 + 1`` bytes remain, so any truncation or extension fails
  authentication.

The KDF costs about 0.1 s of CPU and 64 MiB of memory: call ``encrypt_async`` /
``decrypt_async`` from the event loop, which run the whole operation in a
small module-level thread pool.  Nothing (keys, passwords) is cached.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import struct
from concurrent.futures import ThreadPoolExecutor

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

__all__ = [
    "AEAD_ARGON2ID_AES_GCM",
    "AEAD_ARGON2ID_CHACHA20_POLY1305",
    "AEAD_PBKDF2_AES_GCM",
    "HEADER_LEN",
    "decrypt_async",
    "decrypt_data",
    "encrypt_async",
    "encrypt_data",
    "is_encrypted",
]

AEAD_ARGON2ID_AES_GCM = 0x00
AEAD_ARGON2ID_CHACHA20_POLY1305 = 0x01
AEAD_PBKDF2_AES_GCM = 0x02
_AEAD_IDS = (AEAD_ARGON2ID_AES_GCM, AEAD_ARGON2ID_CHACHA20_POLY1305, AEAD_PBKDF2_AES_GCM)

SALT_LEN = 32
NONCE_LEN = 8
HEADER_LEN = SALT_LEN + 1 + NONCE_LEN  # 41
BUF_SIZE = 16 * 1024  # sio.BufSize: plaintext bytes per fragment
TAG_LEN = 16
FRAGMENT_LEN = BUF_SIZE + TAG_LEN  # ciphertext bytes of a full fragment
_MAX_SEQ = 0xFFFFFFFF  # sio refuses to use the sequence number 2^32 - 1 and beyond

# madmin-go encrypt.go constants
ARGON2ID_TIME = 1
ARGON2ID_MEMORY_KIB = 64 * 1024
ARGON2ID_THREADS = 4
ARGON2_VERSION = 0x13  # golang.org/x/crypto/argon2 implements version 1.3
PBKDF2_ROUNDS = 8192
KEY_LEN = 32

# The KDF is CPU and memory hungry (64 MiB per call); madmin serialises it with a
# mutex. Two workers bound both the CPU and the memory it can take.
_EXECUTOR = ThreadPoolExecutor(max_workers=2, thread_name_prefix="madmin-kdf")


def _password_bytes(password: str | bytes) -> bytes:
    if isinstance(password, bytes):
        return password
    if not isinstance(password, str):
        raise TypeError("password must be str or bytes")
    return password.encode("utf-8")  # Go's []byte(string): the UTF-8 bytes


def _derive_key(aead_id: int, password: bytes, salt: bytes) -> bytes:
    if aead_id == AEAD_PBKDF2_AES_GCM:
        return hashlib.pbkdf2_hmac("sha256", password, salt, PBKDF2_ROUNDS, KEY_LEN)
    return hash_secret_raw(
        secret=password,
        salt=salt,
        time_cost=ARGON2ID_TIME,
        memory_cost=ARGON2ID_MEMORY_KIB,
        parallelism=ARGON2ID_THREADS,
        hash_len=KEY_LEN,
        type=Type.ID,
        version=ARGON2_VERSION,
    )


def _cipher(aead_id: int, key: bytes) -> AESGCM | ChaCha20Poly1305:
    if aead_id == AEAD_ARGON2ID_CHACHA20_POLY1305:
        return ChaCha20Poly1305(key)
    return AESGCM(key)


def _nonce(prefix: bytes, seq: int) -> bytes:
    return prefix + struct.pack("<I", seq)


def _stream_ad(cipher: AESGCM | ChaCha20Poly1305, prefix: bytes, associated_data: bytes | None) -> tuple[bytes, bytes]:
    """Associated data of (non-final, final) fragments: flag || Seal(nonce||0, "", ad)."""
    tag = cipher.encrypt(_nonce(prefix, 0), b"", associated_data or None)
    return b"\x00" + tag, b"\x80" + tag


def _seal_stream(
    cipher: AESGCM | ChaCha20Poly1305,
    prefix: bytes,
    data: bytes,
    *,
    buf_size: int = BUF_SIZE,
    associated_data: bytes | None = None,
) -> bytes:
    """sio-go ``EncWriter``: seal ``data`` as a fragment stream (no header)."""
    ad, ad_final = _stream_ad(cipher, prefix, associated_data)
    view = memoryview(data)
    out = []
    offset, seq = 0, 1
    while len(view) - offset > buf_size:
        if seq >= _MAX_SEQ:
            raise ValueError("payload too large for one sio stream")
        out.append(cipher.encrypt(_nonce(prefix, seq), view[offset : offset + buf_size], ad))
        offset += buf_size
        seq += 1
    out.append(cipher.encrypt(_nonce(prefix, seq), view[offset:], ad_final))
    return b"".join(out)


def _open_stream(
    cipher: AESGCM | ChaCha20Poly1305,
    prefix: bytes,
    body: bytes | memoryview,
    *,
    buf_size: int = BUF_SIZE,
    associated_data: bytes | None = None,
) -> bytes:
    """sio-go ``DecReader``: open a fragment stream; ``ValueError`` unless authentic."""
    body = memoryview(body)
    fragment_len = buf_size + TAG_LEN
    if len(body) < TAG_LEN:
        # The final fragment carries at least its tag.
        raise ValueError("madmin payload: data is not authentic")
    ad, ad_final = _stream_ad(cipher, prefix, associated_data)
    out = []
    offset, seq = 0, 1
    try:
        # A fragment is final when no more than one full fragment remains.
        while len(body) - offset > fragment_len:
            if seq >= _MAX_SEQ:
                raise ValueError("madmin payload: data limit exceeded")
            out.append(cipher.decrypt(_nonce(prefix, seq), body[offset : offset + fragment_len], ad))
            offset += fragment_len
            seq += 1
        out.append(cipher.decrypt(_nonce(prefix, seq), body[offset:], ad_final))
    except InvalidTag:
        raise ValueError("madmin payload: data is not authentic") from None
    return b"".join(out)


def is_encrypted(data: bytes) -> bool:
    """madmin's ``IsEncrypted``: longer than a salt and a known AEAD id at byte 32."""
    return len(data) > SALT_LEN and data[SALT_LEN] in _AEAD_IDS


def encrypt_data(password: str | bytes, data: bytes, *, aead: int = AEAD_ARGON2ID_AES_GCM) -> bytes:
    """Seal ``data`` the way madmin's ``EncryptData(password, data)`` does."""
    if aead not in _AEAD_IDS:
        raise ValueError(f"unknown madmin AEAD id {aead!r}")
    data = bytes(data)
    salt = os.urandom(SALT_LEN)
    prefix = os.urandom(NONCE_LEN)
    cipher = _cipher(aead, _derive_key(aead, _password_bytes(password), salt))
    return b"".join((salt, bytes([aead]), prefix, _seal_stream(cipher, prefix, data)))


def decrypt_data(password: str | bytes, payload: bytes) -> bytes:
    """Open a madmin ``EncryptData`` payload.

    Raises ``ValueError`` for a short header, an unknown AEAD id, a wrong
    password, or any modified, truncated or extended ciphertext.
    """
    payload = bytes(payload)
    if len(payload) < HEADER_LEN:
        raise ValueError("madmin payload: unexpected header")
    salt = payload[:SALT_LEN]
    aead = payload[SALT_LEN]
    prefix = payload[SALT_LEN + 1 : HEADER_LEN]
    if aead not in _AEAD_IDS:
        raise ValueError("madmin payload: invalid encryption algorithm ID")
    body = memoryview(payload)[HEADER_LEN:]
    if len(body) < TAG_LEN:
        raise ValueError("madmin payload: data is not authentic")  # before the costly KDF
    cipher = _cipher(aead, _derive_key(aead, _password_bytes(password), salt))
    return _open_stream(cipher, prefix, body)


async def encrypt_async(password: str | bytes, data: bytes, *, aead: int = AEAD_ARGON2ID_AES_GCM) -> bytes:
    """``encrypt_data`` run in the bounded KDF pool, off the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_EXECUTOR, functools.partial(encrypt_data, password, data, aead=aead))


async def decrypt_async(password: str | bytes, payload: bytes) -> bytes:
    """``decrypt_data`` run in the bounded KDF pool, off the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_EXECUTOR, functools.partial(decrypt_data, password, payload))

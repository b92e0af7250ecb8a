"""madmin EncryptData / DecryptData: round trips, Go-generated vectors, minio-py interop, tampering."""

from __future__ import annotations

import asyncio
import io
import os
import threading

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from minio import crypto as minio_crypto

from api.admin import madmin_crypto as mc
from api.admin.madmin_crypto import (
    AEAD_ARGON2ID_AES_GCM,
    AEAD_ARGON2ID_CHACHA20_POLY1305,
    AEAD_PBKDF2_AES_GCM,
    HEADER_LEN,
    decrypt_async,
    decrypt_data,
    encrypt_async,
    encrypt_data,
    is_encrypted,
)

PASSWORD = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
KIB = 1024
SIZES = [0, 1, 16 * KIB - 1, 16 * KIB, 16 * KIB + 1, 100 * KIB]
ALL_AEADS = [AEAD_ARGON2ID_AES_GCM, AEAD_ARGON2ID_CHACHA20_POLY1305, AEAD_PBKDF2_AES_GCM]


class _Response(io.BytesIO):
    """What minio.crypto.decrypt reads from: a urllib3 response's read/close/release_conn."""

    def release_conn(self) -> None:
        pass


def _minio_decrypt(payload: bytes, password: str) -> bytes:
    return minio_crypto.decrypt(_Response(payload), password)


def _expected_len(n: int) -> int:
    fragments = max(1, -(-n // (16 * KIB)))
    return HEADER_LEN + n + 16 * fragments


@pytest.mark.parametrize("aead", ALL_AEADS)
@pytest.mark.parametrize("size", SIZES)
def test_round_trip(aead: int, size: int) -> None:
    data = os.urandom(size)
    sealed = encrypt_data(PASSWORD, data, aead=aead)
    assert sealed[32] == aead
    assert len(sealed) == _expected_len(size)
    assert is_encrypted(sealed)
    assert decrypt_data(PASSWORD, sealed) == data


def test_unicode_password_is_utf8() -> None:
    sealed = encrypt_data("pässwörd🔑", b"x")
    assert decrypt_data("pässwörd🔑".encode(), sealed) == b"x"


def test_fresh_salt_and_nonce_every_time() -> None:
    a = encrypt_data(PASSWORD, b"same", aead=AEAD_PBKDF2_AES_GCM)
    b = encrypt_data(PASSWORD, b"same", aead=AEAD_PBKDF2_AES_GCM)
    assert a[:32] != b[:32] and a[33:41] != b[33:41] and a != b


# --- vectors produced by Go ---------------------------------------------------------------


def test_madmin_go_vector() -> None:
    # A ciphertext produced by madmin-go's EncryptData (its encrypt_test.go): 32 zero bytes.
    sealed = bytes.fromhex(
        "b5c016e93b84b473fc8a37af94936563630c36d6df1841d23a86ee51ca161f9e00ac19116b32f643ff6a56a2"
        "12b265d8c56195bb0d12ce199e13dfdc5272f80c1564da2c6fc2fa18da91d8062de02af5cdafea491c6f3cae1f"
    )
    assert decrypt_data('xPl.8/rhR"Q_1xLt', sealed) == bytes(32)
    with pytest.raises(ValueError):
        decrypt_data("xPl.8/rhR", sealed)


# secure-io/sio-go test_vectors.json (MIT): streams with a tiny buffer, so several fragments.
SIO_VECTORS = [
    # (buf_size, key, nonce, associated data, plaintext, ciphertext)
    (
        16,
        "10000000000000000000000000000000",
        "0000000000000002",
        "",
        "00" * 17,
        "691deb7b9ccbee91f48d12c7ad5fe3cd4e1e5e7d394f06b91228ec9a5dd2456ac7de9502a0b4010fb1ee1db94e940458fb",
    ),
    (
        16,
        "000102030405060708090a0b0c0d0e0f",
        "0001020304050607",
        "0102030405060708090a0b0c0d0e0f10",
        "00" * 32,
        "beffe57efbdadb693b5545d58454ba746c5362c6f37b65da457d85bfe6af8972"
        "cfea267b03f14aedf25e7501e88c0d79f5440d0ac49e5c4fdaab4dfac9aec4d3",
    ),
    (
        17,
        "31dd758d120fd5d30063921a21f723be",
        "d3794fe387018e32",
        "1d838b6e861ea7576de110e08818de82a27337a99db7b95aa95c3347971ad4cfa0ef0960d6645f5a64f88c7d",
        "d0ae0d85e93ed6be853ded2031643116a03215b4fda224d2986d7233039aa47e91b686f4",
        "a6fe911b94e0b25a25bf6da71f28ad6a6b6920be01589e9194226f77c164606545d5cbdb76c99415b468c545"
        "17f5a8bc8dc8ac13b1b4285fe36f37f7884d5e4bfb32ecef56b4026bf02bfb1d4fce222e01ef9db9",
    ),
]


@pytest.mark.parametrize("buf_size,key,nonce,ad,plaintext,ciphertext", SIO_VECTORS)
def test_sio_stream_vectors(buf_size, key, nonce, ad, plaintext, ciphertext) -> None:
    cipher = AESGCM(bytes.fromhex(key))
    kw = {"buf_size": buf_size, "associated_data": bytes.fromhex(ad)}
    pt, ct = bytes.fromhex(plaintext), bytes.fromhex(ciphertext)
    assert mc._seal_stream(cipher, bytes.fromhex(nonce), pt, **kw) == ct
    assert mc._open_stream(cipher, bytes.fromhex(nonce), ct, **kw) == pt


# --- minio-py interop -----------------------------------------------------------------------


@pytest.mark.parametrize("aead", [AEAD_ARGON2ID_AES_GCM, AEAD_ARGON2ID_CHACHA20_POLY1305])
@pytest.mark.parametrize("size", SIZES)
def test_minio_py_decrypts_ours(aead: int, size: int) -> None:
    data = os.urandom(size)
    assert _minio_decrypt(encrypt_data(PASSWORD, data, aead=aead), PASSWORD) == data


@pytest.mark.parametrize("size", [s for s in SIZES if s] + [32 * KIB, 48 * KIB + 5])
def test_we_decrypt_minio_py(size: int) -> None:
    data = os.urandom(size)
    assert decrypt_data(PASSWORD, minio_crypto.encrypt(data, PASSWORD)) == data


def test_minio_py_empty_payload_is_rejected_like_madmin() -> None:
    # minio-py seals b"" as a bare 41-byte header (no final fragment); madmin-go (sio) rejects
    # that as not authentic, and so do we. minio-py never sends an empty encrypted body.
    sealed = minio_crypto.encrypt(b"", PASSWORD)
    assert len(sealed) == HEADER_LEN
    with pytest.raises(ValueError):
        decrypt_data(PASSWORD, sealed)


def test_minio_py_rejects_pbkdf2_id() -> None:
    # minio-py only knows ids 0 and 1: the FIPS id is for madmin/Go clients only.
    with pytest.raises(ValueError):
        _minio_decrypt(encrypt_data(PASSWORD, b"{}", aead=AEAD_PBKDF2_AES_GCM), PASSWORD)


# --- failures ------------------------------------------------------------------------------


@pytest.mark.parametrize("aead", ALL_AEADS)
def test_wrong_password(aead: int) -> None:
    sealed = encrypt_data(PASSWORD, b'{"secretKey":"x"}', aead=aead)
    with pytest.raises(ValueError):
        decrypt_data(PASSWORD + "!", sealed)


@pytest.mark.parametrize("size", [10, 40 * KIB])
def test_any_tampered_byte_fails(size: int) -> None:
    sealed = encrypt_data(PASSWORD, os.urandom(size), aead=AEAD_PBKDF2_AES_GCM)
    # salt, id (to another valid id), nonce, first fragment, a middle tag, last byte
    for pos in (0, 31, 33, 40, 41, HEADER_LEN + 16 * KIB + 8, len(sealed) - 1):
        if pos >= len(sealed):
            continue
        bad = bytearray(sealed)
        bad[pos] ^= 0x01
        with pytest.raises(ValueError):
            decrypt_data(PASSWORD, bytes(bad))


def test_truncation_and_extension_fail() -> None:
    sealed = encrypt_data(PASSWORD, os.urandom(40 * KIB), aead=AEAD_PBKDF2_AES_GCM)
    full_fragment = HEADER_LEN + 16 * KIB + 16
    for bad in (
        sealed[:-1],
        sealed[:full_fragment],  # drop the later fragments: the first is not marked final
        sealed[: 2 * full_fragment - HEADER_LEN],
        sealed + b"\x00",
        sealed + sealed[HEADER_LEN:],
    ):
        with pytest.raises(ValueError):
            decrypt_data(PASSWORD, bad)


def test_bad_header() -> None:
    with pytest.raises(ValueError):
        decrypt_data(PASSWORD, b"")
    with pytest.raises(ValueError):
        decrypt_data(PASSWORD, os.urandom(40))
    bad_id = bytearray(encrypt_data(PASSWORD, b"x", aead=AEAD_PBKDF2_AES_GCM))
    bad_id[32] = 0x07
    assert not is_encrypted(bytes(bad_id))
    with pytest.raises(ValueError):
        decrypt_data(PASSWORD, bytes(bad_id))
    with pytest.raises(ValueError):
        encrypt_data(PASSWORD, b"x", aead=3)


# --- async, off the event loop --------------------------------------------------------------


def test_async_runs_in_bounded_pool() -> None:
    seen: set[str] = set()
    original = mc._derive_key

    def spy(*args):
        seen.add(threading.current_thread().name)
        return original(*args)

    async def main() -> None:
        loop_thread = threading.current_thread().name
        mc._derive_key = spy
        try:
            sealed = await asyncio.gather(*(encrypt_async(PASSWORD, b"%d" % i) for i in range(4)))
            opened = await asyncio.gather(*(decrypt_async(PASSWORD, s) for s in sealed))
        finally:
            mc._derive_key = original
        assert opened == [b"%d" % i for i in range(4)]
        assert loop_thread not in seen
        assert all(name.startswith("madmin-kdf") for name in seen)
        assert len(seen) <= mc._EXECUTOR._max_workers

    asyncio.run(main())


def test_async_errors_propagate() -> None:
    async def main() -> None:
        sealed = await encrypt_async(PASSWORD, b"x", aead=AEAD_ARGON2ID_CHACHA20_POLY1305)
        with pytest.raises(ValueError):
            await decrypt_async("wrong", sealed)

    asyncio.run(main())

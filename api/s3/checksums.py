"""Streaming checksums for S3 flexible checksums (CRC32, CRC32C, CRC64NVME, SHA1, SHA256, MD5).

CRCs come from awscrt (C, hardware accelerated); SHA/MD5 from hashlib. Digests are the
big-endian raw bytes S3 base64-encodes in ``x-amz-checksum-*`` headers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from typing import Any

from awscrt import checksums as _crt

from api.errors import S3Error

ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")
CRC_ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME")

# Raw digest size in bytes per algorithm; MD5 is accepted by Checksum for Content-MD5.
DIGEST_SIZES = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32, "MD5": 16}

_CRC_FUNCS: dict[str, Callable[[Any, int], int]] = {
    "CRC32": _crt.crc32,
    "CRC32C": _crt.crc32c,
    "CRC64NVME": _crt.crc64nvme,
}
# Reflected polynomials (what the table-driven CRCs use internally), for the pure-Python combine.
_CRC_POLYS = {
    "CRC32": (0xEDB88320, 32),
    "CRC32C": (0x82F63B78, 32),
    "CRC64NVME": (0x9A6C9329AC4BC9B5, 64),
}
_CRT_COMBINE: dict[str, Callable[[int, int, int], int] | None] = {
    "CRC32": getattr(_crt, "combine_crc32", None),
    "CRC32C": getattr(_crt, "combine_crc32c", None),
    "CRC64NVME": getattr(_crt, "combine_crc64nvme", None),
}


def _normalize(algorithm: str) -> str:
    name = algorithm.upper()
    if name not in DIGEST_SIZES:
        raise S3Error("InvalidRequest", f"Checksum algorithm {algorithm!r} is not supported.")
    return name


class Checksum:
    """Incremental checksum; ``update`` may be called with bytes, bytearray or memoryview."""

    __slots__ = ("algorithm", "_crc", "_crc_func", "_hash")

    def __init__(self, algorithm: str) -> None:
        self.algorithm = _normalize(algorithm)
        self._crc = 0
        self._crc_func = _CRC_FUNCS.get(self.algorithm)
        self._hash = None if self._crc_func else hashlib.new(self.algorithm.lower())

    def update(self, data: bytes | bytearray | memoryview) -> None:
        if self._crc_func is not None:
            self._crc = self._crc_func(data, self._crc)
        else:
            assert self._hash is not None
            self._hash.update(data)

    def digest(self) -> bytes:
        if self._crc_func is not None:
            return self._crc.to_bytes(DIGEST_SIZES[self.algorithm], "big")
        assert self._hash is not None
        return self._hash.digest()

    def b64(self) -> str:
        return base64.b64encode(self.digest()).decode()

    @property
    def crc(self) -> int:
        """The running CRC as an integer (CRC algorithms only); used for full-object combine."""
        return self._crc


def header_name(algorithm: str) -> str:
    """``x-amz-checksum-crc32`` etc.; MD5 maps to ``content-md5``."""
    name = _normalize(algorithm)
    return "content-md5" if name == "MD5" else "x-amz-checksum-" + name.lower()


def algorithm_from_header(name: str) -> str | None:
    """Inverse of header_name for the x-amz-checksum-* family (None if not one of ours)."""
    name = name.lower()
    if not name.startswith("x-amz-checksum-"):
        return None
    algo = name[len("x-amz-checksum-") :].upper()
    return algo if algo in ALGORITHMS else None


def decode_b64(algorithm: str, value: str) -> bytes | None:
    """Strictly decode a base64 checksum value; None if malformed or the wrong length."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == DIGEST_SIZES[_normalize(algorithm)] else None


def is_valid_b64(algorithm: str, value: str) -> bool:
    return decode_b64(algorithm, value) is not None


def combine_composite(algorithm: str, part_digests: list[bytes]) -> str:
    """S3 COMPOSITE checksum: base64(checksum(concat(part raw digests))) + "-<part count>"."""
    c = Checksum(algorithm)
    c.update(b"".join(part_digests))
    return f"{c.b64()}-{len(part_digests)}"


def combine_full_object_crc(algorithm: str, parts: list[tuple[bytes, int]]) -> str:
    """S3 FULL_OBJECT checksum: the CRC of the whole object, from each part's (raw CRC, length)."""
    name = _normalize(algorithm)
    if name not in CRC_ALGORITHMS:
        raise S3Error("InvalidRequest", f"The FULL_OBJECT checksum type is not supported for {algorithm}.")
    size = DIGEST_SIZES[name]
    combine = _CRT_COMBINE[name] or _PyCrcCombiner(*_CRC_POLYS[name]).combine
    crc = 0  # CRC of the empty string is 0 for all three algorithms.
    for digest, length in parts:
        crc = combine(crc, int.from_bytes(digest, "big"), length)
    return base64.b64encode(crc.to_bytes(size, "big")).decode()


class _PyCrcCombiner:
    """CRC combination over GF(2) (zlib's crc32_combine method) for old awscrt versions.

    Works for any reflected CRC whose init and xorout are all ones (CRC32, CRC32C, CRC64NVME):
    crc(A||B) = crc(A) * x^(8*len(B)) mod P  xor  crc(B).
    """

    def __init__(self, poly: int, width: int) -> None:
        self.poly = poly
        self.top = 1 << (width - 1)  # x^0 in the reflected representation
        self.mask = (1 << width) - 1
        # x^(2^k) mod P for k = 0..63 (lengths below 2^61 bytes need k < 64).
        table = [self.top >> 1]
        for _ in range(63):
            table.append(self._mul(table[-1], table[-1]))
        self.table = table
        self._x8n_cache: dict[int, int] = {}

    def _mul(self, a: int, b: int) -> int:
        m, p = self.top, 0
        while m:
            if a & m:
                p ^= b
            m >>= 1
            b = (b >> 1) ^ self.poly if b & 1 else b >> 1
        return p

    def _x8n(self, n: int) -> int:
        # Parts usually share one length: cache x^(8n) per length.
        cached = self._x8n_cache.get(n)
        if cached is None:
            p, k, rest = self.top, 3, n
            while rest:
                if rest & 1:
                    p = self._mul(self.table[k], p)
                rest >>= 1
                k += 1
            self._x8n_cache[n] = cached = p
        return cached

    def combine(self, crc1: int, crc2: int, len2: int) -> int:
        return self._mul(self._x8n(len2), crc1) ^ (crc2 & self.mask)

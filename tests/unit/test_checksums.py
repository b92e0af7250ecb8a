"""Flexible checksums: known vectors, botocore agreement, composite and full-object combination."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest
from botocore.httpchecksum import (
    CrtCrc32cChecksum,
    CrtCrc32Checksum,
    CrtCrc64NvmeChecksum,
    Sha1Checksum,
    Sha256Checksum,
)

from api.errors import S3Error
from api.s3 import checksums
from api.s3.checksums import (
    ALGORITHMS,
    Checksum,
    algorithm_from_header,
    combine_composite,
    combine_full_object_crc,
    decode_b64,
    header_name,
    is_valid_b64,
)

BOTOCORE = {
    "CRC32": CrtCrc32Checksum,
    "CRC32C": CrtCrc32cChecksum,
    "CRC64NVME": CrtCrc64NvmeChecksum,
    "SHA1": Sha1Checksum,
    "SHA256": Sha256Checksum,
}


def b64_of(algorithm: str, data: bytes) -> str:
    c = Checksum(algorithm)
    c.update(data)
    return c.b64()


@pytest.mark.parametrize(
    ("algorithm", "check"),
    [("CRC32", 0xCBF43926), ("CRC32C", 0xE3069283), ("CRC64NVME", 0xAE8B14860A799888)],
)
def test_crc_check_values(algorithm: str, check: int) -> None:
    # The catalogued "check" value of each CRC: its result over b"123456789".
    c = Checksum(algorithm)
    c.update(b"123456789")
    assert int.from_bytes(c.digest(), "big") == check
    assert c.crc == check


def test_published_values() -> None:
    # boto3 sends these for b"hello world"; the CRC32C one is AWS's chunked-trailer example
    # (66560 bytes of "a" -> sOO8/Q==).
    assert b64_of("CRC32", b"hello world") == "DUoRhQ=="
    assert b64_of("CRC32C", b"a" * 66560) == "sOO8/Q=="
    assert b64_of("SHA256", b"") == base64.b64encode(hashlib.sha256().digest()).decode()
    assert b64_of("MD5", b"") == "1B2M2Y8AsgTpgAmY7PhCfg=="


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("size", [0, 1, 1000, 70000])
def test_matches_botocore_incrementally(algorithm: str, size: int) -> None:
    data = os.urandom(size)
    ref = BOTOCORE[algorithm]()
    ref.update(data)
    ours = Checksum(algorithm.lower())
    for i in range(0, size, 4097):
        piece = data[i : i + 4097]
        ours.update(memoryview(piece) if i % 2 else bytearray(piece))
    assert ours.digest() == ref.digest()
    assert ours.b64() == ref.b64digest()
    assert len(ours.digest()) == checksums.DIGEST_SIZES[algorithm]


def test_header_names() -> None:
    assert header_name("CRC32") == "x-amz-checksum-crc32"
    assert header_name("crc64nvme") == "x-amz-checksum-crc64nvme"
    assert header_name("SHA256") == "x-amz-checksum-sha256"
    assert header_name("MD5") == "content-md5"
    assert algorithm_from_header("X-Amz-Checksum-CRC32C") == "CRC32C"
    assert algorithm_from_header("x-amz-checksum-type") is None
    assert algorithm_from_header("content-md5") is None


def test_is_valid_b64() -> None:
    for algorithm in ALGORITHMS:
        value = b64_of(algorithm, b"x")
        assert is_valid_b64(algorithm, value)
        assert decode_b64(algorithm, value) is not None
    assert not is_valid_b64("CRC32", b64_of("CRC64NVME", b"x"))  # wrong length
    assert not is_valid_b64("CRC32", "DUoRhQ")  # missing padding
    assert not is_valid_b64("CRC32", "DUo*hQ==")
    assert not is_valid_b64("SHA1", "")
    with pytest.raises(S3Error):
        is_valid_b64("CRC16", "AAA=")


def test_unknown_algorithm() -> None:
    with pytest.raises(S3Error) as e:
        Checksum("BLAKE3")
    assert e.value.code == "InvalidRequest"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_composite(algorithm: str) -> None:
    parts = [os.urandom(100), os.urandom(5000), b""]
    digests = []
    for part in parts:
        c = Checksum(algorithm)
        c.update(part)
        digests.append(c.digest())
    expected = b64_of(algorithm, b"".join(digests))
    assert combine_composite(algorithm, digests) == f"{expected}-3"


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME"])
@pytest.mark.parametrize("pure_python", [False, True])
def test_full_object_crc(algorithm: str, pure_python: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if pure_python:  # the fallback used with awscrt versions lacking combine_crc*
        monkeypatch.setitem(checksums._CRT_COMBINE, algorithm, None)
    parts = [os.urandom(n) for n in (5 * 1024 * 1024, 0, 1, 12345, 5 * 1024 * 1024, 7)]
    info = []
    for part in parts:
        c = Checksum(algorithm)
        c.update(part)
        info.append((c.digest(), len(part)))
    assert combine_full_object_crc(algorithm, info) == b64_of(algorithm, b"".join(parts))
    assert combine_full_object_crc(algorithm, info[:1]) == b64_of(algorithm, parts[0])
    assert combine_full_object_crc(algorithm, []) == b64_of(algorithm, b"")


def test_full_object_needs_crc() -> None:
    with pytest.raises(S3Error):
        combine_full_object_crc("SHA256", [(b"\0" * 32, 1)])

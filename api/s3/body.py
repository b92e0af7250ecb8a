"""Request bodies: aws-chunked decoding, Content-MD5, x-amz-content-sha256 and flexible
checksums (headers or trailers), all computed while the body streams."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from api.auth.chunked import AwsChunkedDecoder
from api.errors import S3Error
from api.s3.checksums import ALGORITHMS, Checksum, header_name, is_valid_b64

if TYPE_CHECKING:
    from api.request import S3Request

STREAMING = (
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
)


class DecodedBody:
    def __init__(
        self,
        req: S3Request,
        *,
        want_md5: bool = True,
        checksum_algorithm: str | None = None,
        object_checksums: bool = True,
    ) -> None:
        """object_checksums=False: x-amz-checksum-* headers describe something else (the
        completed object of CompleteMultipartUpload), not this body."""
        self.req = req
        h = req.headers
        self.payload_hash = h.get("x-amz-content-sha256", "")
        self.streaming = self.payload_hash.startswith("STREAMING-")
        # Content-Encoding: aws-chunked alone, with a plain payload hash, is not framing.
        self.chunked = self.streaming
        self.size: int | None
        if self.chunked:
            decoded = h.get("x-amz-decoded-content-length")
            if decoded is None or not decoded.isdigit():
                if self.streaming:
                    raise S3Error("MissingContentLength")
                self.size = None
            else:
                self.size = int(decoded)
        else:
            cl = h.get("content-length")
            self.size = int(cl) if cl is not None and cl.isdigit() else None
        self.md5 = hashlib.md5() if want_md5 or "content-md5" in h else None
        self.sha256 = hashlib.sha256() if len(self.payload_hash) == 64 and not self.chunked else None
        self.content_md5 = h.get("content-md5")
        if self.content_md5 is not None:
            try:
                raw = base64.b64decode(self.content_md5, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise S3Error("InvalidDigest") from exc
            if len(raw) != 16:
                raise S3Error("InvalidDigest")
        # Flexible checksums: declared by header value, by trailer, or by algorithm name.
        self.expected: dict[str, str | None] = {}
        for algo, name in _HEADERS if object_checksums else ():
            value = h.get(name)
            if value is not None:
                if not is_valid_b64(algo, value):
                    raise S3Error("BadDigest", f"The {algo} you specified did not match the calculated checksum.")
                self.expected[algo] = value
        trailer = h.get("x-amz-trailer", "").strip().lower()
        self.trailer = trailer or None
        if trailer:
            algo = _algo_of_header(trailer)
            if algo is None:
                raise S3Error("InvalidRequest", "The value specified in the x-amz-trailer header is not supported")
            self.expected.setdefault(algo, None)
        sdk_algo = (checksum_algorithm or "").upper()
        if object_checksums:
            sdk_algo = (
                sdk_algo or (h.get("x-amz-sdk-checksum-algorithm") or h.get("x-amz-checksum-algorithm") or "").upper()
            )
        if sdk_algo:
            if sdk_algo not in ALGORITHMS:
                raise S3Error(
                    "InvalidRequest",
                    "Checksum algorithm provided is unsupported. Please try again with any of the valid types: "
                    "[CRC32, CRC32C, CRC64NVME, SHA1, SHA256]",
                )
            self.expected.setdefault(sdk_algo, None)
        if len(self.expected) > 1:
            raise S3Error(
                "InvalidRequest", "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
            )
        self.hashers = {algo: Checksum(algo) for algo in self.expected}
        self.trailers: dict[str, str] = {}
        self.received = 0

    def sink(self, data: bytes) -> None:
        """Update every digest; called with large batches, possibly from a worker thread."""
        if self.md5 is not None:
            self.md5.update(data)
        if self.sha256 is not None:
            self.sha256.update(data)
        for hasher in self.hashers.values():
            hasher.update(data)

    async def chunks(self) -> AsyncIterator[bytes]:
        raw = self.req.raw_body()
        if not self.chunked:
            async for chunk in raw:
                self.received += len(chunk)
                yield chunk
            if self.size is not None and self.received != self.size:
                raise S3Error("IncompleteBody")
            return
        decoder = AwsChunkedDecoder(self.req.auth, decoded_length=self.size, trailer_header=self.trailer)
        async for chunk in raw:
            out = decoder.feed(chunk)
            if out:
                self.received += len(out)
                yield out
        self.trailers = decoder.finish()
        if self.size is not None and self.received != self.size:
            raise S3Error("IncompleteBody")

    def verify(self) -> dict[str, str]:
        """Check every digest the client sent; returns the stored checksums {ALGO: b64}."""
        if self.content_md5 is not None and self.md5 is not None:
            if base64.b64encode(self.md5.digest()).decode() != self.content_md5:
                raise S3Error("BadDigest")
        if self.sha256 is not None and self.sha256.hexdigest() != self.payload_hash.lower():
            raise S3Error("XAmzContentSHA256Mismatch")
        result: dict[str, str] = {}
        for algo, hasher in self.hashers.items():
            got = hasher.b64()
            want = self.expected.get(algo)
            if want is None and self.trailers:
                want = self.trailers.get(header_name(algo))
            if want is not None and want != got:
                raise S3Error("BadDigest", f"The {algo} you specified did not match the calculated checksum.")
            result[algo] = got
        return result

    @property
    def etag(self) -> str:
        assert self.md5 is not None
        return self.md5.hexdigest()


_HEADERS = tuple((algo, header_name(algo)) for algo in ALGORITHMS)
_ALGO_OF_HEADER = {name: algo for algo, name in _HEADERS}


def _algo_of_header(name: str) -> str | None:
    return _ALGO_OF_HEADER.get(name)

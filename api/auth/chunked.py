"""Incremental decoder for ``Content-Encoding: aws-chunked`` request bodies.

Wire format (signed variants carry ``;chunk-signature=<hex>`` on every chunk line)::

    <hex-size>[;chunk-signature=<sig>]\\r\\n<data>\\r\\n ... 0[;chunk-signature=<sig>]\\r\\n
    [<trailer-name>:<value>\\r\\n ... [x-amz-trailer-signature:<sig>\\r\\n]]\\r\\n

Data is hashed and handed back as it arrives (never more than a chunk header is buffered);
a chunk's signature is checked as soon as that chunk ends. Bytes returned by ``feed`` are
therefore trustworthy only once ``finish`` has returned: callers stream them to a temporary
blob and discard it if anything raises.
"""

from __future__ import annotations

import hashlib
import hmac

from api.auth.signing import (
    EMPTY_SHA256,
    STREAMING_PAYLOAD,
    STREAMING_PAYLOAD_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    AuthContext,
    hmac_sha256,
)
from api.errors import S3Error

_MAX_LINE = 4096  # a chunk header or trailer line longer than this is not aws-chunked
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_SIG_PREFIX = b"chunk-signature="
_TRAILER_SIG = "x-amz-trailer-signature"

_HEADER, _DATA, _DATA_CRLF, _TRAILER, _DONE = range(5)


def _malformed(message: str) -> S3Error:
    return S3Error("InvalidRequest", f"Malformed aws-chunked encoding: {message}")


def _malformed_trailer(message: str) -> S3Error:
    # AWS's code for bad trailers; not in api/errors.py's table, so status/message are explicit.
    return S3Error(
        "MalformedTrailerError",
        "The request contained trailing data that was not well-formed or did not conform "
        f"to our published schema. {message}",
        status=400,
    )


def _bad_signature() -> S3Error:
    return S3Error("SignatureDoesNotMatch")


class AwsChunkedDecoder:
    """Decode (and verify) an aws-chunked body fed in arbitrary pieces."""

    def __init__(self, ctx: AuthContext, *, decoded_length: int | None, trailer_header: str | None) -> None:
        mode = ctx.payload_hash
        if mode not in (STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER, STREAMING_UNSIGNED_TRAILER):
            raise S3Error("InvalidRequest", f"x-amz-content-sha256 {mode} is not a streaming mode.")
        self._signed = mode != STREAMING_UNSIGNED_TRAILER
        self._signed_trailer = mode == STREAMING_PAYLOAD_TRAILER
        if self._signed:
            if not (ctx.signing_key and ctx.seed_signature and ctx.scope and ctx.amz_date):
                raise S3Error("InvalidRequest", "Signed aws-chunked bodies need header SigV4 auth.")
            self._key: bytes = ctx.signing_key
            self._prev_sig = ctx.seed_signature
            self._chunk_prefix = f"AWS4-HMAC-SHA256-PAYLOAD\n{ctx.amz_date}\n{ctx.scope}\n"
            self._trailer_prefix = f"AWS4-HMAC-SHA256-TRAILER\n{ctx.amz_date}\n{ctx.scope}\n"
        self._declared = (
            None if trailer_header is None else {t.strip().lower() for t in trailer_header.split(",") if t.strip()}
        )
        self._decoded_length = decoded_length
        self._total = 0
        self._state = _HEADER
        self._remaining = 0
        self._chunk_sig = b""
        self._hasher = hashlib.sha256() if self._signed else None
        self._buf = b""  # unconsumed bytes: at most one partial header/trailer line
        self._trailers: dict[str, str] = {}
        self._trailer_lines: list[str] = []  # "name:value" as signed, in received order
        self._trailer_sig: str | None = None

    # -- public -------------------------------------------------------------------------

    def feed(self, data: bytes) -> bytes:
        if not isinstance(data, bytes):
            data = bytes(data)
        n = len(data)
        # A line split across feeds is completed from the head of ``data`` instead of copying
        # ``buffer + data``: feeds may be megabytes long.
        pos = self._complete_pending(data) if self._buf else 0
        out: list[memoryview] = []
        view = memoryview(data)
        while pos < n:
            state = self._state
            if state == _DATA:
                take = min(self._remaining, n - pos)
                piece = view[pos : pos + take]
                if self._hasher is not None:
                    self._hasher.update(piece)
                out.append(piece)
                pos += take
                self._remaining -= take
                self._total += take
                if self._decoded_length is not None and self._total > self._decoded_length:
                    raise _malformed("body is longer than x-amz-decoded-content-length")
                if not self._remaining:
                    self._state = _DATA_CRLF
            elif state == _DATA_CRLF:
                if n - pos < 2:
                    break
                if data[pos : pos + 2] != b"\r\n":
                    raise _malformed("chunk data is not followed by CRLF")
                pos += 2
                self._end_chunk()
                self._state = _HEADER
            elif state == _DONE:
                if data[pos:].strip(b"\r\n"):
                    raise _malformed("data after the end of the body")
                pos = n
            else:  # _HEADER or _TRAILER: line based
                end = data.find(b"\r\n", pos, pos + _MAX_LINE + 2)
                if end < 0:
                    if n - pos > _MAX_LINE:
                        raise _malformed("line too long")
                    break
                line = data[pos:end]
                pos = end + 2
                if state == _HEADER:
                    self._chunk_header(line)
                else:
                    self._trailer_line(line)
        if pos < n:
            self._buf = data[pos:]  # at most one partial line or a lone CR
        if not out:
            return b""
        if len(out) == 1 and len(out[0]) == n:
            return data
        return b"".join(out)

    def _complete_pending(self, data: bytes) -> int:
        """Finish the line (or CRLF) begun in the previous feed; returns bytes of data used."""
        buf = self._buf
        if self._state == _DATA_CRLF:
            need = 2 - len(buf)
            joined = buf + data[:need]
            if len(joined) < 2:
                self._buf = joined
                return len(data)
            if joined != b"\r\n":
                raise _malformed("chunk data is not followed by CRLF")
            self._buf = b""
            self._end_chunk()
            self._state = _HEADER
            return need
        if buf.endswith(b"\r") and data[:1] == b"\n":
            line, used = buf[:-1], 1
        else:
            end = data.find(b"\r\n", 0, _MAX_LINE + 2)
            if end < 0:
                self._buf = buf + data
                if len(self._buf) > _MAX_LINE + 1:
                    raise _malformed("line too long")
                return len(data)
            line, used = buf + data[:end], end + 2
        if len(line) > _MAX_LINE:
            raise _malformed("line too long")
        self._buf = b""
        if self._state == _HEADER:
            self._chunk_header(line)
        else:
            self._trailer_line(line)
        return used

    def finish(self) -> dict[str, str]:
        if self._state == _TRAILER:
            if self._buf:  # tolerate a last trailer line without CRLF
                line, self._buf = self._buf, b""
                self._trailer_line(line)
            if self._state == _TRAILER:
                self._end_trailers()
        if self._state != _DONE or self._buf.strip(b"\r\n"):
            raise S3Error("IncompleteBody", "The request body ended before the final chunk.")
        if self._decoded_length is not None and self._total != self._decoded_length:
            raise S3Error("IncompleteBody")
        return dict(self._trailers)

    @property
    def decoded_bytes(self) -> int:
        return self._total

    # -- internals ----------------------------------------------------------------------

    def _chunk_header(self, line: bytes) -> None:
        size_part, _, ext = line.partition(b";")
        size_part = size_part.strip()
        if not size_part or len(size_part) > 16 or not _HEX_DIGITS.issuperset(size_part):
            raise _malformed("invalid chunk size")
        size = int(size_part, 16)
        if self._signed:
            ext = ext.strip()
            if not ext.startswith(_SIG_PREFIX):
                raise _bad_signature()
            self._chunk_sig = ext[len(_SIG_PREFIX) :].strip()
        if size:
            self._remaining = size
            self._state = _DATA
        else:
            self._end_chunk()  # the empty final chunk is signed too, with no CRLF of its own
            self._state = _TRAILER

    def _end_chunk(self) -> None:
        if not self._signed:
            return
        assert self._hasher is not None
        digest = self._hasher.hexdigest()
        self._hasher = hashlib.sha256()
        sts = f"{self._chunk_prefix}{self._prev_sig}\n{EMPTY_SHA256}\n{digest}"
        expected = hmac_sha256(self._key, sts.encode()).hex()
        if not hmac.compare_digest(expected.encode(), self._chunk_sig):
            raise _bad_signature()
        self._prev_sig = expected

    def _trailer_line(self, line: bytes) -> None:
        if not line.strip():
            # Some clients put a blank line between the final chunk and the trailers: skip it
            # while trailers are still expected; otherwise it ends the body.
            if not self._trailer_lines and self._expects_trailers():
                return
            self._end_trailers()
            return
        name_b, colon, value_b = line.partition(b":")
        if not colon:
            raise _malformed_trailer("Trailer line without ':'.")
        try:
            name = name_b.decode("ascii").strip().lower()
            value = value_b.decode("ascii").strip()
        except UnicodeDecodeError:
            raise _malformed_trailer("Trailer is not ASCII.") from None
        if name == _TRAILER_SIG:
            self._trailer_sig = value
            return
        if self._trailer_sig is not None:
            raise _malformed_trailer("Trailer after the trailer signature.")
        self._trailers[name] = value
        self._trailer_lines.append(f"{name}:{value}\n")

    def _expects_trailers(self) -> bool:
        return self._signed_trailer or bool(self._declared)

    def _end_trailers(self) -> None:
        if self._declared is not None:
            received = set(self._trailers)
            if received - self._declared:
                raise _malformed_trailer("Undeclared trailer: " + ",".join(sorted(received - self._declared)))
            if self._declared - received:
                raise _malformed_trailer("Missing trailer: " + ",".join(sorted(self._declared - received)))
        if self._signed_trailer:
            if self._trailer_sig is None:
                raise _malformed_trailer("Missing x-amz-trailer-signature.")
            digest = hashlib.sha256("".join(self._trailer_lines).encode()).hexdigest()
            sts = f"{self._trailer_prefix}{self._prev_sig}\n{digest}"
            expected = hmac_sha256(self._key, sts.encode()).hex()
            if not (self._trailer_sig.isascii() and hmac.compare_digest(expected.encode(), self._trailer_sig.encode())):
                raise _bad_signature()
        self._state = _DONE

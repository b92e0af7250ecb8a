"""aws-chunked decoding: AWS's published streaming examples, boto3 bodies, splits, tampering."""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import random
from datetime import UTC, datetime
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from api.auth.chunked import AwsChunkedDecoder
from api.auth.signature import authenticate
from api.auth.signing import (
    EMPTY_SHA256,
    STREAMING_PAYLOAD,
    STREAMING_PAYLOAD_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    UNSIGNED_PAYLOAD,
    AuthContext,
    derive_signing_key,
)
from api.errors import S3Error
from api.s3.checksums import Checksum

AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
lookup = {AK: SK}.get
DOC_NOW = datetime(2013, 5, 24, 0, 1, tzinfo=UTC)
DOC_DATE = "20130524T000000Z"
DOC_SCOPE = "20130524/us-east-1/s3/aws4_request"
PAYLOAD = b"a" * 66560
DOC_CHUNKS = [b"a" * 65536, b"a" * 1024]

# "Transferring Payload in Multiple Chunks" example.
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
SIGS = [
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
]
# "Including Trailing Headers" example.
TRAILER_SEED = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
TRAILER_SIGS = [
    "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
    "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
    "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
]
TRAILER_SIG = "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"


# ---- an independent test signer -----------------------------------------------------------


def chunk_signatures(key: bytes, amz_date: str, scope: str, seed: str, chunks: list[bytes]) -> list[str]:
    """Signatures of each chunk plus the final empty one, chained from the seed."""
    sigs, prev = [], seed
    for chunk in [*chunks, b""]:
        sts = "\n".join(
            ["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, EMPTY_SHA256,
             hashlib.sha256(chunk).hexdigest()]
        )  # fmt: skip
        prev = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        sigs.append(prev)
    return sigs


def trailer_signature(key: bytes, amz_date: str, scope: str, prev: str, trailers: dict[str, str]) -> str:
    canonical = "".join(f"{k}:{v}\n" for k, v in trailers.items())
    sts = "\n".join(
        [
            "AWS4-HMAC-SHA256-TRAILER",
            amz_date,
            scope,
            prev,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


def encode(
    chunks: list[bytes],
    *,
    ctx: AuthContext | None = None,
    trailers: dict[str, str] | None = None,
    blank_before_trailers: bool = False,
) -> bytes:
    """aws-chunked body: signed when ctx is given, trailers appended when given."""
    out = io.BytesIO()
    sigs: list[str] | None = None
    if ctx is not None:
        assert ctx.signing_key and ctx.amz_date and ctx.scope and ctx.seed_signature
        sigs = chunk_signatures(ctx.signing_key, ctx.amz_date, ctx.scope, ctx.seed_signature, chunks)
    for i, chunk in enumerate([*chunks, b""]):
        ext = f";chunk-signature={sigs[i]}" if sigs else ""
        out.write(f"{len(chunk):x}{ext}\r\n".encode())
        if chunk:
            out.write(chunk + b"\r\n")
    if blank_before_trailers:
        out.write(b"\r\n")
    for name, value in (trailers or {}).items():
        out.write(f"{name}:{value}\r\n".encode())
    if trailers and sigs is not None and ctx is not None and ctx.payload_hash == STREAMING_PAYLOAD_TRAILER:
        assert ctx.signing_key and ctx.amz_date and ctx.scope
        tsig = trailer_signature(ctx.signing_key, ctx.amz_date, ctx.scope, sigs[-1], trailers)
        out.write(f"x-amz-trailer-signature:{tsig}\r\n".encode())
    out.write(b"\r\n")
    return out.getvalue()


def decode(decoder: AwsChunkedDecoder, body: bytes, splits: str = "all") -> tuple[bytes, dict[str, str]]:
    out = bytearray()
    if splits == "all":
        out += decoder.feed(body)
    elif splits == "bytes":
        for i in range(len(body)):
            out += decoder.feed(body[i : i + 1])
    else:
        rnd = random.Random(splits)
        i = 0
        while i < len(body):
            n = rnd.choice([1, 2, 3, 7, 64, 100, 4096, 65537])
            out += decoder.feed(body[i : i + n])
            i += n
    return bytes(out), decoder.finish()


# ---- AWS examples ---------------------------------------------------------------------------


def doc_ctx(trailer: bool) -> AuthContext:
    """Authenticate AWS's example PUT (which checks the documented seed signature)."""
    headers = {
        "host": "s3.amazonaws.com",
        "x-amz-date": DOC_DATE,
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": "66560",
        "content-length": "66824",
    }
    if trailer:
        headers["x-amz-content-sha256"] = STREAMING_PAYLOAD_TRAILER
        headers["x-amz-trailer"] = "x-amz-checksum-crc32c"
        signed = (
            "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
            "x-amz-storage-class;x-amz-trailer"
        )
        seed = TRAILER_SEED
    else:
        headers["x-amz-content-sha256"] = STREAMING_PAYLOAD
        signed = (
            "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
            "x-amz-storage-class"
        )
        seed = SEED
    headers["authorization"] = f"AWS4-HMAC-SHA256 Credential={AK}/{DOC_SCOPE},SignedHeaders={signed},Signature={seed}"
    ctx = authenticate("PUT", "/examplebucket/chunkObject.txt", "", headers, lookup, now=DOC_NOW)
    assert ctx.seed_signature == seed
    return ctx


def test_test_signer_reproduces_aws_values() -> None:
    key = derive_signing_key(SK, "20130524", "us-east-1", "s3")
    assert chunk_signatures(key, DOC_DATE, DOC_SCOPE, SEED, DOC_CHUNKS) == SIGS
    sigs = chunk_signatures(key, DOC_DATE, DOC_SCOPE, TRAILER_SEED, DOC_CHUNKS)
    assert sigs == TRAILER_SIGS
    trailer = {"x-amz-checksum-crc32c": "sOO8/Q=="}
    assert trailer_signature(key, DOC_DATE, DOC_SCOPE, sigs[-1], trailer) == TRAILER_SIG


def doc_body() -> bytes:
    return (
        f"10000;chunk-signature={SIGS[0]}\r\n".encode() + DOC_CHUNKS[0] + b"\r\n"
        + f"400;chunk-signature={SIGS[1]}\r\n".encode() + DOC_CHUNKS[1] + b"\r\n"
        + f"0;chunk-signature={SIGS[2]}\r\n\r\n".encode()
    )  # fmt: skip


def doc_trailer_body() -> bytes:
    return (
        f"10000;chunk-signature={TRAILER_SIGS[0]}\r\n".encode() + DOC_CHUNKS[0] + b"\r\n"
        + f"400;chunk-signature={TRAILER_SIGS[1]}\r\n".encode() + DOC_CHUNKS[1] + b"\r\n"
        + f"0;chunk-signature={TRAILER_SIGS[2]}\r\n".encode()
        + b"x-amz-checksum-crc32c:sOO8/Q==\r\n"
        + f"x-amz-trailer-signature:{TRAILER_SIG}\r\n\r\n".encode()
    )  # fmt: skip


@pytest.mark.parametrize("splits", ["all", "bytes", "1", "2", "3"])
def test_doc_signed_example(splits: str) -> None:
    body = doc_body()
    assert len(body) == 66824  # the example's Content-Length
    decoder = AwsChunkedDecoder(doc_ctx(False), decoded_length=66560, trailer_header=None)
    data, trailers = decode(decoder, body, splits)
    assert data == PAYLOAD and trailers == {}
    assert body == encode(DOC_CHUNKS, ctx=doc_ctx(False))


@pytest.mark.parametrize("splits", ["all", "bytes", "4"])
def test_doc_trailer_example(splits: str) -> None:
    decoder = AwsChunkedDecoder(doc_ctx(True), decoded_length=66560, trailer_header="x-amz-checksum-crc32c")
    data, trailers = decode(decoder, doc_trailer_body(), splits)
    assert data == PAYLOAD
    assert trailers == {"x-amz-checksum-crc32c": "sOO8/Q=="}
    c = Checksum("CRC32C")
    c.update(data)
    assert c.b64() == trailers["x-amz-checksum-crc32c"]


def test_doc_trailer_example_as_printed() -> None:
    # The documentation shows the trailer chunk without a terminating blank line.
    body = doc_trailer_body()[:-2]
    decoder = AwsChunkedDecoder(doc_ctx(True), decoded_length=66560, trailer_header="x-amz-checksum-crc32c")
    assert decode(decoder, body)[1] == {"x-amz-checksum-crc32c": "sOO8/Q=="}
    # ...nor with a CRLF after the trailer signature line.
    decoder = AwsChunkedDecoder(doc_ctx(True), decoded_length=66560, trailer_header="x-amz-checksum-crc32c")
    assert decode(decoder, body[:-2], "bytes")[1] == {"x-amz-checksum-crc32c": "sOO8/Q=="}


def test_doc_example_tampered() -> None:
    body = bytearray(doc_body())
    body[66000] = ord("b")  # inside the second chunk
    decoder = AwsChunkedDecoder(doc_ctx(False), decoded_length=66560, trailer_header=None)
    with pytest.raises(S3Error) as e:
        decode(decoder, bytes(body))
    assert e.value.code == "SignatureDoesNotMatch"
    # A wrong seed (e.g. a different request) breaks the chain at the first chunk.
    ctx = doc_ctx(False)
    ctx.seed_signature = "0" * 64
    with pytest.raises(S3Error) as e:
        decode(AwsChunkedDecoder(ctx, decoded_length=None, trailer_header=None), doc_body())
    assert e.value.code == "SignatureDoesNotMatch"


def test_doc_trailer_tampered() -> None:
    body = doc_trailer_body().replace(b"sOO8/Q==", b"AAAAAA==")
    decoder = AwsChunkedDecoder(doc_ctx(True), decoded_length=66560, trailer_header="x-amz-checksum-crc32c")
    with pytest.raises(S3Error) as e:
        decode(decoder, body)
    assert e.value.code == "SignatureDoesNotMatch"
    unsigned = doc_trailer_body().replace(f"x-amz-trailer-signature:{TRAILER_SIG}\r\n".encode(), b"")
    decoder = AwsChunkedDecoder(doc_ctx(True), decoded_length=66560, trailer_header="x-amz-checksum-crc32c")
    with pytest.raises(S3Error) as e:
        decode(decoder, unsigned)
    assert e.value.code == "MalformedTrailerError"


# ---- generated bodies -------------------------------------------------------------------------


def make_ctx(mode: str) -> AuthContext:
    key = derive_signing_key("secret", "20240101", "us-east-1", "s3")
    return AuthContext(
        "AK", "header", mode, key, "f" * 64, "20240101/us-east-1/s3/aws4_request",
        "20240101T000000Z", "us-east-1", "s3",
    )  # fmt: skip


def random_chunks(seed: int) -> list[bytes]:
    rnd = random.Random(seed)
    return [os.urandom(rnd.choice([8192, 65536, 100000])) for _ in range(rnd.randint(1, 5))]


@pytest.mark.parametrize("mode", [STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER, STREAMING_UNSIGNED_TRAILER])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_roundtrip(mode: str, seed: int) -> None:
    chunks = random_chunks(seed)
    payload = b"".join(chunks)
    ctx = make_ctx(mode)
    trailers = None
    trailer_header = None
    if mode != STREAMING_PAYLOAD:
        c = Checksum("CRC64NVME")
        c.update(payload)
        trailers = {"x-amz-checksum-crc64nvme": c.b64()}
        trailer_header = "x-amz-checksum-crc64nvme"
    body = encode(chunks, ctx=None if mode == STREAMING_UNSIGNED_TRAILER else ctx, trailers=trailers)
    for splits in ("all", str(seed)):
        decoder = AwsChunkedDecoder(ctx, decoded_length=len(payload), trailer_header=trailer_header)
        data, got = decode(decoder, body, splits)
        assert data == payload and got == (trailers or {})
        assert decoder.decoded_bytes == len(payload)


def test_signed_chunks_out_of_order() -> None:
    ctx = make_ctx(STREAMING_PAYLOAD)
    a, b = b"x" * 9000, b"y" * 9000
    sigs = chunk_signatures(
        ctx.signing_key or b"",
        ctx.amz_date or "",
        ctx.scope or "",
        ctx.seed_signature or "",
        [a, b],
    )
    body = (
        f"{len(b):x};chunk-signature={sigs[1]}\r\n".encode() + b + b"\r\n"
        + f"{len(a):x};chunk-signature={sigs[0]}\r\n".encode() + a + b"\r\n"
        + f"0;chunk-signature={sigs[2]}\r\n\r\n".encode()
    )  # fmt: skip
    with pytest.raises(S3Error) as e:
        decode(AwsChunkedDecoder(ctx, decoded_length=18000, trailer_header=None), body)
    assert e.value.code == "SignatureDoesNotMatch"


def test_signed_chunk_without_signature() -> None:
    body = encode([b"x" * 10])  # unsigned framing sent for a signed mode
    with pytest.raises(S3Error) as e:
        decode(
            AwsChunkedDecoder(make_ctx(STREAMING_PAYLOAD), decoded_length=10, trailer_header=None),
            body,
        )
    assert e.value.code == "SignatureDoesNotMatch"


def test_decoded_length_mismatch() -> None:
    body = encode([b"x" * 100], trailers={"x-amz-checksum-crc32": "AAAAAA=="})
    ctx = make_ctx(STREAMING_UNSIGNED_TRAILER)
    decoder = AwsChunkedDecoder(ctx, decoded_length=101, trailer_header="x-amz-checksum-crc32")
    with pytest.raises(S3Error) as e:
        decode(decoder, body)
    assert e.value.code == "IncompleteBody"
    decoder = AwsChunkedDecoder(ctx, decoded_length=99, trailer_header="x-amz-checksum-crc32")
    with pytest.raises(S3Error):
        decoder.feed(body)
    # Without a declared length any size is fine.
    decoder = AwsChunkedDecoder(ctx, decoded_length=None, trailer_header="x-amz-checksum-crc32")
    assert decode(decoder, body)[0] == b"x" * 100


@pytest.mark.parametrize("mode", [STREAMING_PAYLOAD, STREAMING_UNSIGNED_TRAILER])
def test_truncated_stream(mode: str) -> None:
    ctx = make_ctx(mode)
    trailers = {"x-amz-checksum-crc32": "AAAAAA=="} if mode == STREAMING_UNSIGNED_TRAILER else None
    header = "x-amz-checksum-crc32" if trailers else None
    body = encode([b"x" * 9000, b"y" * 10], ctx=ctx if mode == STREAMING_PAYLOAD else None, trailers=trailers)
    # Every cut before the final chunk's line is incomplete; so is a cut inside a trailer line.
    final_line = body.index(b"\r\n0")
    for cut in [0, 1, 5, 50, 100, 9000, final_line, final_line + 2]:
        decoder = AwsChunkedDecoder(ctx, decoded_length=9010, trailer_header=header)
        decoder.feed(body[:cut])
        with pytest.raises(S3Error) as e:
            decoder.finish()
        assert e.value.code in ("IncompleteBody", "MalformedTrailerError")


@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\nabc\r\n0\r\n\r\n",  # not hex
        b"0x3\r\nabc\r\n0\r\n\r\n",
        b"-3\r\nabc\r\n0\r\n\r\n",
        b"\r\n",  # empty size
        b"3\r\nabcXX0\r\n\r\n",  # data not followed by CRLF
        b"3" * 5000,  # endless header line
        b"3\r\nabc\r\n0\r\n\r\ngarbage",
    ],
)
def test_malformed_framing(body: bytes) -> None:
    decoder = AwsChunkedDecoder(make_ctx(STREAMING_UNSIGNED_TRAILER), decoded_length=None, trailer_header=None)
    with pytest.raises(S3Error) as e:
        decoder.feed(body)
        decoder.finish()
    assert e.value.code in ("InvalidRequest", "IncompleteBody")


def test_trailer_declarations() -> None:
    ctx = make_ctx(STREAMING_UNSIGNED_TRAILER)
    body = encode([b"abc"], trailers={"x-amz-checksum-crc32": "NSRBwg=="})
    with pytest.raises(S3Error) as e:  # declared but not sent
        decode(AwsChunkedDecoder(ctx, decoded_length=3, trailer_header="x-amz-checksum-sha256"), body)
    assert e.value.code == "MalformedTrailerError"
    with pytest.raises(S3Error) as e:  # declared, nothing sent at all
        decode(
            AwsChunkedDecoder(ctx, decoded_length=3, trailer_header="x-amz-checksum-crc32"),
            encode([b"abc"]),
        )
    assert e.value.code == "MalformedTrailerError"
    with pytest.raises(S3Error):  # malformed trailer line
        decode(
            AwsChunkedDecoder(ctx, decoded_length=3, trailer_header=None),
            b"3\r\nabc\r\n0\r\nnocolon\r\n\r\n",
        )
    got = decode(AwsChunkedDecoder(ctx, decoded_length=3, trailer_header=" X-Amz-Checksum-CRC32 "), body)[1]
    assert got == {"x-amz-checksum-crc32": "NSRBwg=="}


def test_blank_line_before_trailers() -> None:
    ctx = make_ctx(STREAMING_PAYLOAD_TRAILER)
    trailers = {"x-amz-checksum-crc32": "NSRBwg=="}
    body = encode([b"abc"], ctx=ctx, trailers=trailers, blank_before_trailers=True)
    decoder = AwsChunkedDecoder(ctx, decoded_length=3, trailer_header="x-amz-checksum-crc32")
    assert decode(decoder, body, "bytes") == (b"abc", trailers)


def test_constructor_checks() -> None:
    with pytest.raises(S3Error):
        AwsChunkedDecoder(make_ctx(UNSIGNED_PAYLOAD), decoded_length=None, trailer_header=None)
    anonymous = AuthContext(None, "anonymous", STREAMING_PAYLOAD)
    with pytest.raises(S3Error):
        AwsChunkedDecoder(anonymous, decoded_length=None, trailer_header=None)
    # Anonymous unsigned-trailer uploads need no key.
    anonymous = AuthContext(None, "anonymous", STREAMING_UNSIGNED_TRAILER)
    body = encode([b"abc"])
    assert decode(AwsChunkedDecoder(anonymous, decoded_length=3, trailer_header=None), body)[0] == b"abc"


# ---- boto3's own bodies ------------------------------------------------------------------------


def test_boto3_unsigned_trailer_body() -> None:
    captured: list[tuple[str, str, dict[str, str], bytes]] = []

    def hook(request, **_: object) -> AWSResponse:  # type: ignore[no-untyped-def]
        body = request.body.read() if hasattr(request.body, "read") else request.body
        headers = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        captured.append((request.method, request.url, headers, body))

        class Raw:
            def stream(self, **_: object):  # type: ignore[no-untyped-def]
                return iter([b""])

        return AWSResponse(request.url, 200, {"ETag": '"e"'}, Raw())

    client = boto3.client(
        "s3", endpoint_url="https://s3.example.test", aws_access_key_id=AK,
        aws_secret_access_key=SK, region_name="us-east-1",
    )  # fmt: skip
    client.meta.events.register("before-send", hook)
    payload = os.urandom(3 * 1024 * 1024 + 17)
    for algorithm in ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"):
        client.put_object(Bucket="b", Key="k", Body=io.BytesIO(payload), ChecksumAlgorithm=algorithm)
    assert len(captured) == 5
    for method, url, headers, body in captured:
        parts = urlsplit(url)
        ctx = authenticate(method, parts.path, parts.query, headers, lookup)
        assert ctx.payload_hash == STREAMING_UNSIGNED_TRAILER
        decoder = AwsChunkedDecoder(
            ctx, decoded_length=int(headers["x-amz-decoded-content-length"]),
            trailer_header=headers["x-amz-trailer"],
        )  # fmt: skip
        data, trailers = decode(decoder, body, "7")
        assert data == payload
        ((name, value),) = trailers.items()
        c = Checksum(name.removeprefix("x-amz-checksum-"))
        c.update(data)
        assert c.b64() == value


def test_large_body_fed_in_pieces() -> None:
    """32 signed 1 MiB chunks fed 64 KiB at a time (its speed: python -m bench.micro)."""
    ctx = make_ctx(STREAMING_PAYLOAD)
    chunk = os.urandom(1024 * 1024)
    body = encode([chunk] * 32, ctx=ctx)
    decoder = AwsChunkedDecoder(ctx, decoded_length=len(chunk) * 32, trailer_header=None)
    out = bytearray()
    for i in range(0, len(body), 65536):
        out += decoder.feed(body[i : i + 65536])
    decoder.finish()
    assert out == chunk * 32

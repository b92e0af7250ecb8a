"""Micro-benchmarks of request-path code that unit tests used to time with the wall clock
(a speed bound in a test fails on a loaded machine and proves nothing on an idle one):

- aws-chunked decoding of a signed 32 MiB body, against hashlib.sha256 over the same bytes
  (the decoder must hash every chunk to check its signature, so sha256 is its floor);
- SigV4 verification of a header-signed PUT (``api.auth.signature.authenticate``), against
  signing the same request with bench.sigv4's signer (one canonical request, one SHA-256,
  one HMAC: the least any verifier must do).

Each figure is the best of several rounds, printed with its baseline measured in the same
run, so the ratio compares code, not machines.

    python -m bench.micro          # a few seconds
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import time
from collections.abc import Callable

from api.auth.chunked import AwsChunkedDecoder
from api.auth.signature import authenticate
from api.auth.signing import EMPTY_SHA256, STREAMING_PAYLOAD, AuthContext, derive_signing_key
from bench.sigv4 import Signer

MiB = 1024 * 1024
ACCESS_KEY, SECRET_KEY = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def best_of(rounds: int, run: Callable[[], None]) -> float:
    """Seconds of the fastest of ROUNDS runs."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def signed_chunked_body(ctx: AuthContext, chunks: list[bytes]) -> bytes:
    """aws-chunked framing with each chunk's signature chained from the seed."""
    assert ctx.signing_key and ctx.amz_date and ctx.scope and ctx.seed_signature
    out, previous = bytearray(), ctx.seed_signature
    for chunk in [*chunks, b""]:
        string_to_sign = "\n".join(
            ["AWS4-HMAC-SHA256-PAYLOAD", ctx.amz_date, ctx.scope, previous, EMPTY_SHA256,
             hashlib.sha256(chunk).hexdigest()]
        )  # fmt: skip
        previous = hmac.new(ctx.signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        out += f"{len(chunk):x};chunk-signature={previous}\r\n".encode()
        if chunk:
            out += chunk + b"\r\n"
    return bytes(out + b"\r\n")


def chunked_decode(rounds: int) -> tuple[float, float]:
    """(decoder seconds, sha256 seconds) for 32 MiB in 1 MiB chunks fed 64 KiB at a time."""
    key = derive_signing_key(SECRET_KEY, "20240101", "us-east-1", "s3")
    ctx = AuthContext(
        ACCESS_KEY, "header", STREAMING_PAYLOAD, key, "f" * 64,
        "20240101/us-east-1/s3/aws4_request", "20240101T000000Z", "us-east-1", "s3",
    )  # fmt: skip
    chunks = [os.urandom(MiB)] * 32
    body = signed_chunked_body(ctx, chunks)

    def decode() -> None:
        decoder = AwsChunkedDecoder(ctx, decoded_length=32 * MiB, trailer_header=None)
        total = 0
        for i in range(0, len(body), 65536):
            total += len(decoder.feed(body[i : i + 65536]))
        decoder.finish()
        assert total == 32 * MiB

    def sha256_only() -> None:
        digest = hashlib.sha256()
        for chunk in chunks:
            digest.update(chunk)

    return best_of(rounds, decode), best_of(rounds, sha256_only)


def sigv4_verify(rounds: int, calls: int) -> tuple[float, float]:
    """(authenticate seconds per call, signing seconds per call) for a header-signed PUT."""
    signer = Signer(ACCESS_KEY, SECRET_KEY)
    host, path = "localhost:9000", "/bucket/some/key.txt"
    payload_hash = hashlib.sha256(b"x").hexdigest()
    headers = {k.lower(): v for k, v in signer.headers("PUT", host, path, payload_hash=payload_hash).items()}
    lookup = {ACCESS_KEY: SECRET_KEY}.get
    assert authenticate("PUT", path, "", headers, lookup).access_key == ACCESS_KEY

    def verify() -> None:
        for _ in range(calls):
            authenticate("PUT", path, "", headers, lookup)

    def sign() -> None:
        for _ in range(calls):
            signer.headers("PUT", host, path, payload_hash=payload_hash)

    return best_of(rounds, verify) / calls, best_of(rounds, sign) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds per figure (best kept)")
    args = parser.parse_args()

    decode_s, sha_s = chunked_decode(args.rounds)
    print(
        f"aws-chunked decode 32 MiB: {32 / decode_s:8.0f} MiB/s   "
        f"sha256 alone: {32 / sha_s:8.0f} MiB/s   ratio decode/sha256 time {decode_s / sha_s:.2f}"
    )
    verify_s, sign_s = sigv4_verify(args.rounds, calls=2000)
    print(
        f"SigV4 authenticate:        {verify_s * 1e6:8.1f} us/call  "
        f"signing alone: {sign_s * 1e6:6.1f} us/call  ratio verify/sign {verify_s / sign_s:.2f}"
    )


if __name__ == "__main__":
    main()

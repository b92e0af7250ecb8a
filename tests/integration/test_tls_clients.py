"""Real clients' body encodings end to end: boto3 over HTTPS (aws-chunked with a trailing
CRC, STREAMING-UNSIGNED-PAYLOAD-TRAILER), boto3 over HTTP with and without request
checksums, and the signed streaming variants (STREAMING-AWS4-HMAC-SHA256-PAYLOAD and
-TRAILER) built with the unit tests' independent chunk signer and sent raw."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import os
import warnings
import zlib

import pytest
from awscrt import checksums as crt
from boto3.s3.transfer import TransferConfig

from api.auth.signing import AuthContext
from tests.conftest import unique_bucket_name
from tests.helpers.s3 import md5_etag, s3_error
from tests.integration.test_bad_input import (
    RawResponse,
    assert_s3_error,
    exchange,
    no_traceback_in_server_log,  # noqa: F401 - autouse here too: the shared server's log stays clean
    object_path,
    sign,
)
from tests.unit.test_chunked import encode

MiB = 1024 * 1024
STREAMING_PAYLOAD = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_PAYLOAD_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def expected_checksum(algorithm: str, data: bytes) -> str:
    if algorithm == "CRC32":
        return b64(zlib.crc32(data).to_bytes(4, "big"))
    if algorithm == "CRC32C":
        return b64(crt.crc32c(data).to_bytes(4, "big"))
    if algorithm == "CRC64NVME":
        return b64(crt.crc64nvme(data).to_bytes(8, "big"))
    if algorithm == "SHA1":
        return b64(hashlib.sha1(data).digest())
    if algorithm == "SHA256":
        return b64(hashlib.sha256(data).digest())
    raise ValueError(algorithm)


class Captured:
    """Headers of every request a boto3 client sends (a before-send hook)."""

    def __init__(self, client) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        client.meta.events.register("before-send.s3", self._hook)

    def _hook(self, request, **kwargs):  # type: ignore[no-untyped-def]
        headers = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        op = kwargs.get("event_name", "").rsplit(".", 1)[-1]
        self.requests.append((op, headers))
        return None  # send it for real

    def of(self, operation: str) -> list[dict[str, str]]:
        return [h for op, h in self.requests if op == operation]


@pytest.fixture(scope="module")
def tls_server(session_server_factory):
    return session_server_factory("sqlite", tls=True)


@pytest.fixture
def tls_s3(tls_server):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = tls_server.client()
    return client


@pytest.fixture(autouse=True)
def quiet_insecure_warnings():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Unverified HTTPS request")
        yield


def new_bucket(client) -> str:
    name = unique_bucket_name("cli")
    client.create_bucket(Bucket=name)
    return name


def assert_clean_log(srv) -> None:
    text = srv.stderr_text()
    assert "Traceback" not in text, f"server log has a traceback:\n{text[-4000:]}"


# ---- boto3 over HTTPS -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 100_000, 3 * MiB + 17])
def test_https_put_object_sends_unsigned_trailer_and_roundtrips(tls_server, tls_s3, size):
    bucket = new_bucket(tls_s3)
    cap = Captured(tls_s3)
    body = os.urandom(size)
    put = tls_s3.put_object(Bucket=bucket, Key="obj", Body=body)
    assert put["ETag"] == md5_etag(body)
    (sent,) = cap.of("PutObject")
    if size:
        # What boto3 >= 1.36 sends over TLS: this test exercises the aws-chunked path.
        assert sent["x-amz-content-sha256"] == STREAMING_UNSIGNED_TRAILER, sent
        assert sent["x-amz-trailer"] == "x-amz-checksum-crc32", sent
    crc = expected_checksum("CRC32", body)
    assert put["ChecksumCRC32"] == crc
    got = tls_s3.get_object(Bucket=bucket, Key="obj", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got["ContentLength"] == size
    assert got["ChecksumCRC32"] == crc
    head = tls_s3.head_object(Bucket=bucket, Key="obj", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == crc
    assert head["ContentLength"] == size
    listed = tls_s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [("obj", size)]
    assert_clean_log(tls_server)


@pytest.mark.parametrize("algorithm", ["CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_https_put_object_other_checksum_algorithms(tls_s3, algorithm):
    bucket = new_bucket(tls_s3)
    cap = Captured(tls_s3)
    body = os.urandom(700_000)
    put = tls_s3.put_object(Bucket=bucket, Key="obj", Body=body, ChecksumAlgorithm=algorithm)
    (sent,) = cap.of("PutObject")
    assert sent["x-amz-trailer"] == f"x-amz-checksum-{algorithm.lower()}", sent
    want = expected_checksum(algorithm, body)
    assert put[f"Checksum{algorithm}"] == want
    got = tls_s3.get_object(Bucket=bucket, Key="obj", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got[f"Checksum{algorithm}"] == want


def test_https_upload_fileobj_20mib_multipart(tls_server, tls_s3):
    bucket = new_bucket(tls_s3)
    cap = Captured(tls_s3)
    body = os.urandom(20 * MiB)
    cfg = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB, max_concurrency=4)
    tls_s3.upload_fileobj(io.BytesIO(body), bucket, "big", Config=cfg)
    parts = cap.of("UploadPart")
    assert len(parts) == 3, [op for op, _ in cap.requests]
    assert {h["x-amz-content-sha256"] for h in parts} == {STREAMING_UNSIGNED_TRAILER}

    out = io.BytesIO()
    tls_s3.download_fileobj(bucket, "big", out, Config=cfg)
    assert out.getvalue() == body
    head = tls_s3.head_object(Bucket=bucket, Key="big", ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(body)
    part_md5s = b"".join(hashlib.md5(body[i : i + 8 * MiB]).digest() for i in range(0, len(body), 8 * MiB))
    assert head["ETag"] == f'"{hashlib.md5(part_md5s).hexdigest()}-3"'
    got = tls_s3.get_object(Bucket=bucket, Key="big", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    crc = got.get("ChecksumCRC32")
    assert crc, f"no checksum returned with ChecksumMode=ENABLED: {sorted(got)}"
    if got.get("ChecksumType") == "FULL_OBJECT":
        assert crc == expected_checksum("CRC32", body)
    else:  # COMPOSITE: the CRC of the parts' CRCs, "-N"
        per_part = b"".join(
            base64.b64decode(expected_checksum("CRC32", body[i : i + 8 * MiB])) for i in range(0, len(body), 8 * MiB)
        )
        assert crc == f"{expected_checksum('CRC32', per_part)}-3"
    assert_clean_log(tls_server)


# ---- boto3 over HTTP -------------------------------------------------------------------------


@pytest.mark.parametrize("calculation", ["when_supported", "when_required"])
def test_http_put_and_multipart_with_request_checksum_setting(server, calculation):
    s3 = server.client(request_checksum_calculation=calculation)
    bucket = new_bucket(s3)
    cap = Captured(s3)
    small = os.urandom(200_000)
    put = s3.put_object(Bucket=bucket, Key="small", Body=small)
    (sent,) = cap.of("PutObject")
    if calculation == "when_supported":
        # Over plain HTTP boto3 sends the CRC as a header and signs the payload's SHA-256.
        assert sent["x-amz-checksum-crc32"] == expected_checksum("CRC32", small), sent
        assert sent["x-amz-content-sha256"] == hashlib.sha256(small).hexdigest(), sent
        assert put["ChecksumCRC32"] == expected_checksum("CRC32", small)
    else:
        assert not any(k.startswith("x-amz-checksum-") for k in sent), sent
        assert "x-amz-trailer" not in sent, sent
    got = s3.get_object(Bucket=bucket, Key="small", ChecksumMode="ENABLED")
    assert got["Body"].read() == small
    if calculation == "when_supported":
        assert got["ChecksumCRC32"] == expected_checksum("CRC32", small)

    big = os.urandom(12 * MiB)
    cfg = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    s3.upload_fileobj(io.BytesIO(big), bucket, "big", Config=cfg)
    assert len(cap.of("UploadPart")) == 3
    out = io.BytesIO()
    s3.download_fileobj(bucket, "big", out)
    assert out.getvalue() == big
    assert s3.head_object(Bucket=bucket, Key="big")["ETag"].endswith('-3"')


def test_http_wrong_checksum_from_boto3_is_bad_digest(server, s3):
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"old")
    with s3_error("BadDigest", 400):
        s3.put_object(Bucket=bucket, Key="k", Body=b"new", ChecksumCRC32=expected_checksum("CRC32", b"x"))
    with s3_error("BadDigest", 400):
        s3.put_object(Bucket=bucket, Key="k", Body=b"new", ChecksumSHA256=expected_checksum("SHA256", b"x"))
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"old"


# ---- signed streaming bodies, sent raw ------------------------------------------------------


def _signing_key(secret: str, date: str, region: str = "us-east-1") -> bytes:
    k = hmac.digest(("AWS4" + secret).encode(), date.encode(), "sha256")
    for part in (region, "s3", "aws4_request"):
        k = hmac.digest(k, part.encode(), "sha256")
    return k


def chunked_put(
    srv,
    bucket: str,
    key: str,
    chunks: list[bytes],
    mode: str,
    *,
    trailer_algo: str | None = None,
    trailer_value: str | None = None,
    tamper=None,
    decoded_length: int | None = None,
    extra_headers: dict[str, str] | None = None,
) -> RawResponse:
    """PUT CHUNKS as an aws-chunked body in MODE; TAMPER(body: bytearray) may alter the
    encoded bytes after signing."""
    payload = b"".join(chunks)
    path = object_path(bucket, key)
    headers = {
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(payload) if decoded_length is None else decoded_length),
        **(extra_headers or {}),
    }
    trailers = None
    if trailer_algo:
        name = f"x-amz-checksum-{trailer_algo.lower()}"
        headers["x-amz-trailer"] = name
        trailers = {name: trailer_value or expected_checksum(trailer_algo, payload)}
    signed = sign(srv, "PUT", path, headers=headers, payload_hash=mode)
    amz_date = signed["X-Amz-Date"]
    seed = signed["Authorization"].rsplit("Signature=", 1)[1]
    ctx = None
    if mode != STREAMING_UNSIGNED_TRAILER:
        ctx = AuthContext(
            srv.access_key, "header", mode,
            signing_key=_signing_key(srv.secret_key, amz_date[:8]),
            seed_signature=seed,
            scope=f"{amz_date[:8]}/us-east-1/s3/aws4_request",
            amz_date=amz_date, region="us-east-1", service="s3",
        )  # fmt: skip
    body = bytearray(encode(chunks, ctx=ctx, trailers=trailers))
    if tamper is not None:
        tamper(body)
    signed["Content-Length"] = str(len(body))
    signed["Connection"] = "close"
    return exchange(srv, "PUT", path, signed, bytes(body))


CHUNKS = {
    "small": [b"hello ", b"chunked ", b"world"],
    "file": [os.urandom(64 * 1024), os.urandom(64 * 1024), os.urandom(100_000), os.urandom(17)],
}


@pytest.mark.parametrize("shape", ["small", "file"])
@pytest.mark.parametrize(
    "mode,trailer",
    [
        (STREAMING_PAYLOAD, None),
        (STREAMING_PAYLOAD_TRAILER, "CRC32"),
        (STREAMING_PAYLOAD_TRAILER, "CRC64NVME"),
        (STREAMING_UNSIGNED_TRAILER, "CRC32C"),
    ],
)
def test_streaming_body_stored_correctly(server, s3, mode, trailer, shape):
    bucket = new_bucket(s3)
    chunks = CHUNKS[shape]
    payload = b"".join(chunks)
    resp = chunked_put(server, bucket, "obj", chunks, mode, trailer_algo=trailer)
    assert resp.status == 200, resp
    assert resp.headers["etag"] == md5_etag(payload)
    got = s3.get_object(Bucket=bucket, Key="obj", ChecksumMode="ENABLED")
    data = got["Body"].read()
    assert data == payload  # no chunk framing or signatures leaked into the object
    assert got["ContentLength"] == len(payload)
    assert got["ETag"] == md5_etag(payload)
    if trailer:
        assert got[f"Checksum{trailer}"] == expected_checksum(trailer, payload)


def _flip_in_last_chunk(body: bytearray) -> None:
    # The final data chunk ends just before "\r\n0;chunk-signature=" (or "\r\n0\r\n").
    end = body.rindex(b"\r\n0")
    body[end - 3] ^= 0x01


@pytest.mark.parametrize("shape", ["small", "file"])
@pytest.mark.parametrize("mode", [STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER])
def test_streaming_tampered_chunk_is_signature_does_not_match(server, s3, mode, shape):
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="exists", Body=b"old")
    trailer = "CRC32" if mode == STREAMING_PAYLOAD_TRAILER else None
    for key in ("new", "exists"):
        resp = chunked_put(
            server, bucket, key, CHUNKS[shape], mode, trailer_algo=trailer,
            tamper=_flip_in_last_chunk,
        )  # fmt: skip
        assert_s3_error(resp, 403, "SignatureDoesNotMatch")
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="new")
    assert s3.get_object(Bucket=bucket, Key="exists")["Body"].read() == b"old"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["exists"]


def test_streaming_tampered_chunk_signature_is_rejected(server, s3):
    bucket = new_bucket(s3)

    def swap_signature(body: bytearray) -> None:
        i = body.index(b"chunk-signature=") + len("chunk-signature=")
        body[i] = ord("0") if body[i] != ord("0") else ord("1")

    resp = chunked_put(server, bucket, "k", CHUNKS["file"], STREAMING_PAYLOAD, tamper=swap_signature)
    assert_s3_error(resp, 403, "SignatureDoesNotMatch")
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="k")


def test_streaming_tampered_trailer_is_signature_does_not_match(server, s3):
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"old")
    payload = b"".join(CHUNKS["file"])
    good = expected_checksum("CRC32", payload)
    other = expected_checksum("CRC32", payload + b"!")

    def swap_trailer(body: bytearray) -> None:
        i = body.rindex(good.encode())
        body[i : i + len(good)] = other.encode()

    resp = chunked_put(
        server, bucket, "k", CHUNKS["file"], STREAMING_PAYLOAD_TRAILER, trailer_algo="CRC32",
        tamper=swap_trailer,
    )  # fmt: skip
    assert_s3_error(resp, 403, "SignatureDoesNotMatch")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"old"


@pytest.mark.parametrize("mode", [STREAMING_PAYLOAD_TRAILER, STREAMING_UNSIGNED_TRAILER])
def test_streaming_wrong_trailer_checksum_is_bad_digest(server, s3, mode):
    """A correctly signed trailer whose checksum does not match the data."""
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"old")
    wrong = expected_checksum("CRC32", b"something else")
    resp = chunked_put(server, bucket, "k", CHUNKS["file"], mode, trailer_algo="CRC32", trailer_value=wrong)
    assert_s3_error(resp, 400, "BadDigest")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"old"


@pytest.mark.parametrize("mode", [STREAMING_PAYLOAD, STREAMING_UNSIGNED_TRAILER])
def test_aws_chunked_shorter_than_decoded_length_is_incomplete_body(server, s3, mode):
    """The whole request arrives, but the chunks hold fewer bytes than
    x-amz-decoded-content-length declares."""
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"old")
    chunks = CHUNKS["file"]
    declared = sum(map(len, chunks)) + 1000
    trailer = "CRC32" if mode == STREAMING_UNSIGNED_TRAILER else None
    for key in ("k", "new"):
        resp = chunked_put(server, bucket, key, chunks, mode, trailer_algo=trailer, decoded_length=declared)
        assert_s3_error(resp, 400, "IncompleteBody")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"old"
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="new")


def test_streaming_upload_part(server, s3):
    """UploadPart with a signed streaming body, then Complete: the object is the parts."""
    bucket = new_bucket(s3)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    p1 = [os.urandom(MiB)] * 5  # 5 MiB in 1 MiB chunks
    p2 = [b"tail"]
    etags = []
    for n, chunks in ((1, p1), (2, p2)):
        path = object_path(bucket, "mp")
        payload = b"".join(chunks)
        headers = {
            "Content-Encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(len(payload)),
        }
        query = f"partNumber={n}&uploadId={upload}"
        signed = sign(server, "PUT", path, query, headers, payload_hash=STREAMING_PAYLOAD)
        amz_date = signed["X-Amz-Date"]
        ctx = AuthContext(
            server.access_key, "header", STREAMING_PAYLOAD,
            signing_key=_signing_key(server.secret_key, amz_date[:8]),
            seed_signature=signed["Authorization"].rsplit("Signature=", 1)[1],
            scope=f"{amz_date[:8]}/us-east-1/s3/aws4_request", amz_date=amz_date,
        )  # fmt: skip
        body = encode(chunks, ctx=ctx)
        signed["Content-Length"] = str(len(body))
        signed["Connection"] = "close"
        resp = exchange(server, "PUT", f"{path}?{query}", signed, body)
        assert resp.status == 200, resp
        assert resp.headers["etag"] == md5_etag(payload)
        etags.append({"PartNumber": n, "ETag": resp.headers["etag"]})
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": etags})
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"".join(p1 + p2)

"""Large GETs over plain HTTP leave the blob files with sendfile (api.http.zerocopy): the bytes,
ranges across multipart segments, part numbers, and clients that go away mid-body."""

from __future__ import annotations

import http.client
import os
import socket
import urllib.parse

from tests.helpers.s3 import raw_get

MiB = 1024 * 1024


def _multipart(s3, bucket: str, key: str, parts: list[bytes]) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    done = []
    for n, body in enumerate(parts, start=1):
        etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=n, Body=body)["ETag"]
        done.append({"PartNumber": n, "ETag": etag})
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": done})


def test_large_objects_ranges_and_parts_come_back_byte_exact(server, s3, bucket):
    single = os.urandom(3 * MiB + 5)
    s3.put_object(Bucket=bucket, Key="single", Body=single)
    parts = [os.urandom(5 * MiB), os.urandom(MiB + 3)]
    whole = b"".join(parts)
    _multipart(s3, bucket, "multi", parts)

    assert s3.get_object(Bucket=bucket, Key="single")["Body"].read() == single
    assert s3.get_object(Bucket=bucket, Key="multi")["Body"].read() == whole
    # A range that starts in the first part's file and ends in the second's.
    rng = s3.get_object(Bucket=bucket, Key="multi", Range=f"bytes={5 * MiB - 300_000}-{5 * MiB + 299_999}")
    assert rng["ContentRange"] == f"bytes {5 * MiB - 300_000}-{5 * MiB + 299_999}/{len(whole)}"
    assert rng["Body"].read() == whole[5 * MiB - 300_000 : 5 * MiB + 300_000]
    assert s3.get_object(Bucket=bucket, Key="multi", PartNumber=2)["Body"].read() == parts[1]
    tail = s3.get_object(Bucket=bucket, Key="single", Range="bytes=-400000")["Body"].read()
    assert tail == single[-400_000:]
    assert "Traceback" not in server.stderr_text()


def test_client_leaving_mid_body_does_not_disturb_the_server(server, s3, bucket):
    body = os.urandom(16 * MiB)
    s3.put_object(Bucket=bucket, Key="big", Body=body)
    url = urllib.parse.urlsplit(
        s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "big"}, ExpiresIn=600)
    )
    s3.put_object(Bucket=bucket, Key="small", Body=b"small object")
    small_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "small"}, ExpiresIn=600)
    for _ in range(6):
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        conn.request("GET", f"{url.path}?{url.query}")
        resp = conn.getresponse()
        assert resp.status == 200
        resp.read(64 * 1024)
        # Reset, not a polite close: the server's next write fails at once.
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()
        # The next connections (which may get the reset one's descriptor number on the
        # server) see their own answers, never the rest of the abandoned body.
        for _ in range(3):
            status, _headers, got = raw_get(small_url)
            assert status == 200 and got == b"small object"

    status, headers, got = raw_get(
        s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "big"}, ExpiresIn=600)
    )
    assert status == 200 and got == body
    log = server.stderr_text()
    assert "Traceback" not in log
    # An abandoned body is the client's doing, not an application fault worth an error line.
    assert "without completing response" not in log

"""Small helpers for asserting S3 behaviour through boto3 and raw HTTP."""

from __future__ import annotations

import contextlib
import hashlib
import ssl
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

import pytest
from botocore.exceptions import ClientError


@contextlib.contextmanager
def s3_error(code: str | None = None, status: int | None = None):
    """Expect a boto3 ClientError with the given S3 error Code and HTTP status.

    HEAD responses have no body, so boto3 reports their Code as the status
    number ("404"): pass code=None for those and check the status only.
    """
    with pytest.raises(ClientError) as exc_info:
        yield exc_info
    err = exc_info.value.response
    got_status = err["ResponseMetadata"]["HTTPStatusCode"]
    got_code = err.get("Error", {}).get("Code")
    if status is not None:
        assert got_status == status, f"expected HTTP {status}, got {got_status} ({err.get('Error')})"
    if code is not None:
        assert got_code == code, f"expected error Code {code!r}, got {got_code!r} ({err.get('Error')})"


def md5_etag(data: bytes) -> str:
    return '"' + hashlib.md5(data).hexdigest() + '"'


def raw_get(url: str, method: str = "GET", headers: dict | None = None, data: bytes | None = None):
    """(status, headers, body) of a plain HTTP request (e.g. to a presigned URL)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(req, timeout=30, context=ctx) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def parse_error_xml(body: bytes) -> dict[str, str]:
    """The child elements of an S3 <Error> document, namespace stripped."""
    root = ET.fromstring(body)
    assert root.tag.split("}")[-1] == "Error", f"not an <Error> document: {body[:300]!r}"
    return {child.tag.split("}")[-1]: (child.text or "") for child in root}

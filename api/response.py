"""What handlers return; the app writes it to the ASGI channel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

XML_TYPE = "application/xml"


@dataclass
class FileBody:
    """A body read from blob files: sent with sendfile where the connection allows."""

    spans: list[tuple[str, int, int]]  # file, offset, count


@dataclass
class Response:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | AsyncIterator[bytes] | FileBody = b""
    length: int | None = None  # Content-Length for streamed bodies


def xml(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    h = {"content-type": XML_TYPE}
    if headers:
        h.update(headers)
    return Response(status, h, body)


def empty(status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, headers or {}, b"")

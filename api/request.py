"""S3Request: what a handler needs to know about one HTTP request, parsed once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

from api.errors import S3Error
from api.s3.body import DecodedBody

Receive = Callable[[], Awaitable[dict[str, Any]]]

DEFAULT_BODY_TIMEOUT = 20.0


@dataclass
class S3Request:
    method: str
    raw_path: str
    query_string: str
    headers: dict[str, str]
    receive: Receive
    client_ip: str
    request_id: str
    scheme: str
    origin: str = ""  # this node's endpoint as the client reached it, "http://10.0.0.1:9000"
    bucket: str = ""
    key: str = ""
    query: dict[str, str] = field(default_factory=dict)
    auth: Any = None
    identity: Any = None
    bucket_facts: Any = None  # (bucket, (row, policy)) read together with the credential
    prefetched_version: Any = None  # (versionId, ("row"|"error", value)) for GET/HEAD object
    body_bytes: int = 0  # wire body bytes read so far (MinIO's S3 traffic received)
    operation: str = ""  # the S3 operation the router found (its AWS name), for the request audit
    answered_error: str = ""  # the S3 error code answered, if any (the request audit records it)
    body_timeout: float = DEFAULT_BODY_TIMEOUT  # seconds the body may stall (the server's setting)
    _body_used: bool = False

    @property
    def resource(self) -> str:
        if self.key:
            return f"/{self.bucket}/{self.key}"
        if self.bucket:
            return f"/{self.bucket}"
        return "/"

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)

    @property
    def access_key(self) -> str:
        return (self.auth.access_key or "") if self.auth is not None else ""

    @property
    def principal(self) -> str:
        """Whose permissions apply: the parent user of a service account or session."""
        return self.identity.user if self.identity is not None else self.access_key

    def actor(self) -> dict[str, str]:
        return {
            "access_key": self.access_key,
            "parent_user": self.principal,
            "source_ip": self.client_ip,
            "user_agent": self.headers.get("user-agent", ""),
            "request_id": self.request_id,
            "node": self.origin,
        }

    async def raw_body(self) -> AsyncIterator[bytes]:
        """The wire body, checked against Content-Length and against stalls."""
        if self._body_used:
            raise RuntimeError("body already consumed")
        self._body_used = True
        declared = self.headers.get("content-length")
        expected = int(declared) if declared is not None and declared.isdigit() else None
        received = 0
        ready = _ready_flag(self.receive)
        while True:
            if ready is not None and ready.is_set():
                message = await self.receive()  # answers at once: no timer needed
            else:
                try:
                    async with asyncio.timeout(self.body_timeout):  # cheaper than wait_for: no task
                        message = await self.receive()
                except TimeoutError as exc:
                    raise S3Error("RequestTimeout") from exc
            if message["type"] == "http.disconnect":
                raise S3Error("IncompleteBody")
            chunk = message.get("body", b"")
            if chunk:
                received += len(chunk)
                self.body_bytes = received
                yield chunk
            if not message.get("more_body", False):
                break
        if expected is not None and received < expected:
            raise S3Error("IncompleteBody")

    async def until_client_leaves(self) -> None:
        """Returns when a client that sends no more than its request is gone: it disconnected,
        it closed its side of the connection, or the server is stopping. For the streams
        (listen API, event stream), which send until then.

        The protocol keeps a half-closed connection open for the response, so a client's EOF
        arrives as one more (empty) message after the request's body, as does the server's
        shutdown (api/http/protocol.py); either way, nothing more will come from the client."""
        body_done = self._body_used  # a handler that read the body read it whole
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect" or body_done:
                return
            body_done = not message.get("more_body", False)

    async def read_all(self, limit: int = 10 * 1024 * 1024, *, object_checksums: bool = True) -> bytes:
        """Small documents (XML bodies), verified like any body (Content-MD5, checksums)."""
        body = DecodedBody(self, want_md5=False, object_checksums=object_checksums)
        buf = bytearray()
        async for chunk in body.chunks():
            buf += chunk
            if len(buf) > limit:
                raise S3Error("MaxMessageLengthExceeded")
        body.sink(bytes(buf))
        body.verify()
        return bytes(buf)


def _ready_flag(receive: Receive) -> asyncio.Event | None:
    """uvicorn's receive() waits on its cycle's message_event only while it is unset (no
    body bytes buffered, nor the end of the body): when it is set, receive() returns without
    waiting, and a small body (most PUTs) needs no RequestTimeout timer. None for another
    server's receive: every call then runs under the timer."""
    event = getattr(getattr(receive, "__self__", None), "message_event", None)
    return event if isinstance(event, asyncio.Event) else None


def decode_path(raw_path: str) -> str:
    """The request path as text: percent-decoded, its bytes strictly UTF-8. AWS answers
    InvalidURI for bytes that are not UTF-8; replacing them instead made distinct keys
    (a%FF%FEb, a%FE%FFb) one key."""
    if "%" not in raw_path and raw_path.isascii():
        return raw_path
    try:
        return unquote_to_bytes(raw_path.encode("latin-1")).decode("utf-8")
    except UnicodeError as exc:
        raise S3Error("InvalidURI") from exc


def split_path(raw_path: str, host: str, domain: str | None) -> tuple[str, str]:
    """(bucket, key) from virtual-host style when Host is <bucket>.<domain>, else path style."""
    path = decode_path(raw_path)
    hostname = host.rsplit(":", 1)[0] if host and not host.startswith("[") else host
    if domain and hostname and hostname != domain and hostname.endswith("." + domain):
        bucket = hostname[: -len(domain) - 1]
        return bucket, path[1:] if path.startswith("/") else path
    trimmed = path[1:] if path.startswith("/") else path
    if not trimmed:
        return "", ""
    bucket, _, key = trimmed.partition("/")
    return bucket, key


def parse_query(query_string: str) -> dict[str, str]:
    """The query parameters, percent-decoded as strict UTF-8 (InvalidURI otherwise, as for
    the path: a prefix or marker with its bytes replaced would address other keys)."""
    try:
        return dict(parse_qsl(query_string, keep_blank_values=True, errors="strict"))
    except UnicodeError as exc:
        raise S3Error("InvalidURI") from exc

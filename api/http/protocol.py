"""uvicorn's httptools protocol, taught to answer a client that half-closes its side, to
bound how long a request head may take, to cap the connections one process serves, and to
end the streams when the server stops.

Half-close: a client that sends part of a body and shuts down its write side still
listens; S3 tells it IncompleteBody. uvicorn's protocol lets asyncio close the connection
on EOF, so the answer would be lost: here the body simply ends, the app sees it short, and
the response goes out before the connection closes.

Request head deadline: uvicorn only times out a connection that stays silent after a
response (keep-alive). A new connection that never speaks, or one that trickles a header
byte every few seconds, was never closed, and a few hundred of them took every file
descriptor. Here the request line and headers must be complete within
`header_timeout` of the connection opening, or of the first byte after a response.

Connection cap: past `max_connections`, a new connection's request is answered
`503 SlowDown` (what S3 tells a client to back off with) and the connection closed; past
the cap and its overflow room, it is closed at once, so the descriptors a process holds
stay bounded whatever clients do.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.app import request_id
from api.errors import S3Error
from api.http.connection_limits import ConnectionLimits

# A connection over the cap is given this long (at most) to send the request it is
# refused: it holds a descriptor beyond the budget meanwhile.
OVER_CAP_HEAD_SECONDS = 5.0


class HalfCloseAwareHttpToolsProtocol(HttpToolsProtocol):
    def eof_received(self) -> bool | None:  # type: ignore[override]
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.more_body = False
            cycle.keep_alive = False
            cycle.message_event.set()
            return True  # keep the transport open for the response
        return None

    def shutdown(self) -> None:
        """The server is stopping (SIGTERM): uvicorn waits for every response in flight to
        finish, and a stream (listen API, event stream) never finishes by itself; a server
        with one subscriber never stopped. A request whose body was received whole is woken
        with one more empty message, which a stream takes as its client leaving
        (S3Request.until_client_leaves); other handlers do not read past the body and finish
        as before, as do requests still receiving a body."""
        super().shutdown()
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and not cycle.more_body:
            cycle.message_event.set()


class LimitedHttpProtocol(HalfCloseAwareHttpToolsProtocol):
    """Use `limited_protocol(limits)`: the limits are a class attribute because uvicorn
    makes each connection's protocol from the class alone."""

    limits: ClassVar[ConnectionLimits] = ConnectionLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None
        self._head_bytes_seen = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        held = len(self.connections)  # this one included
        limits = self.limits
        if held > limits.descriptors:
            transport.close()
            return
        head_timeout = limits.header_timeout
        if held > limits.max_connections:
            self.app = slow_down  # every request here is refused; the response closes it
            head_timeout = min(head_timeout, OVER_CAP_HEAD_SECONDS)
        self._arm_head_deadline(head_timeout)

    def data_received(self, data: bytes) -> None:
        if self._head_deadline is None and (self.cycle is None or self.cycle.response_complete):
            # The first byte of the next request on a kept-alive connection.
            self._arm_head_deadline(self.limits.header_timeout)
        self._head_bytes_seen = True
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._disarm_head_deadline()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def _arm_head_deadline(self, seconds: float) -> None:
        self._disarm_head_deadline()
        self._head_bytes_seen = False
        self._head_deadline = self.loop.call_later(seconds, self._head_deadline_passed)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_deadline_passed(self) -> None:
        self._head_deadline = None
        if self.transport.is_closing():
            return
        if self._head_bytes_seen:
            # Part of a request came: say why it is dropped, as S3 does for a stalled client.
            self.transport.write(_error_response(S3Error("RequestTimeout"), resource=""))
        self.transport.close()


def limited_protocol(limits: ConnectionLimits) -> type[LimitedHttpProtocol]:
    return type("LimitedHttpProtocol", (LimitedHttpProtocol,), {"limits": limits})


async def slow_down(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The ASGI app of a connection over the cap: 503 SlowDown, then close."""
    err = S3Error("SlowDown")
    rid = request_id()
    body = err.to_xml(scope.get("path", "/"), rid)
    headers = [
        (b"content-type", b"application/xml"),
        (b"content-length", str(len(body)).encode()),
        (b"x-amz-request-id", rid.encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": err.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else body})


def _error_response(err: S3Error, resource: str) -> bytes:
    """A whole HTTP/1.1 error response, written straight to the transport (no request
    cycle exists while the head is still arriving)."""
    rid = request_id()
    body = err.to_xml(resource, rid)
    head = (
        f"HTTP/1.1 {err.status} {_REASONS.get(err.status, '')}\r\n"
        "content-type: application/xml\r\n"
        f"content-length: {len(body)}\r\n"
        f"x-amz-request-id: {rid}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


_REASONS = {400: "Bad Request", 503: "Service Unavailable"}

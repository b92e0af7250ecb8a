"""uvicorn's httptools protocol, taught to answer a client that half-closes its side.

A client that sends part of a body and shuts down its write side still listens; S3 tells it
IncompleteBody. uvicorn's protocol lets asyncio close the connection on EOF, so the answer
would be lost: here the body simply ends, the app sees it short, and the response goes out
before the connection closes.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HalfCloseAwareHttpToolsProtocol(HttpToolsProtocol):
    def eof_received(self) -> bool | None:  # type: ignore[override]
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.more_body = False
            cycle.keep_alive = False
            cycle.message_event.set()
            return True  # keep the transport open for the response
        return None

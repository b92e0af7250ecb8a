"""Large GET bodies sent from the blob files with sendfile(2): the bytes go from the page
cache to the socket without passing through Python (no pread copy, no transport buffer).

uvicorn offers no zero-copy extension, so this reaches the connection behind the ASGI
`send` callable (uvicorn's RequestResponseCycle: its transport and its Content-Length
bookkeeping). Whenever that is not possible — TLS, another server, bytes still queued in
the transport — the caller streams the body the ordinary way.
"""

from __future__ import annotations

import asyncio
import os
import select
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from projections.blobstore import BlobMissing

# A client that stops reading for this long loses the connection, as a stalled body would.

Span = tuple[str, int, int]  # file, offset, byte count


class ClientGone(Exception):
    """The connection broke (or stalled) mid-body: it has been closed."""


async def abort_connection(send: Any) -> bool:
    """Reset the connection behind uvicorn's `send` mid-body, so the client sees the body
    end short of its Content-Length as an error rather than a complete object. False when
    the connection cannot be reached (another server): the caller raises instead."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        return False
    transport.abort()
    # abort() hands connection_lost to the loop's next turn; let it run, so uvicorn sees the
    # cycle as disconnected rather than as an app that left a body unfinished.
    await asyncio.sleep(0)
    return True


def zero_copy_sender(send: Any, timeout: float) -> Callable[[list[Span], Executor], Any] | None:
    """An async `sender(spans, executor)` writing the spans to the connection after the
    response head, or None when this connection cannot take sendfile. ``timeout``: the
    seconds the client may stop reading (the server's body timeout)."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None or not hasattr(cycle, "expected_content_length"):
        return None
    if transport.get_extra_info("sslcontext") is not None or transport.is_closing():
        return None
    sock = transport.get_extra_info("socket")
    if sock is None:
        return None
    fd = sock.fileno()
    if fd < 0:
        return None

    async def sender(spans: list[Span], executor: Executor) -> None:
        if transport.get_write_buffer_size():
            raise BlockingIOError("response head still queued")  # caller falls back
        # First from the event loop thread, without waiting: the socket's send buffer usually
        # takes a whole span at once, and then no worker thread is woken at all.
        try:
            sent, rest = _send_ready(fd, spans)
            if rest:
                # While the worker thread writes, nothing else writes to this connection:
                # uvicorn sends only what this response's coroutine hands it, and that
                # coroutine waits here. The thread writes to a duplicate of the descriptor
                # and closes it itself (this coroutine may be cancelled meanwhile): when the
                # client resets the connection, the event loop closes the transport's
                # descriptor at once, and its number may go to the next accepted connection,
                # which must never receive the rest of this body.
                loop = asyncio.get_running_loop()
                sent += await loop.run_in_executor(executor, _send_spans_and_close, os.dup(fd), rest, timeout)
        except BlobMissing:
            await abort_connection(send)
            raise
        except OSError as exc:
            await abort_connection(send)
            raise ClientGone(str(exc)) from exc
        cycle.expected_content_length -= sent

    return sender


def _send_spans_and_close(fd: int, spans: list[Span], timeout: float) -> int:
    try:
        return _send_spans(fd, spans, timeout)
    finally:
        os.close(fd)


def _send_ready(fd: int, spans: list[Span]) -> tuple[int, list[Span]]:
    """Send what the socket takes now; returns the bytes sent and the spans still to send."""
    return _sendfile(fd, spans, None)


def _send_spans(fd: int, spans: list[Span], timeout: float) -> int:
    """Send every span, waiting (at most TIMEOUT seconds at a time) for the socket to drain."""
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return _sendfile(fd, spans, (poller, timeout * 1000))[0]


def _sendfile(fd: int, spans: list[Span], poller: tuple[Any, float] | None) -> tuple[int, list[Span]]:
    """sendfile the spans; on a full socket, wait with `poller` (a poll object and its
    timeout in milliseconds) or (None) stop and return the spans still to send."""
    total = 0
    for i, (path, offset, count) in enumerate(spans):
        try:
            src = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise BlobMissing(f"blob {os.path.basename(path)} is missing") from None
        try:
            while count > 0:
                try:
                    n = os.sendfile(fd, src, offset, count)
                except BlockingIOError:
                    if poller is None:
                        return total, [(path, offset, count), *spans[i + 1 :]]
                    if not poller[0].poll(poller[1]):
                        raise TimeoutError("client stopped reading") from None
                    continue
                if n == 0:
                    raise BlobMissing(f"blob {os.path.basename(path)} is shorter than recorded")
                offset += n
                count -= n
                total += n
        finally:
            os.close(src)
    return total, []

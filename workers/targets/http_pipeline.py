"""HTTP/1.1 pipelining for the webhook target: POSTs sent ahead of their responses on
one keep-alive connection, in order.

Why it exists: a receiver must see records in log order, so they go out on one
connection, and waiting for each response costs a round trip per record. Against a
Python receiver, up to ``depth`` requests in flight deliver a backlog 2-3 times as fast
as aiohttp sending one at a time (aiohttp's server), and 30 times as fast against
http.server keep-alive, whose answers otherwise wait out a delayed ACK each
(``python -m bench.webhook`` measures both in one run).
A server answers a connection's requests in the order they came, so order is kept.

Where it is used: only by ``WebhookTarget``, and only on a connection opened right after
the receiver answered (through aiohttp) in HTTP/1.1 keep-alive with a framed body.
``CHRONICLE_NOTIFY_HTTP_PIPELINE=1`` turns it off (every record goes through aiohttp).

What it handles: HTTP/1.1 keep-alive responses framed by Content-Length or chunked,
parsed with httptools (uvicorn's parser). When the connection stops being that — a
response says ``Connection: close`` or is HTTP/1.0, the server closes or resets the
connection — ``post`` returns how many records got a 2xx and the caller sends the rest
another way. A server that says close processes no later request of that connection
(RFC 9112 9.6), so re-sending them duplicates nothing; only responses lost to a reset
are sent again (at-least-once).
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.parse
from collections import deque
from http import HTTPStatus

import httptools

from workers.targets.base import TargetError, describe


class HTTPStatusError(Exception):
    """A non-2xx answer; ``delivered`` leading bodies were accepted before it."""

    def __init__(self, status: int, reason: str, delivered: int) -> None:
        super().__init__(f"{status} {reason}".strip())
        self.status = status
        self.reason = reason
        self.delivered = delivered


class _Responses:
    """httptools callbacks: each complete response, in order, as (status, whether the
    connection may carry more requests)."""

    def __init__(self) -> None:
        self.done: deque[tuple[int, bool]] = deque()
        self.parser = httptools.HttpResponseParser(self)

    def on_message_complete(self) -> None:
        p = self.parser
        reusable = p.get_http_version() == "1.1" and p.should_keep_alive()
        self.done.append((p.get_status_code(), reusable))


class PipelinedPoster:
    def __init__(
        self,
        url: str,
        headers: dict[str, str],
        *,
        ssl_context: ssl.SSLContext | None,
        depth: int = 32,
        connect_timeout: float = 10.0,
        response_timeout: float = 60.0,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        self.url = url
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.tls = parts.scheme == "https"
        self.ssl_context = ssl_context or (ssl.create_default_context() if self.tls else None)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        host_header = parts.netloc.rpartition("@")[2]
        head = [f"POST {path} HTTP/1.1", f"Host: {host_header}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        self._head = ("\r\n".join(head) + "\r\nContent-Length: ").encode("latin-1")
        self.depth = max(1, depth)
        self.connect_timeout = connect_timeout
        self.response_timeout = response_timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._responses = _Responses()

    @property
    def alive(self) -> bool:
        """A connection is open and the server has not closed it."""
        return (
            self._writer is not None
            and self._reader is not None
            and not self._writer.is_closing()
            and not self._reader.at_eof()
        )

    def _request(self, body: bytes) -> bytes:
        return self._head + str(len(body)).encode() + b"\r\n\r\n" + body

    async def _connect(self) -> None:
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(
                    self.host,
                    self.port,
                    ssl=self.ssl_context if self.tls else None,
                    server_hostname=self.host if self.tls else None,
                ),
                self.connect_timeout,
            )
        except (OSError, TimeoutError, ssl.SSLError) as e:
            raise TargetError(f"webhook {self.url}: {describe(e)}") from e
        self._responses = _Responses()

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except (OSError, ssl.SSLError):
                pass

    async def post(self, bodies: list[bytes]) -> int:
        """POST each body in order on the open connection (a new one if none is open),
        until all are answered or the connection ends; returns how many leading bodies
        got a 2xx. Raises HTTPStatusError for a non-2xx answer, TargetError when the
        receiver cannot be reached, does not answer in time or does not speak HTTP
        (``delivered`` = leading bodies that got a 2xx)."""
        if not self.alive:
            await self.close()
            await self._connect()
        reader, writer, responses = self._reader, self._writer, self._responses
        assert reader is not None and writer is not None
        done = sent = 0
        try:
            while done < len(bodies):
                if sent < len(bodies) and sent - done < self.depth:
                    while sent < len(bodies) and sent - done < self.depth:
                        writer.write(self._request(bodies[sent]))
                        sent += 1
                    await writer.drain()
                data = await asyncio.wait_for(reader.read(65536), self.response_timeout)
                if not data:
                    break  # closed by the server: the rest go on another connection
                try:
                    responses.parser.feed_data(data)
                except httptools.HttpParserError:
                    if not responses.done or responses.done[-1][1]:
                        raise
                    # Bytes after a response that said close (the server answered later
                    # requests anyway): that response still ends the connection.
                while responses.done:
                    status, reusable = responses.done.popleft()
                    if status < 200:
                        continue  # informational (100 Continue): the final answer follows
                    if status > 299:
                        raise HTTPStatusError(status, _reason(status), done)
                    done += 1
                    if not reusable:
                        await self.close()
                        return done
        except HTTPStatusError:
            await self.close()
            raise
        except ConnectionError:
            pass  # reset or broken pipe: the connection ended, the rest go on another one
        except (OSError, TimeoutError, ssl.SSLError, httptools.HttpParserError) as e:
            await self.close()
            raise TargetError(f"webhook {self.url}: {describe(e)}", delivered=done) from e
        if done < len(bodies):
            await self.close()
        return done


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""

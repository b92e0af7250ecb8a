"""POSTs sent in order over one HTTP/1.1 keep-alive connection, pipelined.

A receiver must see records in log order, so they cannot go out on parallel
connections; waiting for each response before sending the next caps delivery at one
round trip per record (a few hundred a second against a Python receiver). HTTP/1.1
pipelining keeps order — a server answers a connection's requests in the order they
came — while up to ``depth`` requests are in flight. Responses are parsed with
httptools (uvicorn's parser). A record counts as delivered only once its own 2xx
response has arrived, so a failure or a dropped connection mid-pipeline re-sends from
the first unanswered record: at-least-once, in order.
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.parse
from collections import deque

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
    """httptools callbacks: the status of each complete response, in order."""

    def __init__(self) -> None:
        self.done: deque[tuple[int, bool]] = deque()  # (status, keep-alive)
        self.parser = httptools.HttpResponseParser(self)

    def on_message_complete(self) -> None:
        self.done.append((self.parser.get_status_code(), self.parser.should_keep_alive()))


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

    def _request(self, body: bytes) -> bytes:
        return self._head + str(len(body)).encode() + b"\r\n\r\n" + body

    async def _connect(self) -> None:
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(
                    self.host, self.port, ssl=self.ssl_context if self.tls else None,
                    server_hostname=self.host if self.tls else None,
                ),
                self.connect_timeout,
            )
        except (OSError, TimeoutError, ssl.SSLError) as e:
            raise TargetError(f"webhook {self.url}: {describe(e)}") from e

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except (OSError, ssl.SSLError):
                pass

    async def post_all(self, bodies: list[bytes]) -> None:
        """POST each body in order; on failure raise with ``delivered`` = how many leading
        bodies got a 2xx (HTTPStatusError as the cause for a non-2xx answer)."""
        done = 0
        while done < len(bodies):
            if self._writer is None:
                try:
                    await self._connect()
                except TargetError as e:
                    e.delivered = done
                    raise
            try:
                done = await self._run(bodies, done)
            except (HTTPStatusError, TargetError):
                await self.close()
                raise

    async def _run(self, bodies: list[bytes], done: int) -> int:
        """Send from ``done`` on; returns how many are done when the connection must be
        replaced (the server said Connection: close) or all are."""
        reader, writer = self._reader, self._writer
        assert reader is not None and writer is not None
        responses = _Responses()
        sent = done
        try:
            while done < len(bodies):
                if sent < len(bodies) and sent - done < self.depth:
                    while sent < len(bodies) and sent - done < self.depth:
                        writer.write(self._request(bodies[sent]))
                        sent += 1
                    await writer.drain()
                data = await asyncio.wait_for(reader.read(65536), self.response_timeout)
                if not data:
                    raise ConnectionResetError("the server closed the connection")
                responses.parser.feed_data(data)
                while responses.done:
                    status, keep_alive = responses.done.popleft()
                    if not 200 <= status <= 299:
                        raise HTTPStatusError(status, _reason(status), done)
                    done += 1
                    if not keep_alive:
                        await self.close()  # later requests on it are lost: send them again
                        return done
        except HTTPStatusError:
            raise
        except (OSError, TimeoutError, ssl.SSLError, httptools.HttpParserError) as e:
            await self.close()
            raise TargetError(f"webhook {self.url}: {describe(e)}", delivered=done) from e
        return done


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""

"""POSTing to a webhook through aiohttp: what the notification webhook target
(``webhook.py``) and the request audit's webhook (``audit_webhook.py``) share.

One ``HTTPPoster`` per endpoint: an aiohttp session (its connections, mutual TLS from a
client certificate and key), a POST that succeeds on any 2xx and otherwise raises
``TargetError`` in MinIO's words (403: "check if your auth token is correctly set").
aiohttp speaks every framing a receiver may answer with (HTTP/1.0 bodies ended by the
close, ``Connection: close``, keep-alive) and opens a new connection when a receiver
closed the last one, so a receiver that closes connections costs a connection, not a stall.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping

import aiohttp

from workers.targets.base import TargetError, describe

CONNECT_TIMEOUT = 10.0
REQUEST_TIMEOUT = 60.0
USER_AGENT = "Chronicle"


def status_message(endpoint: str, status: int, reason: str) -> str:
    """MinIO's wording for a non-2xx answer (the same in its notification and audit webhooks)."""
    text = f"{status} {reason}".strip()
    if status == 403:
        return f"{endpoint} returned '{text}', please check if your auth token is correctly set"
    return f"{endpoint} returned '{text}', please check your endpoint configuration"


class HTTPPoster:
    def __init__(
        self,
        endpoint: str,
        *,
        client_cert: str = "",
        client_key: str = "",
        connections: int = 1,
        timeout: float = REQUEST_TIMEOUT,
        connect_timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        self.endpoint = endpoint
        self.client_cert = client_cert
        self.client_key = client_key
        self.connections = max(1, connections)
        self.timeout = timeout
        self.connect_timeout = min(connect_timeout, timeout)
        self._session: aiohttp.ClientSession | None = None

    def ssl_context(self) -> ssl.SSLContext | None:
        """The client certificate's TLS context (mutual TLS), or None without one."""
        if not (self.client_cert and self.client_key):
            return None
        ctx = ssl.create_default_context()
        try:
            ctx.load_cert_chain(self.client_cert, self.client_key)
        except (OSError, ssl.SSLError) as e:
            raise TargetError(f"webhook {self.endpoint}: cannot load client_cert/client_key: {describe(e)}") from e
        return ctx

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.connections, ssl=self.ssl_context() or True)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.timeout, sock_connect=self.connect_timeout),
                skip_auto_headers=("User-Agent",),
                headers={"User-Agent": USER_AGENT},
            )
        return self._session

    async def post(self, body: bytes, headers: Mapping[str, str]) -> bool:
        """POST one body; returns whether the receiver keeps the connection alive. Without
        a Content-Type in ``headers`` none is sent (aiohttp would add its own)."""
        skip = () if any(k.lower() == "content-type" for k in headers) else ("Content-Type",)
        try:
            async with self.session().post(
                self.endpoint, data=body, headers=dict(headers), skip_auto_headers=skip
            ) as r:
                await r.read()
                status = r.status
                reason = r.reason or ""
                keeps_alive = _keeps_alive(r)
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            raise TargetError(f"webhook {self.endpoint}: {describe(e)}") from e
        if 200 <= status <= 299:
            return keeps_alive
        raise TargetError(status_message(self.endpoint, status, reason))

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def _keeps_alive(r: aiohttp.ClientResponse) -> bool:
    """The receiver answered so that its connection carries more requests: HTTP/1.1, no
    ``Connection: close``, and a body whose end is marked (Content-Length or chunked)
    rather than by closing the connection."""
    if r.version != aiohttp.HttpVersion11:
        return False
    if "close" in (t.strip().lower() for t in r.headers.get("Connection", "").split(",")):
        return False
    chunked = "chunked" in r.headers.get("Transfer-Encoding", "").lower()
    return r.content_length is not None or chunked or r.status in (204, 304)

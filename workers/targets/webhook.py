"""MinIO's webhook target (``notify_webhook``), through aiohttp.

Each record is a ``POST <endpoint>`` with ``Content-Type: application/json`` and body
``{"EventName":..,"Key":"bucket/key","Records":[record]}``. ``auth_token`` is sent as
``Authorization: Bearer <token>`` when it is one word and verbatim when it is two
(``Basic xyz``). Any 2xx is success; 403 means "check if your auth token is correctly
set"; anything else is a failure. ``client_cert`` / ``client_key`` enable mutual TLS.

Records go out in log order on one keep-alive HTTP/1.1 connection, pipelined (up to
``pipeline`` requests in flight; 1 waits for each response), so the receiver sees them in
log order without a round trip per record. ``window`` > 1 (a Chronicle extension) uses
that many parallel connections instead: arrival order is then no longer guaranteed.
"""

from __future__ import annotations

import asyncio
import ssl

import aiohttp

from workers.targets.base import Delivery, TargetError, describe, event_log_body
from workers.targets.config import WebhookConfig
from workers.targets.http_pipeline import HTTPStatusError, PipelinedPoster

CONNECT_TIMEOUT = 10.0
REQUEST_TIMEOUT = 60.0


def authorization_header(token: str) -> str | None:
    words = token.split()
    if len(words) == 2:
        return token
    if len(words) == 1:
        return "Bearer " + token
    return None  # MinIO sends nothing for an empty (or 3+ word) token


def _status_message(endpoint: str, status: int, reason: str) -> str:
    """MinIO's wording for a non-2xx answer."""
    text = f"{status} {reason}".strip()
    if status == 403:
        return f"{endpoint} returned '{text}', please check if your auth token is correctly set"
    return f"{endpoint} returned '{text}', please check your endpoint configuration"


class WebhookTarget:
    type = "webhook"

    def __init__(self, target_id: str, config: WebhookConfig) -> None:
        self.id = target_id
        self.config = config
        self._session: aiohttp.ClientSession | None = None
        self._pipe: PipelinedPoster | None = None
        self._headers = {"Content-Type": "application/json"}
        auth = authorization_header(config.auth_token)
        if auth is not None:
            self._headers["Authorization"] = auth

    def _ssl_context(self) -> ssl.SSLContext | None:
        if not (self.config.client_cert and self.config.client_key):
            return None
        ctx = ssl.create_default_context()
        try:
            ctx.load_cert_chain(self.config.client_cert, self.config.client_key)
        except (OSError, ssl.SSLError) as e:
            raise TargetError(
                f"webhook {self.config.endpoint}: cannot load client_cert/client_key: {describe(e)}"
            ) from e
        return ctx

    def _ensure(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=max(1, self.config.window), ssl=self._ssl_context() or True
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT, sock_connect=CONNECT_TIMEOUT),
                skip_auto_headers=("User-Agent",),
                headers={"User-Agent": "Chronicle"},
            )
        return self._session

    async def open(self) -> None:
        self._ensure()

    async def _post(self, session: aiohttp.ClientSession, d: Delivery) -> None:
        endpoint = self.config.endpoint
        try:
            async with session.post(endpoint, data=event_log_body(d), headers=self._headers) as r:
                await r.read()
                status = r.status
                reason = r.reason or ""
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            raise TargetError(f"webhook {endpoint}: {describe(e)}") from e
        if 200 <= status <= 299:
            return
        raise TargetError(_status_message(endpoint, status, reason))

    async def deliver(self, batch: list[Delivery]) -> None:
        if not batch:
            return
        window = max(1, self.config.window)
        if window == 1:
            await self._deliver_in_order(batch)
            return
        session = self._ensure()
        # Windowed: up to `window` in flight; report the leading run that succeeded.
        sem = asyncio.Semaphore(window)

        async def one(d: Delivery) -> None:
            async with sem:
                await self._post(session, d)

        results = await asyncio.gather(*(one(d) for d in batch), return_exceptions=True)
        for i, res in enumerate(results):
            if isinstance(res, BaseException):
                if isinstance(res, TargetError):
                    res.delivered = i
                    raise res
                raise TargetError(f"webhook {self.config.endpoint}: {describe(res)}", delivered=i)

    async def _deliver_in_order(self, batch: list[Delivery]) -> None:
        if self._pipe is None:
            self._pipe = PipelinedPoster(
                self.config.endpoint,
                {**self._headers, "User-Agent": "Chronicle"},
                ssl_context=self._ssl_context(),
                depth=self.config.pipeline,
                connect_timeout=CONNECT_TIMEOUT,
                response_timeout=REQUEST_TIMEOUT,
            )
        try:
            await self._pipe.post_all([event_log_body(d) for d in batch])
        except HTTPStatusError as e:
            raise TargetError(_status_message(self.config.endpoint, e.status, e.reason), delivered=e.delivered) from e

    async def close(self) -> None:
        pipe, self._pipe = self._pipe, None
        if pipe is not None:
            await pipe.close()
        session, self._session = self._session, None
        if session is not None:
            await session.close()

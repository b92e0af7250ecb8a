"""MinIO's webhook target (``notify_webhook``), through aiohttp.

Each record is a ``POST <endpoint>`` with ``Content-Type: application/json`` and body
``{"EventName":..,"Key":"bucket/key","Records":[record]}``. ``auth_token`` is sent as
``Authorization: Bearer <token>`` when it is one word and verbatim when it is two
(``Basic xyz``). Any 2xx is success; 403 means "check if your auth token is correctly
set"; anything else is a failure. ``client_cert`` / ``client_key`` enable mutual TLS.

Records go out in log order on one connection at a time, so the receiver sees them in log
order: through aiohttp, one request at a time, which speaks every HTTP/1.0 and HTTP/1.1
framing (a body delimited by the close, ``Connection: close``, keep-alive); once the
receiver answers in HTTP/1.1 keep-alive, the rest are pipelined on a connection of their
own (http_pipeline.py; ``pipeline`` = requests in flight, 1 turns pipelining off) until
that connection ends, then aiohttp asks again. ``window`` > 1 (a Chronicle extension)
uses that many parallel connections instead: arrival order is then no longer guaranteed.
The aiohttp part (session, mutual TLS, MinIO's error wording) is http_post.py, which the
request audit's webhook shares.
"""

from __future__ import annotations

import asyncio

from workers.targets.base import Delivery, TargetError, describe, event_log_body
from workers.targets.config import WebhookConfig
from workers.targets.http_pipeline import HTTPStatusError, PipelinedPoster
from workers.targets.http_post import CONNECT_TIMEOUT, REQUEST_TIMEOUT, USER_AGENT, HTTPPoster, status_message


def authorization_header(token: str) -> str | None:
    words = token.split()
    if len(words) == 2:
        return token
    if len(words) == 1:
        return "Bearer " + token
    return None  # MinIO sends nothing for an empty (or 3+ word) token


class WebhookTarget:
    type = "webhook"

    def __init__(self, target_id: str, config: WebhookConfig) -> None:
        self.id = target_id
        self.config = config
        self._http = HTTPPoster(
            config.endpoint,
            client_cert=config.client_cert,
            client_key=config.client_key,
            connections=config.window,
            timeout=REQUEST_TIMEOUT,
            connect_timeout=CONNECT_TIMEOUT,
        )
        self._pipe: PipelinedPoster | None = None
        # The receiver's last answer through aiohttp was keep-alive: the pipeline may open
        # a connection.
        self._vouched = False
        self._headers = {"Content-Type": "application/json"}
        auth = authorization_header(config.auth_token)
        if auth is not None:
            self._headers["Authorization"] = auth

    async def open(self) -> None:
        self._http.session()

    async def _post(self, body: bytes) -> bool:
        """POST one body; returns whether the receiver keeps the connection alive."""
        return await self._http.post(body, self._headers)

    async def deliver(self, batch: list[Delivery]) -> None:
        if not batch:
            return
        window = max(1, self.config.window)
        if window == 1:
            await self._deliver_in_order(batch)
            return
        # Windowed: up to `window` in flight; report the leading run that succeeded.
        sem = asyncio.Semaphore(window)

        async def one(d: Delivery) -> None:
            async with sem:
                await self._post(event_log_body(d))

        results = await asyncio.gather(*(one(d) for d in batch), return_exceptions=True)
        for i, res in enumerate(results):
            if isinstance(res, BaseException):
                if isinstance(res, TargetError):
                    res.delivered = i
                    raise res
                raise TargetError(f"webhook {self.config.endpoint}: {describe(res)}", delivered=i)

    def _pipeline(self) -> PipelinedPoster | None:
        if self.config.pipeline <= 1:
            return None
        if self._pipe is None:
            self._pipe = PipelinedPoster(
                self.config.endpoint,
                {**self._headers, "User-Agent": USER_AGENT},
                ssl_context=self._http.ssl_context(),
                depth=self.config.pipeline,
                connect_timeout=CONNECT_TIMEOUT,
                response_timeout=REQUEST_TIMEOUT,
            )
        return self._pipe

    async def _deliver_in_order(self, batch: list[Delivery]) -> None:
        bodies = [event_log_body(d) for d in batch]
        done = 0
        try:
            while done < len(bodies):
                pipe = self._pipeline()
                if pipe is not None and (pipe.alive or self._vouched):
                    # A keep-alive answer vouches for one connection; when it ends (the
                    # receiver said close, or closed it), aiohttp asks again.
                    self._vouched = False
                    done += await pipe.post(bodies[done:])
                    continue
                if pipe is not None:
                    await pipe.close()  # one connection at a time (a receiver may serve one)
                keeps_alive = await self._post(bodies[done])
                done += 1
                if pipe is not None and keeps_alive:
                    self._vouched = True
                    await self._close_session()  # the pipeline opens the next connection
        except HTTPStatusError as e:
            message = status_message(self.config.endpoint, e.status, e.reason)
            raise TargetError(message, delivered=done + e.delivered) from e
        except TargetError as e:
            e.delivered += done
            raise

    async def _close_session(self) -> None:
        await self._http.close()

    async def close(self) -> None:
        self._vouched = False
        pipe, self._pipe = self._pipe, None
        if pipe is not None:
            await pipe.close()
        await self._close_session()

"""Sending the request audit to an ``audit_webhook``, as MinIO's HTTP logger target does
(internal/logger/target/http/http.go, MinIO master of February 2026: ``send``,
``startQueueProcessor``, ``New``). What is matched:

- Body: each entry as Go's ``json.Encoder`` writes it, the JSON followed by a newline;
  ``batch_size`` 1 sends one entry per request, ``batch_size`` N up to N entries one after
  the other (newline-delimited JSON).
- Headers: ``Content-Type: application/json`` only when ``batch_size`` is 1 (MinIO's
  ``payloadType`` is empty for batches, and then no Content-Type is sent);
  ``X-Minio-Webhook-Payload-Count``: the entries in this body; ``X-Minio-Deployment-Id``;
  ``User-Agent`` (MinIO's server agent; here "Chronicle"); ``Authorization``: the
  ``auth_token`` as it is, nothing prepended (unlike notify_webhook's "Bearer "). Not
  sent: ``X-Minio-Version`` (Chronicle is no MinIO release).
- Any 2xx is success; a 403 says "please check if your auth token is correctly set",
  anything else "please check your endpoint configuration". Each request may take
  ``http_timeout``.
- Concurrency: MinIO sends from one worker, in order, and adds workers only while its queue
  is more than half full, up to 16 (4 when ``batch_size`` > 100). Here too: one request at
  a time while delivery keeps up; a backlog (the delivery loop reads a full page) goes out
  with up to as many requests in flight, its batches then in no guaranteed order, as from
  MinIO.

Retries, batching by time and positions are the delivery loop's (workers.audit_delivery).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import aiohttp
import orjson

from workers.targets.base import TargetError, describe
from workers.targets.config import AuditWebhookConfig
from workers.targets.http_post import HTTPPoster

MAX_WORKERS = 16  # MinIO's maxWorkers
MAX_WORKERS_BATCHED = 4  # MinIO's maxWorkersWithBatchEvents, for batch_size > 100
PAYLOAD_COUNT = "X-Minio-Webhook-Payload-Count"
DEPLOYMENT_ID = "X-Minio-Deployment-Id"


def audit_body(entries: Sequence[str]) -> bytes:
    """Entries (JSON text, as the request_audit table holds them) as MinIO's body."""
    return b"".join(e.encode() + b"\n" for e in entries)


class AuditWebhookSender:
    def __init__(self, target_id: str, config: AuditWebhookConfig) -> None:
        self.id = target_id
        self.config = config
        self.window = MAX_WORKERS_BATCHED if config.batch_size > 100 else MAX_WORKERS
        self.http = HTTPPoster(
            config.endpoint,
            client_cert=config.client_cert,
            client_key=config.client_key,
            connections=self.window,
            timeout=config.timeout_seconds,
        )
        self._headers: dict[str, str] = {}
        if config.batch_size == 1:
            self._headers["Content-Type"] = "application/json"
        if config.auth_token:
            self._headers["Authorization"] = config.auth_token
        self._deployment_id: str | None = None

    def headers(self, entries: Sequence[str]) -> dict[str, str]:
        if self._deployment_id is None:  # one deployment per database: read it once
            self._deployment_id = str(orjson.loads(entries[0]).get("deploymentid", ""))
        return {**self._headers, PAYLOAD_COUNT: str(len(entries)), DEPLOYMENT_ID: self._deployment_id}

    async def post(self, entries: Sequence[str]) -> None:
        """One request: ``entries`` in one body."""
        body, headers = audit_body(entries), self.headers(entries)
        try:
            await self.http.post(body, headers)
        except TargetError as e:
            if not isinstance(e.__cause__, aiohttp.ServerDisconnectedError):
                raise
            # A kept-alive connection the receiver closed as we reused it: once more, on a
            # new connection (the body may have been seen: at-least-once).
            await self.http.post(body, headers)

    async def send(self, batches: Sequence[Sequence[str]], *, backlog: bool = False) -> None:
        """Every batch: one request at a time, in order; up to ``window`` in flight for a
        ``backlog``. Raises TargetError whose ``delivered`` counts the leading batches the
        receiver accepted."""
        if not backlog or len(batches) == 1:
            for i, batch in enumerate(batches):
                try:
                    await self.post(batch)
                except TargetError as e:
                    e.delivered = i
                    raise
            return
        gate = asyncio.Semaphore(self.window)

        async def one(batch: Sequence[str]) -> None:
            async with gate:
                await self.post(batch)

        results = await asyncio.gather(*(one(b) for b in batches), return_exceptions=True)
        for i, res in enumerate(results):
            if isinstance(res, TargetError):
                res.delivered = i
                raise res
            if isinstance(res, BaseException):
                raise TargetError(f"webhook {self.config.endpoint}: {describe(res)}", delivered=i) from res

    async def close(self) -> None:
        await self.http.close()

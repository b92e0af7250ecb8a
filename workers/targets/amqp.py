"""MinIO's AMQP target (``notify_amqp``), through pika's asyncio adapter.

Per batch: ``ExchangeDeclare(exchange, exchange_type, durable, auto_deleted, internal,
no_wait)`` (MinIO declares before every publish; the default exchange ``""`` cannot be
declared and is skipped), then each record is published to ``exchange``/``routing_key``
with headers ``minio-bucket`` / ``minio-event``, content type ``application/json``, the
configured delivery mode, and body ``{"EventName":..,"Key":"bucket/key","Records":[record]}``.

Unlike MinIO, Chronicle always publishes with publisher confirms and ``mandatory``: the
whole batch (in windows of ``WINDOW``) is published, then every confirm is awaited; a nack
or a returned (unroutable) message fails the batch. Losing nothing also needs a durable
exchange and queue and ``delivery_mode=2``.
"""

from __future__ import annotations

import asyncio

import pika
import pika.exceptions
from pika.adapters.asyncio_connection import AsyncioConnection

from workers.targets.base import Delivery, TargetError, event_log_body
from workers.targets.config import AMQPConfig

CONNECT_TIMEOUT = 15.0
CONFIRM_TIMEOUT = 60.0
WINDOW = 5_000  # messages published before their confirms are awaited


class _Confirms:
    """Publisher confirms for delivery tags first..first+n-1."""

    def __init__(self, first: int, n: int, fut: asyncio.Future) -> None:
        self.first = first
        self.n = n
        self.fut = fut
        self.seen = bytearray(n)  # 0 unconfirmed, 1 acked, 2 nacked
        self.low = 0  # every index below is confirmed
        self.count = 0
        self.nacked: list[int] = []
        self.returned: list[bytes] = []

    def _mark(self, i: int, value: int) -> None:
        if 0 <= i < self.n and not self.seen[i]:
            self.seen[i] = value
            self.count += 1
            if value == 2:
                self.nacked.append(i)

    def confirm(self, tag: int, multiple: bool, ack: bool) -> None:
        value = 1 if ack else 2
        top = tag - self.first
        if multiple:
            for i in range(self.low, min(top + 1, self.n)):
                self._mark(i, value)
        else:
            self._mark(top, value)
        while self.low < self.n and self.seen[self.low]:
            self.low += 1
        if self.count >= self.n and not self.fut.done():
            self.fut.set_result(None)


class AMQPTarget:
    type = "amqp"

    def __init__(self, target_id: str, config: AMQPConfig) -> None:
        self.id = target_id
        self.config = config
        self._params = pika.URLParameters(config.url)
        self._conn: AsyncioConnection | None = None
        self._channel = None
        self._next_tag = 1
        self._inflight: _Confirms | None = None
        self._waiters: set[asyncio.Future] = set()
        self._lock = asyncio.Lock()

    def _where(self) -> str:
        return f"amqp {self._params.host}:{self._params.port} exchange {self.config.exchange!r}"

    # -- connection and channel ---------------------------------------------------------

    def _fail_waiters(self, reason: str) -> None:
        err = TargetError(f"{self._where()}: {reason}")
        for fut in list(self._waiters):
            if not fut.done():
                fut.set_exception(err)
        if self._inflight is not None and not self._inflight.fut.done():
            self._inflight.fut.set_exception(err)

    async def _wait(self, fut: asyncio.Future, timeout: float, what: str):
        self._waiters.add(fut)
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise TargetError(f"{self._where()}: timed out waiting for {what}") from None
        finally:
            self._waiters.discard(fut)

    def _on_connection_closed(self, conn, reason) -> None:
        if conn is self._conn:
            self._conn = None
            self._channel = None
        self._fail_waiters(f"connection closed: {reason}")

    def _on_channel_closed(self, channel, reason) -> None:
        if channel is self._channel:
            self._channel = None
        self._fail_waiters(f"channel closed: {reason}")

    def _on_confirm(self, frame) -> None:
        method = frame.method
        inflight = self._inflight
        if inflight is not None:
            ack = isinstance(method, pika.spec.Basic.Ack)
            inflight.confirm(method.delivery_tag, bool(method.multiple), ack)

    def _on_return(self, channel, method, properties, body) -> None:
        if self._inflight is not None:
            self._inflight.returned.append(bytes(body))

    async def _connect(self) -> AsyncioConnection:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()

        def on_open(conn) -> None:
            if not fut.done():
                fut.set_result(conn)

        def on_open_error(conn, err) -> None:
            if not fut.done():
                fut.set_exception(TargetError(f"{self._where()}: cannot connect: {err!r}"))

        conn = AsyncioConnection(
            self._params,
            on_open_callback=on_open,
            on_open_error_callback=on_open_error,
            on_close_callback=self._on_connection_closed,
            custom_ioloop=loop,
        )
        try:
            await self._wait(fut, CONNECT_TIMEOUT, "the connection")
        except BaseException:
            try:
                conn.close()
            except Exception:  # not open yet
                pass
            raise
        return conn

    async def _ensure(self):
        if self._channel is not None and self._channel.is_open:
            return self._channel
        if self._conn is None or not self._conn.is_open:
            self._conn = await self._connect()
        loop = asyncio.get_running_loop()
        opened = loop.create_future()
        self._conn.channel(on_open_callback=lambda ch: opened.done() or opened.set_result(ch))
        channel = await self._wait(opened, CONNECT_TIMEOUT, "a channel")
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        selected = loop.create_future()
        channel.confirm_delivery(self._on_confirm, callback=lambda _f: selected.done() or selected.set_result(None))
        await self._wait(selected, CONNECT_TIMEOUT, "confirm mode")
        self._channel = channel
        self._next_tag = 1
        return channel

    async def _drop(self) -> None:
        conn, self._conn, self._channel = self._conn, None, None
        if conn is not None and conn.is_open:
            try:
                conn.close()
            except Exception:  # best effort
                pass

    # -- Target -------------------------------------------------------------------------

    async def open(self) -> None:
        async with self._lock:
            try:
                await self._ensure()
            except TargetError:
                await self._drop()
                raise
            except (pika.exceptions.AMQPError, OSError) as e:
                await self._drop()
                raise TargetError(f"{self._where()}: {e!r}") from e

    async def _declare(self, channel) -> None:
        c = self.config
        if not c.exchange:  # the default exchange exists and cannot be declared
            return
        kwargs = dict(
            exchange=c.exchange,
            exchange_type=c.exchange_type,
            durable=c.durable,
            auto_delete=c.auto_deleted,
            internal=c.internal,
        )
        if c.no_wait:
            channel.exchange_declare(**kwargs)
            return
        fut = asyncio.get_running_loop().create_future()
        channel.exchange_declare(**kwargs, callback=lambda _f: fut.done() or fut.set_result(None))
        await self._wait(fut, CONNECT_TIMEOUT, "exchange.declare-ok")

    async def deliver(self, batch: list[Delivery]) -> None:
        if not batch:
            return
        async with self._lock:
            done = 0
            try:
                channel = await self._ensure()
                await self._declare(channel)
                for start in range(0, len(batch), WINDOW):
                    chunk = batch[start : start + WINDOW]
                    await self._publish_window(channel, chunk, done)
                    done += len(chunk)
            except TargetError as e:
                await self._drop()
                e.delivered = max(e.delivered, done)
                raise
            except (pika.exceptions.AMQPError, OSError) as e:
                await self._drop()
                raise TargetError(f"{self._where()}: {e!r}", delivered=done) from e

    async def _publish_window(self, channel, chunk: list[Delivery], done: int) -> None:
        c = self.config
        fut = asyncio.get_running_loop().create_future()
        confirms = _Confirms(self._next_tag, len(chunk), fut)
        self._inflight = confirms
        bodies = []
        try:
            for d in chunk:
                body = event_log_body(d)
                bodies.append(body)
                props = pika.BasicProperties(
                    content_type="application/json",
                    headers={"minio-bucket": d.bucket, "minio-event": d.event_name},
                    delivery_mode=c.delivery_mode or None,
                )
                channel.basic_publish(c.exchange, c.routing_key, body, props, mandatory=True)
                self._next_tag += 1
            await self._wait(fut, CONFIRM_TIMEOUT, "publisher confirms")
        finally:
            self._inflight = None
        if not (confirms.nacked or confirms.returned):
            return
        failures: list[tuple[int, str]] = [(i, "the broker nacked it") for i in confirms.nacked]
        if confirms.returned:
            index: dict[bytes, int] = {}
            for i, b in enumerate(bodies):
                index.setdefault(b, i)
            why = f"the broker returned it as unroutable (no queue is bound for routing key {c.routing_key!r})"
            failures += [(index.get(b, 0), why) for b in confirms.returned]
        first, why = min(failures)
        raise TargetError(
            f"{self._where()}: the record at log position {chunk[first].position} was not delivered: {why}",
            delivered=done + first,
        )

    async def close(self) -> None:
        async with self._lock:
            conn, self._conn, self._channel = self._conn, None, None
            if conn is None or not conn.is_open:
                return
            fut = asyncio.get_running_loop().create_future()
            self._waiters.add(fut)  # completed by _fail_waiters on close
            try:
                conn.close()
                await asyncio.wait_for(fut, 5)
            except (TargetError, TimeoutError, pika.exceptions.AMQPError):
                pass
            finally:
                self._waiters.discard(fut)

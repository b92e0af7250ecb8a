"""MinIO's Redis target (``notify_redis``).

On connect: ``AUTH [user] password`` when a password is set, ``CLIENT SETNAME MinIO``,
``PING``; the first connection checks ``TYPE key`` is ``none`` or ``hash`` (namespace) /
``list`` (access).

- namespace: ``s3:ObjectRemoved:Delete`` → ``HDEL key bucket/key``; any other event →
  ``HSET key bucket/key '{"Records":[record]}'``.
- access: ``RPUSH key '[{"Event":[record],"EventTime":"..."}]'``.

A batch goes in one MULTI/EXEC pipeline: one round trip, applied in order, confirmed by
the EXEC reply.
"""

from __future__ import annotations

import inspect

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from workers.targets.base import (
    Delivery,
    TargetError,
    describe,
    is_namespace_delete,
    namespace_key,
    records_body,
    redis_access_body,
)
from workers.targets.config import RedisConfig
from workers.targets.values import split_host_port

CONNECT_TIMEOUT = 10.0
COMMAND_TIMEOUT = 60.0
PIPELINE_CHUNK = 10_000  # commands per MULTI/EXEC

if "driver_info" in inspect.signature(aioredis.Redis.__init__).parameters:  # redis-py >= 7.1
    _NO_SETINFO: dict = {"driver_info": None}
else:
    _NO_SETINFO = {"lib_name": None, "lib_version": None}


class RedisTarget:
    type = "redis"

    def __init__(self, target_id: str, config: RedisConfig) -> None:
        self.id = target_id
        self.config = config
        self._client: aioredis.Redis | None = None
        self._checked = False

    def _connect(self) -> aioredis.Redis:
        host, port = split_host_port(self.config.address, 6379, what="notify_redis: address")
        return aioredis.Redis(
            host=host,
            port=port,
            username=self.config.user or None,
            password=self.config.password or None,
            client_name="MinIO",  # CLIENT SETNAME MinIO, after AUTH
            protocol=2,  # plain AUTH as MinIO sends, not HELLO 3 AUTH
            **_NO_SETINFO,  # no CLIENT SETINFO: only what MinIO sends
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=COMMAND_TIMEOUT,
            max_connections=4,
            retry=Retry(NoBackoff(), 0),  # the delivery loop retries, with its own backoff
        )

    async def _ensure(self) -> aioredis.Redis:
        if self._client is not None and self._checked:
            return self._client
        if self._client is None:
            self._client = self._connect()
        try:
            await self._client.ping()
            if not self._checked:
                await self._check_type(self._client)
                self._checked = True
        except (RedisError, OSError) as e:
            await self._drop()
            raise TargetError(f"redis {self.config.address}: {describe(e)}") from e
        return self._client

    async def _check_type(self, client: aioredis.Redis) -> None:
        found = await client.type(self.config.key)
        if isinstance(found, bytes):
            found = found.decode()
        expected = "list" if self.config.format == "access" else "hash"
        if found not in ("none", expected):
            raise TargetError(
                f"redis key {self.config.key!r} is a {found}, but the {self.config.format} "
                f"format needs a {expected}: choose another key or delete it"
            )

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.aclose()
            except Exception:  # best effort
                pass

    async def open(self) -> None:
        await self._ensure()

    async def deliver(self, batch: list[Delivery]) -> None:
        if not batch:
            return
        client = await self._ensure()
        key = self.config.key
        namespace = self.config.format != "access"
        done = 0
        try:
            for start in range(0, len(batch), PIPELINE_CHUNK):
                chunk = batch[start : start + PIPELINE_CHUNK]
                pipe = client.pipeline(transaction=True)
                for d in chunk:
                    if not namespace:
                        pipe.rpush(key, redis_access_body(d))
                    elif is_namespace_delete(d):
                        pipe.hdel(key, namespace_key(d))
                    else:
                        pipe.hset(key, namespace_key(d), records_body(d.record))
                await pipe.execute(raise_on_error=True)
                done += len(chunk)
        except (RedisError, OSError) as e:
            await self._drop()
            raise TargetError(f"redis {self.config.address} key {key!r}: {describe(e)}", delivered=done) from e

    async def close(self) -> None:
        await self._drop()

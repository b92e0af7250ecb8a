"""The webhook target against receivers that speak HTTP the ways people's receivers do
(tests/helpers/webhook_receiver.py runs each as its own process): HTTP/1.1 keep-alive
(aiohttp, and http.server serving one connection at a time), HTTP/1.0 with the body
delimited by the close (http.server's default), and HTTP/1.1 with ``Connection: close`` on
every response. Each must get every record of a backlog exactly once, in log order, with
pipelining on (the default) and off (``CHRONICLE_NOTIFY_HTTP_PIPELINE=1``: aiohttp, one
request at a time); end to end, a backlog written while the receivers were down drains.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.conftest import unique_bucket_name
from tests.helpers.notify import WebhookProcess, wait_until
from workers.targets import Delivery, WebhookConfig
from workers.targets.base import event_log_body
from workers.targets.webhook import WebhookTarget

pytestmark = pytest.mark.timeout(180)

STYLES = ("aiohttp", "http11", "http10", "close")
KEEP_ALIVE = ("aiohttp", "http11")
PUT = "s3:ObjectCreated:Put"


def delivery(pos: int) -> Delivery:
    key = f"k{pos:05d}"
    record = json.dumps({"eventName": PUT, "s3": {"object": {"key": key}}}).encode()
    return Delivery(pos, PUT, "photos", key, "2026-01-01T12:00:00.000Z", record)


def deliver_backlog(url: str, pipeline: int, records: int, batch: int) -> None:
    """What the delivery loop does with a backlog: batch after batch on one target."""
    backlog = [delivery(i) for i in range(1, records + 1)]

    async def go() -> None:
        target = WebhookTarget("1", WebhookConfig(endpoint=url, pipeline=pipeline))
        try:
            for i in range(0, len(backlog), batch):
                await asyncio.wait_for(target.deliver(backlog[i : i + batch]), 60)
        finally:
            await target.close()

    asyncio.run(go())


def expected(records: int) -> list[bytes]:
    return [event_log_body(delivery(i)) for i in range(1, records + 1)]


@pytest.mark.parametrize("style", STYLES)
def test_each_receiver_style_gets_a_backlog_once_in_order_pipelined_or_not(tmp_path, style):
    """The pipelined path and the plain one (aiohttp, one request at a time) give every
    receiver the same thing: each record once, in order. Keep-alive receivers are fed
    over one connection; the others get one connection per record, as they ask."""
    records = 120
    received: dict[int, list[dict]] = {}
    for pipeline in (32, 1):
        hook = WebhookProcess(tmp_path / f"{style}-{pipeline}", style=style).start()
        try:
            deliver_backlog(hook.url, pipeline, records, batch=50)
            received[pipeline] = hook.requests()
        finally:
            hook.kill()
    for pipeline, got in received.items():
        assert [r["body"].encode() for r in got] == expected(records), (style, pipeline)
        peers = {r["peer"] for r in got}
        if style in KEEP_ALIVE:
            assert len(peers) <= 3, (style, pipeline, len(peers))
        else:  # a connection per record (the system may reuse a client port now and then)
            assert len(peers) > records // 2, (style, pipeline, len(peers))


@pytest.mark.parametrize("style", ("http10", "close"))
def test_a_receiver_that_never_keeps_connections_alive_drains_a_large_backlog(tmp_path, style):
    """Thousands of records, each on its own connection, none repeated (the speed of
    this is measured by bench/webhook.py, not here)."""
    records = 1500
    hook = WebhookProcess(tmp_path, style=style).start()
    try:
        deliver_backlog(hook.url, 32, records, batch=1000)
        assert hook.bodies() == expected(records)
    finally:
        hook.kill()


@pytest.mark.parametrize("pipeline", ("on", "off"))
def test_a_backlog_reaches_every_receiver_style_once_in_order(server_factory, tmp_path, pipeline):
    """`chronicle serve` with one webhook target per receiver style; the receivers are
    down while the writes happen, come up, and each gets every record once, in log order
    (nothing was delivered before they came up, so nothing is sent twice)."""
    hooks = {style: WebhookProcess(tmp_path / style, style=style) for style in STYLES}
    env = {"CHRONICLE_NOTIFY_BACKOFF_MAX": "1"}
    if pipeline == "off":
        env["CHRONICLE_NOTIFY_HTTP_PIPELINE"] = "1"
    arns = []
    for n, hook in enumerate(hooks.values(), start=1):
        env[f"CHRONICLE_NOTIFY_WEBHOOK_ENABLE_{n}"] = "on"
        env[f"CHRONICLE_NOTIFY_WEBHOOK_ENDPOINT_{n}"] = hook.url
        arns.append(f"arn:minio:sqs::{n}:webhook")
    srv = server_factory("sqlite", env=env)
    c = srv.client()
    b = unique_bucket_name("hooks")
    c.create_bucket(Bucket=b)
    c.put_bucket_notification_configuration(
        Bucket=b,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]} for arn in arns]
        },
    )
    written = [f"k/{i:03d}" for i in range(120)]
    for key in written:
        c.put_object(Bucket=b, Key=key, Body=b"x")
    try:
        for hook in hooks.values():
            hook.start()
        for style, hook in hooks.items():

            def keys(hook: WebhookProcess = hook) -> list[str]:
                return [json.loads(body)["Key"].split("/", 1)[1] for body in hook.bodies()]

            wait_until(lambda: len(keys()) >= len(written), 60, f"the {style} receiver's records")
            assert keys() == written, style
    finally:
        for hook in hooks.values():
            hook.kill()

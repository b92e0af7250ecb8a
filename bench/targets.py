"""Rough catch-up throughput of each notification target (not a test).

    python -m bench.targets                    # 20,000 records per target, batches of 1,000
    python -m bench.targets --only redis,amqp --count 50000 --batch 5000

Delivers realistic-size records (about 900 bytes, MinIO's shape) to the local Redis,
PostgreSQL, MariaDB/MySQL, RabbitMQ and a webhook receiver running in another process,
and prints events/s per target. Uses unique keys/tables/exchanges and removes them.
Service addresses come from the same variables as the tests (CHRONICLE_TEST_*).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import time
import urllib.parse
import uuid

from workers.targets import Delivery, make_target

REDIS_URL = os.environ.get("CHRONICLE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_DSN = os.environ.get("CHRONICLE_TEST_PG_DSN", "postgresql://root@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("CHRONICLE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
MYSQL_DSN = os.environ.get("CHRONICLE_TEST_MYSQL_DSN", "mysql://root@127.0.0.1:3306/test")


def make_records(n: int, bucket: str = "bench") -> list[Delivery]:
    out = []
    for i in range(n):
        key = f"dir{i % 97}/object-{i:08d}.bin"
        t = f"2026-01-01T12:{(i // 60000) % 60:02d}:{(i // 1000) % 60:02d}.{i % 1000:03d}Z"
        name = "s3:ObjectRemoved:Delete" if i % 10 == 9 else "s3:ObjectCreated:Put"
        rec = {
            "eventVersion": "2.0",
            "eventSource": "minio:s3",
            "awsRegion": "",
            "eventTime": t,
            "eventName": name,
            "userIdentity": {"principalId": "minioadmin"},
            "requestParameters": {
                "principalId": "minioadmin",
                "region": "",
                "sourceIPAddress": "127.0.0.1",
            },
            "responseElements": {
                "x-amz-id-2": "dd9025bab4ad464b049177c95eb6ebf374d3b3fd1af9251148b658df7ac2e3e8",
                "x-amz-request-id": f"17CDC1F4D7E{i:05X}",
                "x-minio-deployment-id": "90e81272-45d9-4fe8-9c45-c9a7322bf4b5",
                "x-minio-origin-endpoint": "http://10.0.0.1:9000",
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "Config",
                "bucket": {
                    "name": bucket,
                    "ownerIdentity": {"principalId": "minioadmin"},
                    "arn": f"arn:aws:s3:::{bucket}",
                },
                "object": {
                    "key": urllib.parse.quote_plus(key, safe=""),
                    "size": 1024,
                    "eTag": "5d284463f9da279f060f0ea4d11af098",
                    "contentType": "application/octet-stream",
                    "userMetadata": {"content-type": "application/octet-stream"},
                    "sequencer": f"{i:016X}",
                },
            },
            "source": {"host": "127.0.0.1", "port": "", "userAgent": "MinIO (linux; amd64)"},
        }
        body = json.dumps(rec, separators=(",", ":")).encode()
        out.append(Delivery(i + 1, name, bucket, key, t, body))
    return out


async def timed(target, records: list[Delivery], batch: int) -> float:
    await target.open()
    t0 = time.perf_counter()
    for start in range(0, len(records), batch):
        await target.deliver(records[start : start + batch])
    elapsed = time.perf_counter() - t0
    await target.close()
    return len(records) / elapsed


# -- per target -----------------------------------------------------------------------


async def bench_redis(records, batch, fmt):
    import redis

    u = urllib.parse.urlsplit(REDIS_URL)
    key = f"chronicle-bench-{uuid.uuid4().hex[:8]}"
    t = make_target(
        "notify_redis",
        "bench",
        {"address": f"{u.hostname}:{u.port or 6379}", "key": key, "format": fmt},
    )
    try:
        return await timed(t, records, batch)
    finally:
        redis.Redis(host=u.hostname, port=u.port or 6379).delete(key)


async def bench_postgres(records, batch, fmt):
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(PG_DSN)
    params.setdefault("sslmode", "disable")
    table = f"chronicle_bench_{uuid.uuid4().hex[:8]}"
    cfg = {"connection_string": make_conninfo(**params), "table": table, "format": fmt}
    try:
        return await timed(make_target("notify_postgres", "bench", cfg), records, batch)
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")


async def bench_mysql(records, batch, fmt):
    import pymysql

    u = urllib.parse.urlsplit(MYSQL_DSN)
    user = urllib.parse.unquote(u.username or "root")
    pw = urllib.parse.unquote(u.password or "")
    host, port = u.hostname or "127.0.0.1", u.port or 3306
    db = f"chronicle_bench_{uuid.uuid4().hex[:8]}"
    admin = pymysql.connect(host=host, port=port, user=user, password=pw, autocommit=True)
    admin.cursor().execute(f"CREATE DATABASE {db}")
    cfg = {"dsn_string": f"{user}:{pw}@tcp({host}:{port})/{db}", "table": "events", "format": fmt}
    try:
        return await timed(make_target("notify_mysql", "bench", cfg), records, batch)
    finally:
        admin.cursor().execute(f"DROP DATABASE {db}")
        admin.close()


async def bench_amqp(records, batch, fmt):
    import pika

    x, q = f"chronicle-bench-x-{uuid.uuid4().hex[:8]}", f"chronicle-bench-q-{uuid.uuid4().hex[:8]}"
    conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    ch = conn.channel()
    ch.exchange_declare(x, "direct", durable=True)
    ch.queue_declare(q, durable=True)
    ch.queue_bind(q, x, routing_key="minio")
    cfg = {
        "url": AMQP_URL,
        "exchange": x,
        "exchange_type": "direct",
        "routing_key": "minio",
        "durable": "on",
        "delivery_mode": "2",
    }
    try:
        rate = await timed(make_target("notify_amqp", "bench", cfg), records, batch)
        depth = ch.queue_declare(q, durable=True, passive=True).method.message_count
        assert depth == len(records), (depth, len(records))
        return rate
    finally:
        ch.queue_delete(q)
        ch.exchange_delete(x)
        conn.close()


def _receiver(port_q) -> None:
    from aiohttp import web

    count = 0

    async def handle(request):
        nonlocal count
        await request.read()
        count += 1
        return web.Response(status=200)

    async def main():
        app = web.Application()
        app.router.add_post("/hook", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_q.put(site._server.sockets[0].getsockname()[1])
        await asyncio.Event().wait()

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())


async def bench_webhook(records, batch, fmt):
    q = multiprocessing.Queue()
    proc = multiprocessing.Process(target=_receiver, args=(q,), daemon=True)
    proc.start()
    try:
        port = q.get(timeout=20)
        cfg = {"endpoint": f"http://127.0.0.1:{port}/hook", "auth_token": "bench"}
        return await timed(make_target("notify_webhook", "bench", cfg), records, batch)
    finally:
        proc.terminate()
        proc.join()


BENCHES = {
    "redis": (bench_redis, ("namespace", "access")),
    "postgresql": (bench_postgres, ("namespace", "access")),
    "mysql": (bench_mysql, ("namespace", "access")),
    "amqp": (bench_amqp, ("-",)),
    "webhook": (bench_webhook, ("-",)),
}


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--count", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=1_000)
    ap.add_argument("--only", default="", help="comma-separated: " + ",".join(BENCHES))
    args = ap.parse_args()
    records = make_records(args.count)
    only = [s for s in args.only.split(",") if s] or list(BENCHES)
    avg = sum(len(r.record) for r in records) // len(records)
    print(f"{args.count} records of ~{avg} bytes, batches of {args.batch}")
    for name in only:
        fn, formats = BENCHES[name]
        for fmt in formats:
            label = name if fmt == "-" else f"{name} ({fmt})"
            try:
                rate = await fn(records, args.batch, fmt)
            except Exception as e:  # report and go on with the others
                print(f"{label:24s} FAILED: {type(e).__name__}: {e}")
                continue
            print(f"{label:24s} {rate:10,.0f} events/s")


if __name__ == "__main__":
    asyncio.run(main())

"""One-command benchmark of the history's read side (issue 14): the event stream and the log.

    python -m bench.history                    # latency, idle subscribers, log of 100,000 events
    python -m bench.history --events 1000000   # the log scale the issue names
    python -m bench.history --events 0         # skip the log scale (replay, verify --chain)

Starts a fresh PostgreSQL database (dropped at the end) and `chronicle serve` as bench.run
does, then prints:
- the maximum PUT rate (1 KiB, concurrency 32, a short window), then PUT-to-subscriber
  latency p50/p99 at half that rate: one NDJSON subscriber of the bucket, PUTs paced open-loop;
  measured from the PUT's response (the write is committed) and from its request being sent;
- the CPU of 1,000 idle subscribers over 30 s: server and PostgreSQL CPU seconds per second,
  and how often the process's one shared watch looked at the index (metrics);
- with --events N: `chronicle verify --chain` and `chronicle replay` (servers stopped) in
  events per second over a log of N events.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from bench.loadgen import RawClient, percentiles
from bench.run import ROOT, CpuWindow, Servers, load, log, s3
from bench.sigv4 import EMPTY_SHA256, Signer, canonical_query

BUCKET = "bench-history"
EVENTS_PATH = "/minio/chronicle/v1/events"
WRITERS = 16  # connections the paced writer spreads its PUTs over
BODY = b"h" * 1024


def metrics(servers: Servers) -> dict[str, float]:
    """The server's unlabelled-enough samples by name (summed over labels)."""
    url = f"http://127.0.0.1:{servers.chronicle_port}/minio/v2/metrics/cluster"
    with urllib.request.urlopen(url, timeout=30) as response:
        text = response.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name = line.split("{", 1)[0].split(" ", 1)[0]
            out[name] = out.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    return out


async def open_subscriber(
    host: str, signer: Signer, query: list[tuple[str, str]]
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    h = signer.headers("GET", host, EVENTS_PATH, query)
    head = (
        f"GET {EVENTS_PATH}?{canonical_query(query)} HTTP/1.1\r\nHost: {host}\r\nx-amz-date: {h['x-amz-date']}\r\n"
        f"x-amz-content-sha256: {EMPTY_SHA256}\r\nAuthorization: {h['Authorization']}\r\n\r\n"
    )
    address, _, port = host.rpartition(":")
    reader, writer = await asyncio.open_connection(address, int(port), limit=1 << 20)
    writer.write(head.encode())
    await writer.drain()
    return reader, writer


def max_put_rate(servers: Servers, seconds: float) -> float:
    spec = {"op": "put", "bucket": BUCKET, "body_size": 1024, "concurrency": 32, "duration": seconds}
    result = load(servers, "chronicle", dict(spec, warmup=1.0, client="raw", key_prefix="max/"), 1)
    return float(result["req_per_s"])


async def subscriber_latency(host: str, signer: Signer, rate: float, seconds: float) -> dict[str, Any]:
    """PUTs at `rate` per second for `seconds`; when each reaches a subscriber."""
    sent: dict[str, float] = {}
    acked: dict[str, float] = {}
    arrived: dict[str, float] = {}
    total = int(rate * seconds)
    reader, writer = await open_subscriber(host, signer, [("bucket", BUCKET), ("from", "now"), ("prefix", "lat/")])
    await asyncio.sleep(1.0)  # connected and waiting before the first write

    async def read() -> None:
        while len(arrived) < total:
            line = await reader.readline()
            if not line:
                return
            if line.startswith(b"{"):
                key = orjson.loads(line).get("key", "")
                arrived.setdefault(key, time.perf_counter())

    clients: asyncio.Queue[RawClient] = asyncio.Queue()
    for _ in range(WRITERS):
        clients.put_nowait(RawClient(host))

    async def put(key: str) -> None:
        client = await clients.get()
        try:
            sent[key] = time.perf_counter()
            status, _ = await s3(host, signer, "PUT", f"/{BUCKET}/{key}", body=BODY, client=client)
            if status == 200:
                acked[key] = time.perf_counter()
        finally:
            clients.put_nowait(client)

    reading = asyncio.create_task(read())
    start = time.perf_counter()
    puts = []
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        puts.append(asyncio.create_task(put(f"lat/{i:07d}")))
    await asyncio.gather(*puts)
    achieved = len(acked) / (time.perf_counter() - start)
    try:
        await asyncio.wait_for(reading, 30)
    except TimeoutError:
        pass
    writer.close()
    while not clients.empty():
        clients.get_nowait().close()
    from_ack = [max(0.0, arrived[k] - t) * 1000 for k, t in acked.items() if k in arrived]
    from_send = [(arrived[k] - sent[k]) * 1000 for k in acked if k in arrived]
    return {
        "rate_asked": round(rate),
        "rate_achieved": round(achieved),
        "puts": len(acked),
        "received": len(from_ack),
        "from_ack_ms": {k: round(v, 1) for k, v in percentiles(from_ack, (50, 90, 99)).items()},
        "from_send_ms": {k: round(v, 1) for k, v in percentiles(from_send, (50, 90, 99)).items()},
    }


async def idle_subscribers(servers: Servers, host: str, signer: Signer, count: int, seconds: float) -> dict[str, Any]:
    conns = [await open_subscriber(host, signer, [("bucket", BUCKET), ("from", "now")]) for _ in range(count)]
    try:
        deadline = time.monotonic() + 120
        while metrics(servers).get("chronicle_event_stream_waiting_subscribers", 0) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"fewer than {count} subscribers waiting after 120 s")
            await asyncio.sleep(0.5)
        before = metrics(servers)
        window = CpuWindow({"server": servers.server_pids()}, servers.dbname)
        window.start()
        await asyncio.sleep(seconds)
        cpu = window.stop()
        after = metrics(servers)
    finally:
        for _, writer in conns:
            writer.close()

    def delta(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    return {
        "subscribers": count,
        "seconds": seconds,
        "server_cpu_s_per_s": cpu.get("server"),
        "postgres_cpu_s_per_s": cpu.get("postgres"),
        "pg_commits_per_s": cpu.get("pg_commits_per_s"),
        "watch_looks": delta("chronicle_event_stream_index_looks_total"),
        "pages_read": delta("chronicle_event_stream_pages_read_total"),
    }


def fill_log(servers: Servers, events: int) -> None:
    keys_file = servers.workdir / "history-keys.txt"
    keys_file.write_text("\n".join(f"log/{i:08d}" for i in range(events)))
    spec = {"op": "put", "bucket": BUCKET, "body_size": 16, "concurrency": 64, "mode": "keys"}
    result = load(servers, "chronicle", dict(spec, client="raw", keys_file=str(keys_file)), 2)
    log(f"  wrote {result['ok']} objects ({result['req_per_s']:.0f}/s), errors {result['errors']}")


def wait_followers(servers: Servers, timeout: float) -> int:
    """The log's head once the chain linker and the audit index reached it."""
    import psycopg  # bench.run imports it late too: only PostgreSQL scenarios need it

    url = f"postgresql://root@127.0.0.1:5432/{servers.dbname}"
    deadline = time.monotonic() + timeout
    while True:
        head = int(metrics(servers).get("chronicle_eventstore_head_position", 0))
        with psycopg.connect(url) as conn:
            linked = conn.execute("SELECT COALESCE(MAX(position), 0) FROM chain_links").fetchone()
            indexed = conn.execute("SELECT COALESCE(MAX(position), 0) FROM audit_tracking").fetchone()
        if linked and indexed and linked[0] >= head and indexed[0] >= head:
            return head
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"followers behind after {timeout:.0f} s: head {head}, linked {linked}, indexed {indexed}"
            )
        time.sleep(1.0)


def timed_command(servers: Servers, *argv: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", *argv, "--data-dir", str(servers.workdir / "data")],
        env=servers.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(
            f"chronicle {' '.join(argv)}: exit {done.returncode}: {done.stdout[-500:]}{done.stderr[-500:]}"
        )
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=100_000, help="log size for replay and verify --chain (0: skip)")
    ap.add_argument("--subscribers", type=int, default=1000, help="idle subscribers (default 1000)")
    ap.add_argument("--idle-seconds", type=float, default=30.0)
    ap.add_argument("--latency-seconds", type=float, default=10.0)
    ap.add_argument("--keep", action="store_true", help="keep the work directory and the database")
    ap.add_argument("--json", default="/tmp/chronicle-bench/history.json")
    args = ap.parse_args()
    args.workers = 1
    # Servers copies this process's environment: metrics without a token, room for the subscribers.
    os.environ["CHRONICLE_PROMETHEUS_AUTH_TYPE"] = "public"
    os.environ["CHRONICLE_MAX_CONNECTIONS"] = str(max(1024, args.subscribers * 2))
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    servers = Servers(args)
    try:
        log(f"starting chronicle (PostgreSQL database {servers.dbname})")
        servers.start()
        host = f"127.0.0.1:{servers.chronicle_port}"
        signer = Signer(servers.user, servers.password)
        status, body = asyncio.run(s3(host, signer, "PUT", f"/{BUCKET}"))
        if status != 200:
            raise RuntimeError(f"CreateBucket: {status} {body[:200]!r}")

        top = max_put_rate(servers, 5.0)
        log(f"max PUT 1 KiB rate (c=32, 5 s): {top:.0f}/s")
        latency = asyncio.run(subscriber_latency(host, signer, top / 2, args.latency_seconds))
        results["latency"] = dict(latency, max_put_rate=round(top))
        log(
            f"PUT-to-subscriber at {latency['rate_achieved']}/s (asked {latency['rate_asked']}): "
            f"from the PUT's response p50 {latency['from_ack_ms']['p50']} ms p99 {latency['from_ack_ms']['p99']} ms; "
            f"from its request p50 {latency['from_send_ms']['p50']} ms p99 {latency['from_send_ms']['p99']} ms "
            f"({latency['received']}/{latency['puts']} received)"
        )
        idle = asyncio.run(idle_subscribers(servers, host, signer, args.subscribers, args.idle_seconds))
        results["idle"] = idle
        log(
            f"{idle['subscribers']} idle subscribers over {idle['seconds']:.0f} s: server "
            f"{idle['server_cpu_s_per_s']} CPU s/s, postgres {idle['postgres_cpu_s_per_s']} CPU s/s, "
            f"{idle['pg_commits_per_s']} commits/s; the shared watch looked {idle['watch_looks']:.0f} times, "
            f"{idle['pages_read']:.0f} pages read"
        )
        if args.events:
            log(f"writing {args.events} events")
            fill_log(servers, args.events)
            head = wait_followers(servers, timeout=max(120.0, args.events / 500))
            verify_s = timed_command(servers, "verify", "--chain")
            log(f"verify --chain: {head} events in {verify_s:.1f} s = {head / verify_s:.0f} events/s")
            servers.chronicle.terminate()
            servers.chronicle.wait(timeout=30)
            replay_s = timed_command(servers, "replay")
            log(f"replay: {head} events in {replay_s:.1f} s = {head / replay_s:.0f} events/s")
            results["log"] = {
                "events": head,
                "verify_chain_events_per_s": round(head / verify_s),
                "replay_events_per_s": round(head / replay_s),
            }
    finally:
        servers.stop()
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

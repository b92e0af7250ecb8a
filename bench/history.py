"""One command for every figure of issue 14 (the history's read side), at the issue's scale.

    python -m bench.history --events 1000000   # everything, at the issue's log scale
    python -m bench.history                    # the same with a log of 100,000 events (a check)
    python -m bench.history --events 0         # no log scale (seeding, verify --chain, replay, audit)
    python -m bench.history --skip stream,get-audit,asof,offline-replay   # parts left out

Starts a fresh PostgreSQL database (dropped at the end) and `chronicle serve` as bench.run
does, then prints, part by part (--skip NAME leaves one out):
- stream: the maximum PUT rate (1 KiB, concurrency 32, a short window), then PUT-to-subscriber
  latency p50/p99 at half that rate: one NDJSON subscriber of the bucket, PUTs paced
  open-loop; measured from the PUT's response (the write is committed) and from its request
  being sent. Then the CPU of 1,000 idle subscribers over 30 s next to the same window with
  none: server and PostgreSQL CPU seconds per second, commits per second, how often the
  process's one shared watch looked at the index and how many pages subscribers read;
- get-audit: GET 1 KiB throughput with the request audit on vs off (bench.audit, the scenario
  `python -m bench.run --only audit` runs), median of back-to-back pairs;
- log (--events N, 0 skips it): a log of N events seeded through the service layer
  (bench.history_seed), then `chronicle verify --chain`, `chronicle replay --until HEAD --into`
  a fresh PostgreSQL database while the server runs, `chronicle audit --bucket --key` for one
  key and the admin API's audit query (bench.history_log); offline-replay: `chronicle replay`
  with the server stopped;
- asof: a LIST page as of the past next to a live one (bench.asof_list, its own database).

The machine is shared (2 cores, other work running): read every figure as a pessimistic one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from bench import asof_list, audit, history_log
from bench.history_seed import key_name
from bench.loadgen import RawClient, percentiles
from bench.run import CpuWindow, Servers, load, log, s3
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
        "still_waiting": after.get("chronicle_event_stream_waiting_subscribers", 0.0),
        "watch_looks": delta("chronicle_event_stream_index_looks_total"),
        "pages_read": delta("chronicle_event_stream_pages_read_total"),
    }


PARTS = ("stream", "get-audit", "offline-replay", "asof")


def raise_descriptor_limit(needed: int) -> None:
    """This process holds a connection per subscriber: room for them under the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise SystemExit(f"{needed} file descriptors needed, the hard limit is {hard}: raise it (ulimit -n)")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def stream_part(servers: Servers, host: str, signer: Signer, args: argparse.Namespace) -> dict[str, Any]:
    top = max_put_rate(servers, 5.0)
    log(f"max PUT 1 KiB rate (c=32, 5 s): {top:.0f}/s")
    latency = asyncio.run(subscriber_latency(host, signer, top / 2, args.latency_seconds))
    log(
        f"PUT-to-subscriber at {latency['rate_achieved']}/s (asked {latency['rate_asked']}): "
        f"from the PUT's response p50 {latency['from_ack_ms']['p50']} ms p99 {latency['from_ack_ms']['p99']} ms; "
        f"from its request p50 {latency['from_send_ms']['p50']} ms p99 {latency['from_send_ms']['p99']} ms "
        f"({latency['received']}/{latency['puts']} received)"
    )
    results: dict[str, Any] = {"latency": dict(latency, max_put_rate=round(top))}
    for count in (0, args.subscribers):
        idle = asyncio.run(idle_subscribers(servers, host, signer, count, args.idle_seconds))
        results["idle" if count else "idle_baseline"] = idle
        log(
            f"{idle['subscribers']} idle subscribers over {idle['seconds']:.0f} s: server "
            f"{idle['server_cpu_s_per_s']} CPU s/s, postgres {idle['postgres_cpu_s_per_s']} CPU s/s, "
            f"{idle['pg_commits_per_s']} commits/s; the shared watch looked {idle['watch_looks']:.0f} times, "
            f"{idle['pages_read']:.0f} pages read, {idle['still_waiting']:.0f} still waiting at the end"
        )
    return results


def log_part(servers: Servers, host: str, signer: Signer, args: argparse.Namespace) -> dict[str, Any]:
    filled = history_log.fill_log(servers, host, signer, BUCKET, args.events)
    events = filled["head"]
    out: dict[str, Any] = {"events": events, "seeding": filled}
    out["verify_chain"] = history_log.verify_chain(servers, events)
    out["replay_into"] = history_log.replay_into(servers, events)
    out["audit_key"] = history_log.audit_key(servers, host, signer, BUCKET, key_name(args.events // 2))
    if "offline-replay" not in args.skip:
        out["offline_replay"] = history_log.offline_replay(servers, events)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=100_000, help="the log's size (default 100000; 0: no log scale)")
    ap.add_argument("--skip", default="", help=f"comma-separated parts to leave out: {', '.join(PARTS)}")
    ap.add_argument("--subscribers", type=int, default=1000, help="idle subscribers (default 1000)")
    ap.add_argument("--idle-seconds", type=float, default=30.0)
    ap.add_argument("--latency-seconds", type=float, default=10.0)
    ap.add_argument("--duration", type=float, default=6.0, help="seconds of each GET window (get-audit)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory and the database")
    ap.add_argument("--json", default="/tmp/chronicle-bench/history.json")
    args = ap.parse_args()
    args.skip = {p.strip() for p in args.skip.split(",") if p.strip()}
    if args.skip - set(PARTS):
        ap.error(f"--skip: unknown {sorted(args.skip - set(PARTS))}; choose from {', '.join(PARTS)}")
    args.workers = 1
    raise_descriptor_limit(args.subscribers + 256)
    # Servers copies this process's environment: metrics without a token, room for the subscribers.
    os.environ["CHRONICLE_PROMETHEUS_AUTH_TYPE"] = "public"
    os.environ["CHRONICLE_MAX_CONNECTIONS"] = str(max(1024, args.subscribers * 2))
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "cpus": os.cpu_count()}
    servers = Servers(args)
    try:
        log(f"starting chronicle (PostgreSQL database {servers.dbname})")
        servers.start()
        host = f"127.0.0.1:{servers.chronicle_port}"
        signer = Signer(servers.user, servers.password)
        status, body = asyncio.run(s3(host, signer, "PUT", f"/{BUCKET}"))
        if status != 200:
            raise RuntimeError(f"CreateBucket: {status} {body[:200]!r}")
        if "stream" not in args.skip:
            results.update(stream_part(servers, host, signer, args))
        if "get-audit" not in args.skip:
            base = {"client": "raw", "duration": args.duration, "warmup": 1.0}
            results["get_audit"] = audit.compare(servers, base, 4, log, load, s3)
            log(
                f"GET 1 KiB with the request audit on vs off: {results['get_audit']['ratio_on_off']} "
                f"(median of pairs {results['get_audit']['pair_ratios']}; target >= 0.8)"
            )
        if args.events:
            results["log"] = log_part(servers, host, signer, args)
    finally:
        servers.stop()
    if "asof" not in args.skip:
        log("as-of LIST (bench.asof_list: a database of its own, 200,000 events)")
        results["asof_list"] = asof_list.measure()
        for line in asof_list.report(results["asof_list"]):
            log(line)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2))
    print(summary(results))
    return 0


def summary(r: dict[str, Any]) -> str:
    """Every figure on one screen, in the issue's words."""
    lines = ["", f"issue 14 figures ({r['cpus']} CPUs, shared machine: pessimistic)"]
    if "latency" in r:
        lat = r["latency"]
        lines.append(
            f"  subscriber latency at {lat['rate_achieved']} PUT/s: p50 {lat['from_ack_ms']['p50']} ms, "
            f"p99 {lat['from_ack_ms']['p99']} ms after the PUT's response"
        )
        idle, base = r["idle"], r["idle_baseline"]
        lines.append(
            f"  CPU of {idle['subscribers']} idle subscribers: server {idle['server_cpu_s_per_s']} s/s "
            f"(none: {base['server_cpu_s_per_s']}), postgres {idle['postgres_cpu_s_per_s']} s/s "
            f"(none: {base['postgres_cpu_s_per_s']}), {idle['pages_read']:.0f} pages read, "
            f"{idle['watch_looks']:.0f} looks by the shared watch in {idle['seconds']:.0f} s"
        )
    if "get_audit" in r:
        lines.append(f"  GET 1 KiB request audit on / off: {r['get_audit']['ratio_on_off']} (>= 0.8)")
    if "log" in r:
        lg = r["log"]
        lines.append(f"  log of {lg['events']} events, seeded at {lg['seeding']['seed_events_per_s']} events/s")
        lines.append(f"  verify --chain: {lg['verify_chain']['events_per_s']} events/s")
        lines.append(
            f"  replay --until --into PostgreSQL, servers running: {lg['replay_into']['events_per_s']} events/s "
            f"(>= 20000; {lg['replay_into']['seconds']} s, {lg['replay_into']['cpu_s']} s CPU)"
        )
        lines.append(
            f"  audit of one key: chronicle audit {lg['audit_key']['cli_s']} s ({lg['audit_key']['cli_cpu_s']} s CPU), "
            f"admin API {lg['audit_key']['admin_api_ms']} ms (< 1 s)"
        )
        if "offline_replay" in lg:
            lines.append(f"  replay offline (every view): {lg['offline_replay']['events_per_s']} events/s")
    if "asof_list" in r:
        lines.append(
            f"  as-of LIST / live LIST: {r['asof_list']['past_ratio']} (100,000 events ago), "
            f"{r['asof_list']['now_ratio']} (now) (<= 2)"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

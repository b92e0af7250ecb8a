"""bench.history's log scale (issue 14): a log of N events, then what an operator and an
auditor run against it.

- seeding: bench.history_seed (in-process writers through the service layer; see there why
  and what makes the events those of real PUTs), the server running, until its followers
  (chain linker, audit index, history view) have reached the head;
- `chronicle verify --chain` over the whole log;
- `chronicle replay --until HEAD --into postgresql://.../fresh` while the server keeps running
  (the issue's figure: >= 20,000 events/s on PostgreSQL for a log of 1,000,000 events);
- `chronicle audit --bucket B --key K` for one key among the N events (median wall time of
  the whole command, Python's start included), and the same question through the admin API
  (GET /minio/admin/v3/chronicle/audit, median of signed requests): under a second;
- `chronicle replay` offline (the server stopped): every view rebuilt from the log.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson
import psycopg

from bench.history_seed import BODY, key_name, seed
from bench.run import PG_ADMIN_URL, ROOT, Servers, log, s3
from bench.sigv4 import Signer

AUDIT_ROUNDS = 5  # runs of `chronicle audit` (a process each)
ADMIN_ROUNDS = 20  # admin API requests
AUDIT_PATH = "/minio/admin/v3/chronicle/audit"
CPU_SECONDS = [0.0]  # of the last `chronicle` command run


def database_url(servers: Servers, name: str | None = None) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name or servers.dbname}"


def sql_value(servers: Servers, sql: str, params: tuple[Any, ...] = ()) -> Any:
    with psycopg.connect(database_url(servers)) as conn:
        row = conn.execute(sql, params).fetchone()
    return row[0] if row else None


def head(servers: Servers) -> int:
    return int(sql_value(servers, "SELECT COALESCE(MAX(notification_id), 0) FROM chronicle_events") or 0)


def fill_log(servers: Servers, host: str, signer: Signer, bucket: str, events: int) -> dict[str, Any]:
    """The log up to `events` events: one real PUT, then the seeders, then the followers."""
    status, body = asyncio.run(s3(host, signer, "PUT", f"/{bucket}/{key_name(0)}", body=BODY))
    if status != 200:
        raise RuntimeError(f"template PUT: {status} {body[:200]!r}")
    template = int(
        sql_value(servers, "SELECT position FROM ns_versions WHERE bucket = %s AND key = %s", (bucket, key_name(0)))
    )
    count = max(0, events - head(servers))
    log(f"seeding {count} PUTs' events (template: the PUT at position {template})")
    seconds = seed(servers.env, servers.workdir / "data", template, count, head=lambda: head(servers), log=log, first=1)
    written = head(servers)
    log(f"  seeded {count} events in {seconds:.0f} s = {count / seconds:.0f} events/s; the log holds {written}")
    caught_up = wait_followers(servers, timeout=max(300.0, events / 200))
    return {"seeded": count, "seed_s": round(seconds, 1), "seed_events_per_s": round(count / seconds),
            "followers_s": round(caught_up, 1), "head": written}  # fmt: skip


def wait_followers(servers: Servers, timeout: float) -> float:
    """Seconds until the chain linker, the audit index and the history view reach the head."""
    started = time.monotonic()
    target = head(servers)
    last_report = started
    while True:
        with psycopg.connect(database_url(servers)) as conn:
            linked = conn.execute("SELECT COALESCE(MAX(position), 0) FROM chain_links").fetchone()[0]  # type: ignore[index]
            indexed = conn.execute("SELECT COALESCE(MAX(position), 0) FROM audit_tracking").fetchone()[0]  # type: ignore[index]
            history = conn.execute("SELECT COALESCE(MAX(position), 0) FROM ns_history_tracking").fetchone()[0]  # type: ignore[index]
        if min(linked, indexed, history) >= target:
            waited = time.monotonic() - started
            log(f"  followers at the head {target} {waited:.0f} s after the seeders ended")
            return waited
        now = time.monotonic()
        if now - started > timeout:
            raise RuntimeError(
                f"followers behind after {timeout:.0f} s: head {target}, linked {linked}, indexed {indexed}, "
                f"history {history}"
            )
        if now - last_report >= 15:
            last_report = now
            log(f"  followers: head {target}, chain {linked}, audit index {indexed}, history {history}")
        time.sleep(1.0)


def chronicle(servers: Servers, *argv: str) -> tuple[float, str]:
    """Run `chronicle ARGV` against the bench's store; (seconds, its standard output).
    CPU_SECONDS[0] is then the CPU time it (and its own children) used."""
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", *argv, "--data-dir", str(servers.workdir / "data")],
        env=servers.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU_SECONDS[0] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if done.returncode != 0:
        raise RuntimeError(
            f"chronicle {' '.join(argv)}: exit {done.returncode}: {done.stdout[-500:]}{done.stderr[-500:]}"
        )
    return elapsed, done.stdout


def verify_chain(servers: Servers, events: int) -> dict[str, Any]:
    seconds, _ = chronicle(servers, "verify", "--chain")
    cpu = CPU_SECONDS[0]
    log(f"verify --chain: {events} events in {seconds:.1f} s = {events / seconds:.0f} events/s ({cpu:.1f} s of CPU)")
    return {"seconds": round(seconds, 1), "events_per_s": round(events / seconds), "cpu_s": round(cpu, 1)}


def replay_into(servers: Servers, until: int) -> dict[str, Any]:
    """`replay --until UNTIL --into` a fresh PostgreSQL database while the server runs."""
    target = f"{servers.dbname}_into"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{target}"')
    try:
        seconds, out = chronicle(servers, "replay", "--until", str(until), "--into", database_url(servers, target))
        cpu = CPU_SECONDS[0]
        with psycopg.connect(database_url(servers, target)) as conn:
            rows = conn.execute("SELECT count(*) FROM ns_versions").fetchone()[0]  # type: ignore[index]
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
    built = int(out.rsplit(" from ", 1)[1].split()[0])
    log(
        f"replay --until {until} --into a fresh PostgreSQL database, the server running: {built} events in "
        f"{seconds:.1f} s = {built / seconds:.0f} events/s ({rows} object versions built; {cpu:.1f} s of CPU in "
        "the command and its chain check; target >= 20000/s)"
    )
    return {"events": built, "seconds": round(seconds, 1), "events_per_s": round(built / seconds),
            "cpu_s": round(cpu, 1), "versions_built": rows, "target": ">= 20000",
            "pass": built / seconds >= 20_000}  # fmt: skip


def audit_key(servers: Servers, host: str, signer: Signer, bucket: str, key: str) -> dict[str, Any]:
    """One key's changes among the whole log: `chronicle audit` and the admin API."""
    runs, cpu = [], []
    for _ in range(AUDIT_ROUNDS):
        seconds, out = chronicle(servers, "audit", "--bucket", bucket, "--key", key, "--format", "json")
        runs.append(seconds)
        cpu.append(CPU_SECONDS[0])
        found = [orjson.loads(line) for line in out.splitlines() if line.strip()]
        if [r["key"] for r in found] != [key]:
            raise RuntimeError(f"chronicle audit --key {key}: {len(found)} records, expected the one PUT")
    query = [("bucket", bucket), ("key", key)]
    api = _median_request(lambda: s3(host, signer, "GET", AUDIT_PATH, query), key)
    cli_s = statistics.median(runs)
    log(
        f"audit of one key among the log: `chronicle audit --bucket {bucket} --key {key}` median {cli_s:.2f} s "
        f"(the whole command, {AUDIT_ROUNDS} runs; {statistics.median(cpu):.2f} s of CPU, Python's start and "
        f"imports nearly all of it); admin API {AUDIT_PATH} median {api * 1000:.1f} ms "
        f"({ADMIN_ROUNDS} requests); target < 1 s"
    )
    return {"cli_s": round(cli_s, 3), "cli_runs_s": [round(r, 3) for r in runs],
            "cli_cpu_s": round(statistics.median(cpu), 3), "admin_api_ms": round(api * 1000, 1),
            "target": "< 1 s", "pass": cli_s < 1.0 and api < 1.0}  # fmt: skip


def _median_request(request: Callable[[], Any], key: str) -> float:
    async def timed() -> list[float]:
        times = []
        for _ in range(ADMIN_ROUNDS):
            started = time.perf_counter()
            status, body = await request()
            times.append(time.perf_counter() - started)
            if status != 200 or [r["key"] for r in orjson.loads(body)["records"]] != [key]:
                raise RuntimeError(f"admin audit query: {status} {body[:300]!r}")
        return times

    return statistics.median(asyncio.run(timed()))


def offline_replay(servers: Servers, events: int) -> dict[str, Any]:
    """The server stopped, `chronicle replay` rebuilds every view from the log."""
    servers.chronicle.terminate()
    servers.chronicle.wait(timeout=30)
    seconds, _ = chronicle(servers, "replay")
    log(f"replay (offline, every view): {events} events in {seconds:.1f} s = {events / seconds:.0f} events/s")
    return {"seconds": round(seconds, 1), "events_per_s": round(events / seconds)}

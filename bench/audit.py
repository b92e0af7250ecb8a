"""The `audit` scenario: the cost of the request audit (issue 14). GET of 1 KiB objects at
concurrency 32 from a bucket whose requests are recorded (CHRONICLE_AUDIT_REQUESTS names it;
bench.run starts the server so) and from an identical bucket whose requests are not, in
back-to-back pairs on the same server. Target: recorded rate >= 0.8x the unrecorded rate.
Before timing, one GET of the audited bucket must reach the request_audit table, so the
audit really runs on the measured path."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from bench.sigv4 import Signer

AUDITED = "bench-audit-on"
PLAIN = "bench-audit-off"
NOBJ = 100


def setup(servers: Any, base: dict[str, Any], log: Any, load: Any, s3: Any) -> list[str]:
    """Both buckets with obj/000..099 (1 KiB); returns the keys."""
    import psycopg

    chost = f"127.0.0.1:{servers.chronicle_port}"
    root = Signer(servers.user, servers.password)
    keys = [f"obj/{i:03d}" for i in range(NOBJ)]
    keys_file = servers.workdir / "audit-keys.txt"
    keys_file.write_text("\n".join(keys))
    for bucket in (AUDITED, PLAIN):
        status, body = asyncio.run(s3(chost, root, "PUT", f"/{bucket}"))
        if status != 200:
            raise RuntimeError(f"CreateBucket {bucket}: {status} {body[:200]!r}")
        spec = dict(
            base, op="put", bucket=bucket, body_size=1024, concurrency=16, mode="keys", keys_file=str(keys_file)
        )
        seeded = load(servers, "chronicle", spec, 1)
        if seeded["ok"] != len(keys):
            raise RuntimeError(f"could not seed {bucket}: {seeded['errors']} {seeded['first_error']}")
    status, _ = asyncio.run(s3(chost, root, "GET", f"/{AUDITED}/{keys[0]}"))
    url = f"postgresql://root@127.0.0.1:5432/{servers.dbname}"
    deadline = time.time() + 10
    while time.time() < deadline:
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT count(*) FROM request_audit WHERE bucket = %s", (AUDITED,)).fetchone()
        if status == 200 and row and row[0] > 0:
            log(f"audit: {row[0]} requests of {AUDITED} recorded before timing")
            return keys
        time.sleep(0.2)
    raise RuntimeError("the request audit recorded nothing: is CHRONICLE_AUDIT_REQUESTS set by bench.run?")


def cpu_us_per_request(result: dict[str, Any]) -> dict[str, float]:
    """CPU microseconds each request cost the server and its PostgreSQL backends in a window."""
    rate = result["req_per_s"] or 1.0
    cpu = result.get("cpu") or {}
    return {part: round(cpu.get(part, 0.0) / rate * 1e6, 1) for part in ("server", "postgres")}


def compare(servers: Any, base: dict[str, Any], rounds: int, log: Any, load: Any, s3: Any) -> dict[str, Any]:
    """GET 1 KiB at concurrency 32, audit on vs off, `rounds` back-to-back pairs (which side
    goes first alternates); the ratio is the median of the pairs' ratios."""
    log("audit: two buckets of 100 x 1 KiB, requests of one recorded (CHRONICLE_AUDIT_REQUESTS)")
    keys = setup(servers, base, log, load, s3)
    log(f"GET 1 KiB, concurrency 32, audit on vs off, {rounds} pairs of {base['duration']:.0f} s windows")
    runs: dict[str, list[dict[str, Any]]] = {"on": [], "off": []}
    for rnd in range(rounds):
        for side in ("on", "off") if rnd % 2 == 0 else ("off", "on"):
            bucket = AUDITED if side == "on" else PLAIN
            r = load(servers, "chronicle", dict(base, op="get", bucket=bucket, keys=keys, concurrency=32), 1)
            runs[side].append(r)
            log(
                f"  GET 1KiB audit {side:3s}: {r['req_per_s']:8.0f} req/s p99 {r['latency_ms']['p99']:.1f} ms"
                f" | CPU per request {cpu_us_per_request(r)}"
            )
    pairs = [a["req_per_s"] / b["req_per_s"] for a, b in zip(runs["on"], runs["off"], strict=True)]
    ratio = statistics.median(pairs)
    medians = {side: statistics.median(r["req_per_s"] for r in rs) for side, rs in runs.items()}
    # CPU per request (server + its PostgreSQL backends) moves far less than req/s when other
    # work shares the machine: the same question asked in a second, steadier way.
    cpu_per = {
        side: {part: statistics.median(cpu_us_per_request(r)[part] for r in rs) for part in ("server", "postgres")}
        for side, rs in runs.items()
    }
    return {
        "median_req_per_s": {k: round(v, 1) for k, v in medians.items()},
        "pair_ratios": [round(x, 3) for x in pairs],
        "ratio_on_off": round(ratio, 3),
        "cpu_us_per_request": cpu_per,
        "cpu_ratio_off_on": round(sum(cpu_per["off"].values()) / sum(cpu_per["on"].values()), 3),
        "target": ">= 0.8",
        "pass": ratio >= 0.8,
    }

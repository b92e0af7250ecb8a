"""Webhook backlog drain per receiver style, pipelined and not (not a test).

    python -m bench.webhook                       # 10,000 records per run, 2 rounds (~3-5 min)
    python -m bench.webhook --events 2000 --rounds 1 --styles aiohttp,http10

Delivers a backlog of realistic records (~900 bytes, MinIO's shape; bench/targets.py) to
a Python receiver in another process (tests/helpers/webhook_receiver.py: it appends
each request to a file and flushes before answering) through ``WebhookTarget`` on uvloop,
in batches of 1,000 as the delivery loop hands them over. Receiver styles:

- ``aiohttp``: HTTP/1.1 keep-alive (aiohttp's server);
- ``http11``: http.server, HTTP/1.1 keep-alive, one connection at a time (it writes the
  head and the body of a response separately: with Nagle on its side and delayed ACKs
  on ours, a client waiting for each response waits ~40 ms per record);
- ``http10``: http.server's default: HTTP/1.0, the body ends with the close;
- ``close``: http.server, HTTP/1.1 with ``Connection: close`` on every response.

Each style runs with pipelining on (``pipeline=32``, the default) and off (``pipeline=1``:
aiohttp, one request at a time), alternating, ``--rounds`` times; the best round of each
counts (a shared machine's other jobs only slow a round down). A run stops at the end of
the batch during which ``--max-seconds`` passed and reports the rate of what it delivered. Every run checks that the
receiver got each record once, in order. Prints a table, the pipelined/plain ratio per
style, and writes JSON to /tmp/chronicle-bench/webhook.json.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop

from bench.run import free_port, log
from bench.targets import make_records
from workers.targets import Delivery, WebhookConfig
from workers.targets.webhook import WebhookTarget

ROOT = Path(__file__).resolve().parent.parent
STYLES = ("aiohttp", "http11", "http10", "close")
BATCH = 1000  # workers/delivery.py's BATCH


class Receiver:
    def __init__(self, style: str, workdir: Path) -> None:
        self.style = style
        self.port = free_port()
        self.out = workdir / f"{style}-{self.port}.jsonl"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.helpers.webhook_receiver",
                "--port",
                str(self.port),
                "--out",
                str(self.out),
                "--style",
                style,
            ],
            cwd=ROOT,
        )
        deadline = time.time() + 20
        while not self.out.exists() and time.time() < deadline:
            time.sleep(0.05)
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"the {style} receiver did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/minio/events"

    def received(self) -> tuple[list[int], int]:
        """Sequencers in arrival order, and how many client ports brought them (one per
        connection, but over thousands of connections the system reuses ports)."""
        seqs, peers = [], set()
        with self.out.open(encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                peers.add(r["peer"])
                seqs.append(int(json.loads(r["body"])["Records"][0]["s3"]["object"]["sequencer"], 16))
        return seqs, len(peers)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


async def drain(url: str, pipeline: int, records: list[Delivery], max_seconds: float) -> tuple[int, float]:
    target = WebhookTarget("bench", WebhookConfig(endpoint=url, pipeline=pipeline))
    await target.open()
    done = 0
    t0 = time.perf_counter()
    try:
        while done < len(records) and time.perf_counter() - t0 < max_seconds:
            batch = records[done : done + BATCH]
            await target.deliver(batch)
            done += len(batch)
        return done, time.perf_counter() - t0
    finally:
        await target.close()


def run_one(
    style: str, pipeline: int, records: list[Delivery], args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    rx = Receiver(style, workdir)
    try:
        done, seconds = uvloop.run(drain(rx.url, pipeline, records, args.max_seconds))
        time.sleep(0.2)  # the receiver's last line is flushed before its answer: nothing pending
        seqs, ports = rx.received()
    finally:
        rx.stop()
        rx.out.unlink(missing_ok=True)
    want = [r.position - 1 for r in records[:done]]  # make_records: sequencer = position - 1
    in_order = seqs == want
    rate = done / seconds if seconds else 0.0
    log(
        f"{style:8s} pipeline={pipeline:<3d} {done:6d} records in {seconds:6.2f} s = "
        f"{rate:7,.0f}/s from {ports} client port(s); each once in order: {in_order}"
    )
    return {
        "records": done,
        "seconds": round(seconds, 3),
        "per_s": round(rate),
        "client_ports": ports,
        "each_once_in_order": in_order,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--styles", default=",".join(STYLES))
    ap.add_argument("--max-seconds", type=float, default=60.0, help="stop a run after this long")
    ap.add_argument("--out", default="/tmp/chronicle-bench/webhook.json")
    args = ap.parse_args()
    styles = [s for s in args.styles.split(",") if s]
    records = make_records(args.events)
    workdir = Path(tempfile.mkdtemp(prefix="chronicle-bench-webhook-"))
    avg = sum(len(r.record) for r in records) // len(records)
    log(f"{args.events} records of ~{avg} bytes, batches of {BATCH}, load {os.getloadavg()[0]:.1f}")
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for style in styles:
        runs: dict[str, list[dict[str, Any]]] = {"pipelined": [], "plain": []}
        for _ in range(args.rounds):
            runs["pipelined"].append(run_one(style, 32, records, args, workdir))
            runs["plain"].append(run_one(style, 1, records, args, workdir))
        results[style] = runs
    summary: dict[str, Any] = {}
    print(f"\n{'receiver':10s} {'pipelined/s':>12s} {'plain/s':>10s} {'ratio':>7s}  all once in order")
    for style, runs in results.items():
        best = {mode: max(r["per_s"] for r in rs) for mode, rs in runs.items()}
        ok = all(r["each_once_in_order"] for rs in runs.values() for r in rs)
        ratio = best["pipelined"] / best["plain"] if best["plain"] else 0.0
        summary[style] = {**best, "ratio": round(ratio, 2), "each_once_in_order": ok}
        print(f"{style:10s} {best['pipelined']:12,d} {best['plain']:10,d} {ratio:7.2f}  {ok}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    doc = {"events": args.events, "load_avg": os.getloadavg(), "summary": summary, "runs": results}
    Path(args.out).write_text(json.dumps(doc, indent=2))
    log(f"wrote {args.out}")
    return 0 if all(s["each_once_in_order"] for s in summary.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

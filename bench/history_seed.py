"""Seeding a log of N events for bench.history, fast and honestly.

Filling a million events by PUTs over HTTP takes the server's whole request path a million
times: the raw client at concurrency 64 filled 20,000 at 113 PUTs/s on this shared 2-core
machine (its best 1 KiB rate, in a 5 s window, about 1,100/s), hours for a million. What the
log-scale figures need is the log, not the requests. So the seeders are in-process writers
through the service layer, against the same PostgreSQL store the server uses:

- one real PUT over HTTP first (the template): its ObjectVersion.Created event is read back
  from the log, and every seeded event carries the same fields (size, ETag, content type,
  headers, checksum, the actor's access key, source IP and user agent), only the key, the
  inline blob (16 bytes, its own row, as a real PUT of that body stores) and the request id
  differ;
- SEEDERS processes (python -m bench.history_seed), each with a ServerContext built by
  `cli.serve.server_context` as `chronicle serve` builds it, call
  `api.services.objects.put_version` — the function the PUT handler calls — from
  CONCURRENCY tasks on one event loop; the group committer and the one-statement append
  batch them exactly as they batch concurrent requests;
- the server keeps running meanwhile: its followers (chain linker, audit index, history
  view) link, index and record every event as they would for real PUTs, woken by the
  store's NOTIFY.

So the events, chain links, audit rows, history rows and namespace rows are what real PUTs
produce; what is skipped is HTTP parsing, SigV4 and the body's streaming, none of which
leaves a trace in the log.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from api.app import request_id
from api.context import ServerContext
from api.services.objects import put_version
from cli.secrets import master_key
from cli.serve import server_context
from cli.settings import ChronicleSettings
from cli.store import open_event_store
from domain.aggregates import ObjectVersion
from projections.eventstore.recorder import ChronicleApplication
from projections.eventstore.tx import Tx

SEEDERS = 2  # processes: the machine's two cores, shared with PostgreSQL and the server
CONCURRENCY = 512  # PUTs in flight per process (two full batches of the one-statement append)
BODY = b"chronicle-bench!"  # 16 bytes: stored inline, its own blob row per object
_HEAD_FIELDS = 4  # originator_id, originator_version, timestamp, originator_topic


def key_name(i: int) -> str:
    return f"log/{i:08d}"


def template_fields(app: ChronicleApplication, position: int) -> dict[str, Any]:
    """The constructor fields of the ObjectVersion.Created event at `position` (a real PUT)."""
    store = app.store
    with store.read() as cursor:
        rows = Tx(cursor, store.dialect).all(store.events_page_sql(), (position, 1))
    event = app.decode_row(rows[0])
    if type(event) is not ObjectVersion.Created:
        raise RuntimeError(f"position {position} holds {type(event).__name__}, not a PUT's ObjectVersion.Created")
    names = [f.name for f in dataclasses.fields(event)][_HEAD_FIELDS:]
    return {name: getattr(event, name) for name in names}


async def _one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _write(ctx: ServerContext, template: dict[str, Any], keys: list[str], concurrency: int) -> int:
    pending = iter(keys)
    written = 0

    async def writer() -> None:
        nonlocal written
        for key in pending:
            staged = await ctx.blobs.stage(_one_chunk(BODY), lambda _: None, expected_size=len(BODY))
            actor = dict(template["actor"], request_id=request_id())
            fields = dict(template, key=key, blob=staged.descriptor(), actor=actor)
            await put_version(ctx, fields, staged, None)
            written += 1

    await asyncio.gather(*(writer() for _ in range(concurrency)))
    return written


def seed_part(data_dir: Path, template_position: int, first: int, count: int, part: int, parts: int) -> int:
    """This process's share of keys first..first+count-1 (every `parts`-th, from `part`)."""
    settings = ChronicleSettings.from_environ(os.environ)
    store = open_event_store(settings, data_dir, create_table=False, name="bench-seed")
    key = master_key(data_dir, settings.master_key)
    root = (os.environ["CHRONICLE_ROOT_USER"], os.environ["CHRONICLE_ROOT_PASSWORD"])
    ctx = server_context(argparse.Namespace(domain=None), settings, store, data_dir, key, root)
    try:
        template = template_fields(store, template_position)
        if template["size"] != len(BODY):
            raise RuntimeError(f"the template PUT stored {template['size']} bytes, the seeders write {len(BODY)}")
        keys = [key_name(i) for i in range(first + part, first + count, parts)]
        return asyncio.run(_write(ctx, template, keys, CONCURRENCY))
    finally:
        ctx.close()


def seed(
    env: dict[str, str],
    data_dir: Path,
    template_position: int,
    count: int,
    *,
    head: Callable[[], int],
    log: Callable[[str], None],
    first: int = 0,
    seeders: int = SEEDERS,
) -> float:
    """Write `count` PUTs' events with `seeders` processes; returns the seconds it took.
    `head()` is the log's head position (for the progress line)."""
    started = time.perf_counter()
    start_head = head()
    argv = [sys.executable, "-m", "bench.history_seed", str(data_dir), str(template_position), str(first), str(count)]
    procs = [
        subprocess.Popen([*argv, str(part), str(seeders)], env=env, cwd=Path(__file__).resolve().parent.parent)
        for part in range(seeders)
    ]
    try:
        last_report = 0.0
        while any(p.poll() is None for p in procs):
            time.sleep(1.0)
            if time.perf_counter() - last_report >= 15:
                last_report = time.perf_counter()
                done = head() - start_head
                elapsed = last_report - started
                log(f"  seeded {done}/{count} events, {done / elapsed:.0f}/s")
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait()
    failed = [p.returncode for p in procs if p.returncode]
    if failed:
        raise RuntimeError(f"a seeder exited with {failed}")
    return time.perf_counter() - started


def main() -> int:
    data_dir, template_position, first, count, part, parts = sys.argv[1:7]
    written = seed_part(Path(data_dir), int(template_position), int(first), int(count), int(part), int(parts))
    print(json.dumps({"part": int(part), "written": written}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

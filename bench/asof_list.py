"""`python -m bench.asof_list`: what a LIST page as of the past costs next to a live one
(issue 14: at most 2x). A fresh PostgreSQL database, migrated by `chronicle migrate`, holds a
100,000-key bucket whose every key was overwritten once (200,000 events): the history view
and the namespace as the projections would hold them, written straight in SQL (building them
through the API would take the whole run). It times 1,000-key pages from 20 starting points:
live, as of position 100,000 (100,000 events ago, every key at its first version) and as of
now. The database is dropped afterwards."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.rows import dict_row

from projections.eventstore.sql import PostgresDialect
from projections.eventstore.tx import Tx
from projections.history.queries import list_objects_at
from projections.namespace.queries import Page, list_objects

SERVER = "postgresql://root@127.0.0.1:5432"
KEYS = 100_000
PAGE = 1000
_VERSION = (
    "'b', 'key/' || lpad(i::text, 7, '0'), 'null', {pos}, false, {size}, 'e', i, 't', '{{}}', '{{}}', "
    "'{{\"segments\":[]}}', '{{}}', '{{}}', '[]', 'o', 'PutObject', ''"
)
_COLUMNS = (
    "bucket, key, version_id, {pos_col}, is_delete_marker, size, etag, mtime_us, content_type, headers, "
    "metadata, blob, checksum, tags, parts, owner, operation, acl"
)


def fill(conn: Any) -> None:
    hist = _COLUMNS.format(pos_col="from_position")
    conn.execute(
        f"INSERT INTO ns_history (id, from_us, to_position, to_us, {hist}) "
        f"SELECT md5('a' || i), i, {KEYS} + i, {KEYS} + i, {_VERSION.format(pos='i', size=10)} "
        f"FROM generate_series(1, {KEYS}) i"
    )
    conn.execute(
        f"INSERT INTO ns_history (id, from_us, to_position, to_us, {hist}) "
        f"SELECT md5('b' || i), {KEYS} + i, NULL, NULL, {_VERSION.format(pos=f'{KEYS} + i', size=20)} "
        f"FROM generate_series(1, {KEYS}) i"
    )
    conn.execute("INSERT INTO ns_history_buckets VALUES ('b', 'x', 0, NULL, '')")
    conn.execute(
        "INSERT INTO ns_buckets (name, id, owner, region, created_us, versioning, position) "
        "VALUES ('b', 'x', 'o', 'r', 0, '', 0)"
    )
    conn.execute(
        f"INSERT INTO ns_versions (id, is_latest, {_COLUMNS.format(pos_col='position')}) "
        f"SELECT md5('b' || i), true, {_VERSION.format(pos=f'{KEYS} + i', size=20)} FROM generate_series(1, {KEYS}) i"
    )
    conn.execute("ANALYZE")


def median_page(fn: Callable[[str], Page], rounds: int = 3) -> float:
    starts = [f"key/{i:07d}" for i in range(0, KEYS - PAGE, (KEYS - PAGE) // 20)]
    times = []
    for _ in range(rounds):
        for start in starts:
            began = time.perf_counter()
            page = fn(start)
            times.append(time.perf_counter() - began)
            assert len(page.entries) == PAGE, len(page.entries)
    return statistics.median(times)


def measure() -> dict[str, float]:
    """Median seconds of a page: live, as of KEYS events ago and as of now (and the ratios)."""
    db = f"bench_asof_{os.getpid()}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{db}"')
    try:
        env = dict(
            os.environ,
            CHRONICLE_DATABASE_URL=f"{SERVER}/{db}",
            CHRONICLE_MASTER_KEY="0" * 64,
            CHRONICLE_ROOT_USER="bench",
            CHRONICLE_ROOT_PASSWORD="bench-secret",
        )
        with tempfile.TemporaryDirectory() as data_dir:
            entry = "import sys; from cli.main import main; sys.exit(main())"
            subprocess.run(
                [sys.executable, "-c", entry, "migrate", "--data-dir", data_dir],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        with psycopg.connect(f"{SERVER}/{db}", row_factory=dict_row, autocommit=True) as conn:
            fill(conn)
            tx = Tx(conn.cursor(), PostgresDialect())

            def live(start: str) -> Page:
                return list_objects(tx, "b", prefix="", delimiter="", start_after=start, max_keys=PAGE)

            def as_of(point: int) -> Callable[[str], Page]:
                return lambda start: list_objects_at(
                    tx, "b", point, prefix="", delimiter="", start_after=start, max_keys=PAGE
                )

            median_page(live, rounds=1)  # warm the caches
            live_s = median_page(live)
            past_s = median_page(as_of(KEYS))
            now_s = median_page(as_of(2 * KEYS))
    finally:
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    return {
        "live_ms": round(live_s * 1000, 2),
        "past_ms": round(past_s * 1000, 2),
        "now_ms": round(now_s * 1000, 2),
        "past_ratio": round(past_s / live_s, 2),
        "now_ratio": round(now_s / live_s, 2),
    }


def report(r: dict[str, float]) -> list[str]:
    return [
        f"LIST page of {PAGE} keys, bucket of {KEYS} keys, {2 * KEYS} events (PostgreSQL):",
        f"  live                      {r['live_ms']:6.1f} ms",
        f"  as of {KEYS} events ago  {r['past_ms']:6.1f} ms  ({r['past_ratio']:.2f}x live)",
        f"  as of now                 {r['now_ms']:6.1f} ms  ({r['now_ratio']:.2f}x live)",
    ]


def main() -> int:
    for line in report(measure()):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Reads from the event loop over libpq (projections.eventstore.pg_async), against a real PostgreSQL:
values decode as psycopg decodes them, errors are psycopg's, a connection the server dropped
is replaced, a cancelled read does not leave a busy connection behind, and the number of
connections stays bounded."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from projections.eventstore.pg_async import AsyncReads


def _reads(pg_url: str, **kwargs) -> AsyncReads:
    from psycopg.conninfo import make_conninfo

    return AsyncReads(lambda: make_conninfo(pg_url, client_encoding="utf8"), **kwargs)


def test_rows_decode_like_psycopg(pg_url):
    statement = (
        "SELECT ?::text AS t, 'é ☃'::text AS u, ?::bigint AS big, 7::integer AS i, 2::smallint AS s, "
        "true AS yes, false AS no, NULL::text AS nothing, '\\x00ff'::bytea AS raw, "
        "'x'::text COLLATE \"C\" AS c, -5::bigint AS neg"
    )

    async def run():
        reads = _reads(pg_url)
        try:
            got = await reads.one(statement, ("a?b", 2**40))
            many = await reads.all("SELECT g AS n FROM generate_series(1, ?) g", (3,))
            none = await reads.one("SELECT 1 AS x WHERE false")
        finally:
            reads.close()
        return got, many, none

    got, many, none = asyncio.run(run())
    with psycopg.connect(pg_url, row_factory=psycopg.rows.dict_row) as conn:
        expected = conn.execute(statement.replace("?", "%s"), ("a?b", 2**40)).fetchone()
    assert got == expected
    assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]
    assert many == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert none is None


def test_errors_are_psycopgs_and_the_connection_stays_usable(pg_url):
    async def run():
        reads = _reads(pg_url, max_connections=1)
        try:
            with pytest.raises(psycopg.errors.DivisionByZero):
                await reads.one("SELECT 1 / ?::integer AS x", (0,))
            with pytest.raises(psycopg.errors.UndefinedTable):
                await reads.one("SELECT * FROM no_such_table")
            return await reads.one("SELECT 1 / ?::integer AS x", (1,))
        finally:
            reads.close()

    assert asyncio.run(run()) == {"x": 1}


def test_a_connection_the_server_dropped_is_replaced(pg_url):
    async def run():
        reads = _reads(pg_url, max_connections=1)
        try:
            first = await reads.one("SELECT pg_backend_pid() AS pid")
            with psycopg.connect(pg_url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (first["pid"],))
            await asyncio.sleep(0.2)
            second = await reads.one("SELECT pg_backend_pid() AS pid")
            return first["pid"], second["pid"]
        finally:
            reads.close()

    first, second = asyncio.run(run())
    assert first != second


def test_a_cancelled_read_closes_its_connection_and_others_go_on(pg_url):
    async def run():
        reads = _reads(pg_url, max_connections=2)
        try:
            slow = asyncio.ensure_future(reads.one("SELECT pg_sleep(5)::text AS s"))
            await asyncio.sleep(0.3)
            slow.cancel()
            with pytest.raises(asyncio.CancelledError):
                await slow
            assert reads._count == 0  # closed, not returned busy to the idle list
            results = await asyncio.gather(*(reads.one("SELECT ?::integer AS n", (i,)) for i in range(10)))
            return results, reads._count
        finally:
            reads.close()

    results, count = asyncio.run(run())
    assert [r["n"] for r in results] == list(range(10))
    assert count <= 2


def test_connections_stay_bounded_under_concurrency(pg_url):
    async def run():
        reads = _reads(pg_url, max_connections=3)
        try:
            results = await asyncio.gather(
                *(reads.one("SELECT pg_sleep(0.02)::text AS s, ?::integer AS n", (i,)) for i in range(30))
            )
            with psycopg.connect(pg_url, autocommit=True) as admin:
                open_now = admin.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> "
                    "pg_backend_pid()"
                ).fetchone()[0]
            return [r["n"] for r in results], open_now
        finally:
            reads.close()

    numbers, open_now = asyncio.run(run())
    assert numbers == list(range(30))
    assert open_now <= 3


def test_concurrent_reads_share_one_pipelined_connection(pg_url):
    """Reads in flight together go down one connection (up to `depth` of them) and each is
    answered with its own row, in whatever order the callers wait."""

    async def run():
        reads = _reads(pg_url, max_connections=4, depth=16)
        try:
            results = await asyncio.gather(
                *(reads.one("SELECT ?::integer AS n, pg_backend_pid() AS pid", (i,)) for i in range(16))
            )
            return results, reads._count
        finally:
            reads.close()

    results, count = asyncio.run(run())
    assert [r["n"] for r in results] == list(range(16))
    assert len({r["pid"] for r in results}) == 1
    assert count == 1


def test_one_failing_read_in_a_pipeline_spares_the_others(pg_url):
    """Each read carries its own Sync: a division by zero, or a statement that does not even
    prepare, fails only its own caller; the reads queued around it are answered."""

    async def run():
        reads = _reads(pg_url, max_connections=1)
        try:
            calls = []
            for i in range(9):
                if i == 3:
                    calls.append(reads.one("SELECT 1 / ?::integer AS n", (0,)))
                elif i == 6:
                    calls.append(reads.one("SELECT * FROM no_such_table WHERE ? = ?", (i, i)))
                else:
                    calls.append(reads.one("SELECT ?::integer AS n", (i,)))
            return await asyncio.gather(*calls, return_exceptions=True)
        finally:
            reads.close()

    results = asyncio.run(run())
    assert isinstance(results[3], psycopg.errors.DivisionByZero)
    assert isinstance(results[6], psycopg.errors.UndefinedTable)
    assert [r["n"] for i, r in enumerate(results) if i not in (3, 6)] == [0, 1, 2, 4, 5, 7, 8]


def test_reads_pending_on_a_dropped_connection_are_asked_again(pg_url):
    async def run():
        reads = _reads(pg_url, max_connections=1)
        try:
            first = await reads.one("SELECT pg_backend_pid() AS pid")
            pending = [
                asyncio.ensure_future(
                    reads.one("SELECT pg_sleep(0.3)::text AS s, ?::integer AS n, pg_backend_pid() AS pid", (i,))
                )
                for i in range(5)
            ]
            await asyncio.sleep(0.1)
            with psycopg.connect(pg_url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (first["pid"],))
            return first["pid"], await asyncio.gather(*pending)
        finally:
            reads.close()

    dropped, results = asyncio.run(run())
    assert [r["n"] for r in results] == list(range(5))
    assert all(r["pid"] != dropped for r in results)


def test_a_read_larger_than_the_socket_buffer_goes_out_whole_beside_small_ones(pg_url):
    """A parameter of several MiB cannot leave in one write: the rest goes as the socket
    drains, while libpq may take in the answers to the reads queued before it."""

    async def run():
        reads = _reads(pg_url, max_connections=1)
        big = "x" * (12 * 1024 * 1024)
        try:
            small_before = [reads.one("SELECT ?::integer AS n", (i,)) for i in range(5)]
            large = reads.one("SELECT length(?::text) AS n", (big,))
            small_after = [reads.one("SELECT ?::integer AS n", (i,)) for i in range(5, 10)]
            return await asyncio.wait_for(asyncio.gather(*small_before, large, *small_after), 30)
        finally:
            reads.close()

    results = asyncio.run(run())
    assert [r["n"] for r in results] == [0, 1, 2, 3, 4, 12 * 1024 * 1024, 5, 6, 7, 8, 9]

"""Reads from the event loop over psycopg's AsyncConnection (projections.eventstore.async_reads),
against a real PostgreSQL: rows come back as psycopg decodes them, errors are psycopg's and
spare the connection, a connection the server dropped is replaced (also under reads in
flight), a cancelled read does not leave a busy connection behind, the number of connections
stays bounded and statements are prepared on the server."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from projections.eventstore.async_reads import AsyncReads


def _reads(pg_url: str, **kwargs) -> AsyncReads:
    return AsyncReads(lambda: make_conninfo(pg_url, client_encoding="utf8"), **kwargs)


def test_rows_decode_like_psycopg_with_our_placeholders(pg_url):
    statement = (
        "SELECT ?::text AS t, 'é ☃'::text AS u, ?::bigint AS big, 7::integer AS i, 2::smallint AS s, "
        "true AS yes, NULL::text AS nothing, '\\x00ff'::bytea AS raw, '100%'::text AS pct"
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
    assert got == {
        "t": "a?b",
        "u": "é ☃",
        "big": 2**40,
        "i": 7,
        "s": 2,
        "yes": True,
        "nothing": None,
        "raw": b"\x00\xff",
        "pct": "100%",
    }
    assert many == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert none is None


def test_statements_are_prepared_on_the_server(pg_url):
    async def run():
        reads = _reads(pg_url, max_connections=1)
        try:
            await reads.one("SELECT ?::integer AS n", (1,))
            return await reads.all("SELECT statement FROM pg_prepared_statements")
        finally:
            reads.close()

    prepared = [row["statement"] for row in asyncio.run(run())]
    assert any("SELECT $1::integer AS n" in text for text in prepared)


def test_errors_are_psycopgs_and_the_connection_stays_usable(pg_url):
    async def run():
        reads = _reads(pg_url, max_connections=1)
        try:
            first = await reads.one("SELECT pg_backend_pid() AS pid")
            with pytest.raises(psycopg.errors.DivisionByZero):
                await reads.one("SELECT 1 / ?::integer AS x", (0,))
            with pytest.raises(psycopg.errors.UndefinedTable):
                await reads.one("SELECT * FROM no_such_table")
            last = await reads.one("SELECT 1 / ?::integer AS x, pg_backend_pid() AS pid", (1,))
            return first["pid"], last
        finally:
            reads.close()

    pid, last = asyncio.run(run())
    assert last == {"x": 1, "pid": pid}


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


def test_reads_in_flight_on_a_dropped_connection_are_asked_again(pg_url):
    async def run():
        reads = _reads(pg_url, max_connections=1)
        try:
            first = await reads.one("SELECT pg_backend_pid() AS pid")
            pending = [
                asyncio.ensure_future(
                    reads.one("SELECT pg_sleep(0.3)::text AS s, ?::integer AS n, pg_backend_pid() AS pid", (i,))
                )
                for i in range(3)
            ]
            await asyncio.sleep(0.1)
            with psycopg.connect(pg_url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (first["pid"],))
            return first["pid"], await asyncio.gather(*pending)
        finally:
            reads.close()

    dropped, results = asyncio.run(run())
    assert [r["n"] for r in results] == list(range(3))
    assert all(r["pid"] != dropped for r in results)


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
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ).fetchone()[0]
            return [r["n"] for r in results], open_now
        finally:
            reads.close()

    numbers, open_now = asyncio.run(run())
    assert numbers == list(range(30))
    assert open_now <= 3


def test_reads_wait_for_an_open_connection_when_postgresql_refuses_another(pg_url):
    """PostgreSQL's max_connections is shared by every node: when it refuses one more, the
    reads go through the connections already open rather than failing."""
    good = make_conninfo(pg_url, client_encoding="utf8")
    refused = make_conninfo(pg_url, port="1", connect_timeout="2")
    opened = []

    def conninfo() -> str:
        opened.append(1)
        return good if len(opened) == 1 else refused

    async def run():
        reads = AsyncReads(conninfo, max_connections=3)
        try:
            await reads.one("SELECT 1 AS n")
            return await asyncio.gather(
                *(reads.one("SELECT pg_sleep(0.05)::text AS s, ?::integer AS n", (i,)) for i in range(6))
            )
        finally:
            reads.close()

    results = asyncio.run(run())
    assert [r["n"] for r in results] == list(range(6))
    assert len(opened) > 1  # another connection was tried


def test_a_refused_first_connection_is_the_callers_error(pg_url):
    async def run():
        reads = AsyncReads(lambda: make_conninfo(pg_url, port="1", connect_timeout="2"))
        try:
            await reads.one("SELECT 1 AS n")
        finally:
            reads.close()

    with pytest.raises(psycopg.OperationalError):
        asyncio.run(run())

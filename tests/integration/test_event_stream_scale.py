"""Idle event-stream subscribers cost the store nothing of their own: every subscriber of a
process waits on one shared watch of the audit index (woken by the indexer: LISTEN/NOTIFY on
PostgreSQL, in-process on SQLite), reads no page until the index grows, and one change then
reaches every one of them. Counted through the server's metrics, not timed."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import unique_bucket_name
from tests.helpers.prometheus import scrape
from tests.integration.test_event_stream import Stream

PUBLIC = {"CHRONICLE_PROMETHEUS_AUTH_TYPE": "public"}
SUBSCRIBERS = 20
PING = 2
IDLE = 3.0  # seconds the subscribers sit idle while the test counts the store's work for them
WAITING = "chronicle_event_stream_waiting_subscribers"
LOOKS = "chronicle_event_stream_index_looks_total"
PAGES = "chronicle_event_stream_pages_read_total"


def wait_for(predicate, timeout: float = 120.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return value


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_idle_subscribers_share_one_watch_and_one_change_reaches_them_all(server_factory, request, backend):
    kwargs = {"database_url": request.getfixturevalue("pg_url")} if backend == "postgres" else {}
    srv = server_factory(backend, env=PUBLIC, **kwargs)
    s3 = srv.client()
    bucket = unique_bucket_name("scale")
    s3.create_bucket(Bucket=bucket)
    # `from=now` is what the index holds: once a stream from the beginning has the bucket's
    # record, the subscribers below start after it (on a loaded machine the index can lag).
    first = Stream(srv, f"bucket={bucket}&from=beginning")
    assert first.records(1)[0]["event"] == "Bucket.Created"
    first.close()
    # A stream's headers come with its first line: a keep-alive every PING seconds lets each
    # connect without a change; keep-alives read nothing from the store.
    with ThreadPoolExecutor(50) as pool:
        streams = list(pool.map(lambda _: Stream(srv, f"bucket={bucket}&ping={PING}"), range(SUBSCRIBERS)))
    try:
        wait_for(lambda: scrape(srv.endpoint).value(WAITING) >= SUBSCRIBERS - 5, what="the subscribers waiting")
        before = scrape(srv.endpoint)
        time.sleep(IDLE)
        idle = scrape(srv.endpoint)
        # Idle subscribers read no page, and the one shared watch looks only on its fallback
        # clock: a poll per subscriber would be hundreds of looks, the old 50 ms poll sixty.
        assert idle.value(PAGES) == before.value(PAGES)
        assert idle.value(LOOKS) - before.value(LOOKS) <= 10

        s3.put_object(Bucket=bucket, Key="one", Body=b"1")
        for stream in streams:
            (record,) = stream.records(1)
            assert (record["event"], record["bucket"], record["key"]) == ("ObjectVersion.Created", bucket, "one")
        wait_for(lambda: scrape(srv.endpoint).value(WAITING) >= SUBSCRIBERS - 5, what="the subscribers waiting again")
        after = scrape(srv.endpoint)
        # Each subscriber read its page once (maybe twice if it looked as the page landed).
        assert SUBSCRIBERS <= after.value(PAGES) - idle.value(PAGES) <= 2 * SUBSCRIBERS
    finally:
        for stream in streams:
            stream.close()

"""The behaviour of eventsourcing's private API that projections.eventstore.eventsourcing_internals
relies on, pinned against the installed version and a real PostgreSQL: the table lock it takes,
the channel it notifies (which the one-statement append function notifies as well), retries
left out of select_events_once, and the transcoder hook orjson is given."""

from __future__ import annotations

import decimal
import uuid
from importlib.metadata import version
from pathlib import Path

import orjson
import psycopg
import pytest
from eventsourcing.persistence import JSONTranscoder, Transcoding

from projections.eventstore.eventsourcing_internals import (
    EVENTS_TABLE_LOCK_MODE,
    lock_events_table,
    notify_events_channel,
    select_events_once,
    transcoder_default,
)
from projections.eventstore.fast_append import EVENTS_TABLE
from projections.eventstore.recorder import open_store


def test_the_pinned_version_is_the_installed_one():
    pinned = Path(__file__).resolve().parents[2].joinpath("pyproject.toml").read_text()
    assert f'"eventsourcing[postgres]=={version("eventsourcing")}"' in pinned
    assert f'"uvicorn[standard]=={version("uvicorn")}"' in pinned


@pytest.fixture
def store(pg_url, tmp_path):
    app = open_store(pg_url, tmp_path, create_table=True)
    yield app.store
    app.close()


def test_the_lock_is_eventsourcings_exclusive_table_lock_with_its_timeout(store, pg_url):
    with psycopg.connect(pg_url, autocommit=True) as other:
        other.execute(f"SET lock_timeout = '{store.datastore.lock_timeout}s'")
        expected_timeout = other.execute("SHOW lock_timeout").fetchone()[0]
        with store.datastore.transaction(commit=True) as cursor:
            lock_events_table(store, cursor)
            cursor.execute(
                "SELECT l.mode, current_setting('lock_timeout') AS timeout FROM pg_locks l "
                "JOIN pg_class c ON c.oid = l.relation WHERE c.relname = %s AND l.pid = pg_backend_pid()",
                (store.events_table_name,),
            )
            held = [(row["mode"], row["timeout"]) for row in cursor.fetchall()]
            # Another session's writer waits for it; its readers do not.
            other.execute("SET lock_timeout = '100ms'")
            other.execute(f"SELECT count(*) FROM {store.events_table_name}")
            with pytest.raises(psycopg.errors.LockNotAvailable), other.transaction():
                other.execute(f"LOCK TABLE {store.events_table_name} IN ROW EXCLUSIVE MODE")
    assert held == [(f"{EVENTS_TABLE_LOCK_MODE.title()}Lock", expected_timeout)]


def test_the_notification_goes_to_the_channel_the_append_function_notifies(store, pg_url):
    assert store.events_table_name == store.channel_name == EVENTS_TABLE
    with psycopg.connect(pg_url, autocommit=True) as listener:
        listener.execute(f"LISTEN {EVENTS_TABLE}")
        with store.datastore.transaction(commit=True) as cursor:
            notify_events_channel(store, cursor)
        received = [n.channel for n in listener.notifies(timeout=5, stop_after=1)]
    assert received == [EVENTS_TABLE]


def test_select_events_once_reads_without_the_retry_decorator(store, monkeypatch):
    originator = uuid.uuid4()
    assert select_events_once(store, originator) == []
    # eventsourcing's own select_events retries a failing read (ten times); ours fails at once.
    calls = []

    def failing_connection(*args, **kwargs):
        calls.append(1)
        raise psycopg.OperationalError("down")

    monkeypatch.setattr(store.datastore, "get_connection", failing_connection)
    with pytest.raises(Exception):  # noqa: B017 - eventsourcing wraps the error in its own class
        select_events_once(store, originator)
    assert len(calls) == 1


class _Price:
    def __init__(self, amount: decimal.Decimal) -> None:
        self.amount = amount


class _PriceAsDict(Transcoding):
    type = _Price
    name = "price"

    def encode(self, obj: _Price) -> str:
        return str(obj.amount)

    def decode(self, data: str) -> _Price:
        return _Price(decimal.Decimal(data))


def test_the_transcoder_hook_makes_orjson_write_what_the_transcoder_reads():
    transcoder = JSONTranscoder()
    transcoder.register(_PriceAsDict())
    state = {"name": "x", "price": _Price(decimal.Decimal("1.50")), "nested": [_Price(decimal.Decimal("2"))]}
    document = orjson.dumps(state, default=transcoder_default(transcoder))
    decoded = transcoder.decode(document)
    assert decoded["price"].amount == decimal.Decimal("1.50")
    assert decoded["nested"][0].amount == decimal.Decimal("2")
    assert orjson.loads(document) == orjson.loads(transcoder.encode(state))

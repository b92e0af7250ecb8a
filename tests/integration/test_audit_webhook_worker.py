"""The audit webhook's delivery loop against a real store (SQLite, migrated) and a real
receiver process, with what a server rarely shows on cue: a hole in ``seq`` (an insert not
committed yet, or rolled back) holds later entries back until it settles, an entry that
commits into a passed hole is still sent, and ``max_retry`` gives a failing batch up."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from api.audit.recorder import AuditScope, RequestAudit
from projections.eventstore.recorder import ChronicleApplication, open_store
from projections.eventstore.tx import Tx
from tests.helpers.notify import WebhookProcess
from workers.audit_checkpoints import AuditCheckpointStore
from workers.audit_delivery import AuditWebhookWorker
from workers.targets import parse_config
from workers.targets.audit_webhook import AuditWebhookSender

pytestmark = pytest.mark.timeout(120)


def entry(request_id: str) -> dict:
    return {
        "version": "1",
        "deploymentid": "dep",
        "api": {"name": "GetObject", "bucket": "b", "object": "k", "statusCode": 200},
        "remotehost": "127.0.0.1",
        "requestID": request_id,
        "accessKey": "",
    }


def record(app: ChronicleApplication, *request_ids: str) -> None:
    """Through the request audit's recorder, as a server records requests (one batch)."""
    recorder = RequestAudit(app, AuditScope(everything=True))
    for r in request_ids:
        recorder.record({**entry(r), "_time_us": time.time_ns() // 1000})
    recorder.close()  # flushes what is queued


def sql(app: ChronicleApplication, statement: str, params: tuple = ()) -> list:
    with app.store.datastore.transaction(commit=True) as cursor:
        return Tx(cursor, app.store.dialect).all(statement, params)


def make_worker(app: ChronicleApplication, url: str, **settings: str) -> AuditWebhookWorker:
    cfg = parse_config("audit_webhook", {"endpoint": url, "retry_interval": "1s", **settings})
    return AuditWebhookWorker(AuditCheckpointStore(app, "audit_webhook:t"), AuditWebhookSender("t", cfg), settle=1.0)


async def until(check: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(check):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def run(worker: AuditWebhookWorker, steps: Callable[[], Awaitable[None]]) -> None:
    task = asyncio.create_task(worker.run())
    try:
        await steps()
    finally:
        worker.stop()
        await task


@pytest.fixture
def app(tmp_path: Path):
    store = open_store(None, tmp_path / "data", create_table=True)
    yield store
    store.close()


def ids_at(hook: WebhookProcess) -> list[str]:
    return [json.loads(line)["requestID"] for r in hook.requests() for line in r["body"].splitlines()]


def checkpoint(app: ChronicleApplication) -> dict:
    rows = sql(app, "SELECT position, delivered, failed FROM audit_webhook_checkpoints")
    return dict(rows[0]) if rows else {}


LATE_ROW = (
    "INSERT INTO request_audit (seq, time_us, api, bucket, object, status_code, error, access_key, parent_user, "
    "source_ip, request_id, entry) VALUES (3, 0, 'GetObject', 'b', 'k', 200, '', '', '', '127.0.0.1', 'r2', ?)"
)


def test_a_hole_holds_later_entries_back_until_it_settles_and_a_late_entry_still_goes(app, tmp_path):
    record(app, "before")  # seq 1, recorded before the target: not sent
    hook = WebhookProcess(tmp_path / "hook").start()
    worker = make_worker(app, hook.url)

    async def steps() -> None:
        await until(lambda: checkpoint(app), "the first claim")
        await asyncio.to_thread(record, app, "r1", "r2", "r3")  # seq 2, 3, 4
        # r2's insert has not committed yet (or rolled back): seq 3 is missing, 4 is there.
        await asyncio.to_thread(sql, app, "DELETE FROM request_audit WHERE seq = 3")
        started = time.monotonic()
        await until(lambda: "r3" in ids_at(hook), "r3")
        assert ids_at(hook) == ["r1", "r3"] and time.monotonic() - started >= 1.0  # r3 waited for the hole
        assert checkpoint(app)["position"] == 4
        # r2 commits after all, into the hole passed over: sent late rather than lost.
        await asyncio.to_thread(sql, app, LATE_ROW, (json.dumps(entry("r2")),))
        await asyncio.to_thread(record, app, "r4")
        await until(lambda: {"r2", "r4"} <= set(ids_at(hook)), "r2 and r4")

    try:
        asyncio.run(run(worker, steps))
    finally:
        hook.kill()
    assert sorted(ids_at(hook)) == ["r1", "r2", "r3", "r4"]  # each once, "before" not at all
    assert checkpoint(app)["position"] == 5 and worker.stats.delivered == 4


def test_max_retry_gives_a_failing_batch_up(app, tmp_path):
    down = WebhookProcess(tmp_path / "hook")  # never started: connections are refused
    worker = make_worker(app, down.url, max_retry="1")

    async def steps() -> None:
        await until(lambda: checkpoint(app), "the first claim")
        await asyncio.to_thread(record, app, "g1", "g2", "g3")
        await until(lambda: checkpoint(app)["position"] == 3, "the batches given up")

    asyncio.run(run(worker, steps))
    state = checkpoint(app)
    assert state["delivered"] == 0 and state["failed"] >= 6  # each batch tried twice (max_retry 1)

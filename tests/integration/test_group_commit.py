"""Group commit on PostgreSQL: a batch of concurrent changes is one transaction, each change
keeps its own outcome, and the fast path is the one taken."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from domain.aggregates import Bucket, ObjectVersion
from domain.preconditions import BucketExists, ObjectMatches, Refused
from domain.write_plan import WritePlan
from projections.eventstore.recorder import StoreOptions, open_store
from projections.eventstore.tx import Tx


def _put(bucket: str, key: str, body: bytes, *, if_none_match: str | None = None) -> WritePlan:
    """A PutObject, as the service builds it."""
    blob_id = uuid.uuid4().hex
    preconditions = (BucketExists(bucket),)
    if if_none_match is not None:
        preconditions += (ObjectMatches(bucket, key, if_none_match=if_none_match),)
    return WritePlan.new(
        ObjectVersion(
            bucket=bucket,
            key=key,
            size=len(body),
            etag=uuid.uuid4().hex,
            content_type="text/plain",
            headers={},
            metadata={},
            blob={"segments": [{"id": blob_id, "offset": 0, "size": len(body), "db": True}]},
            checksum={},
            tags={},
            parts=[],
            operation="Put",
            actor={"access_key": "root"},
        ),
        preconditions=preconditions,
        blobs=[(blob_id, body)],
    )


def test_batch_outcomes_are_per_change_and_fast(pg_url, tmp_path):
    app = open_store(pg_url, tmp_path, create_table=True)
    store = app.store
    bucket = Bucket(name="gc", region="us-east-1", owner="root", actor={}, settings={})
    store.append([WritePlan.new(bucket)])

    changes = [_put("gc", f"k{i % 4}", f"v{i}".encode()) for i in range(12)]
    changes.append(_put("nobucket", "k", b"x"))
    changes.append(_put("gc", "once", b"1", if_none_match="*"))
    changes.append(_put("gc", "once", b"2", if_none_match="*"))
    store.append(changes)

    assert store.slow_batches == 0
    assert [c.error for c in changes[:12]] == [None] * 12
    assert isinstance(changes[12].error, Refused) and changes[12].error.code == "NoSuchBucket"
    assert changes[13].error is None
    assert isinstance(changes[14].error, Refused) and changes[14].error.code == "PreconditionFailed"
    with store.read() as cursor:
        tx = Tx(cursor, store.dialect)
        rows = tx.all("SELECT key, position FROM ns_versions WHERE bucket = 'gc' ORDER BY key")
        # The last PUT of each key wins, exactly as replaying the log one event at a time would.
        assert [r["key"] for r in rows] == ["k0", "k1", "k2", "k3", "once"]
        expected = {f"k{i % 4}": changes[i].positions[0] for i in range(12)}
        assert {r["key"]: r["position"] for r in rows if r["key"] != "once"} == expected
        assert tx.scalar("SELECT count(*) FROM blob_data") == 13
    app.close()


_plain_put = _put


def _commit_bucket(store, *aggregates) -> None:
    plan = WritePlan.new(*aggregates)
    store.append([plan])
    assert plan.error is None


def test_plain_puts_take_one_round_trip_and_match_replay_order(pg_url, tmp_path):
    app = open_store(pg_url, tmp_path, create_table=True)
    store = app.store
    _commit_bucket(store, Bucket(name="fast", region="us-east-1", owner="root", actor={}, settings={}))
    # The first batch reads the bucket under the lock; later ones may skip that trip.
    warmup = _plain_put("fast", "w", b"w")
    store.append([warmup])
    changes = [_plain_put("fast", f"k{i % 3}", f"v{i}".encode()) for i in range(10)]
    store.append(changes)

    assert store.one_trip_batches == 1 and store.slow_batches == 0
    assert all(c.error is None and c.results == ["null"] for c in changes)
    positions = [c.positions[0] for c in changes]
    assert positions == sorted(positions) and positions[0] > warmup.positions[0]
    with store.read() as cursor:
        tx = Tx(cursor, store.dialect)
        rows = tx.all(
            "SELECT key, position, id, version_id, is_latest FROM ns_versions WHERE bucket = 'fast' AND key <> 'w' "
            "ORDER BY key"
        )
        newest = {f"k{i % 3}": changes[i] for i in range(10)}
        assert [(r["key"], r["position"], r["id"], r["version_id"], r["is_latest"]) for r in rows] == [
            (k, c.positions[0], c.events[0].originator_id.hex, "null", True) for k, c in sorted(newest.items())
        ]
        data = {r["id"]: bytes(r["data"]) for r in tx.all("SELECT id, data FROM blob_data")}
        assert sorted(data.values()) == sorted([b"w"] + [f"v{i}".encode() for i in range(10)])
    app.close()


def test_plain_put_after_versioning_or_delete_gets_the_right_outcome(pg_url, tmp_path):
    app = open_store(pg_url, tmp_path, create_table=True)
    store = app.store
    versioned = Bucket(name="turns-versioned", region="us-east-1", owner="root", actor={}, settings={})
    doomed = Bucket(name="gets-deleted", region="us-east-1", owner="root", actor={}, settings={})
    _commit_bucket(store, versioned, doomed)
    store.append([_plain_put("turns-versioned", "a", b"1"), _plain_put("gets-deleted", "a", b"1")])
    assert store.versioning_hint == {"turns-versioned": "", "gets-deleted": ""}
    # Another node changes the buckets: this node's hint is now stale.
    other = open_store(pg_url, tmp_path / "other", create_table=False)
    versioned.set_versioning("Enabled", actor={})
    doomed.delete(actor={})
    _commit_bucket(other.store, versioned, doomed)
    other.close()

    put_versioned = _plain_put("turns-versioned", "a", b"2")
    put_deleted = _plain_put("gets-deleted", "b", b"2")
    store.append([put_versioned, put_deleted])

    # The stale hint cost a rolled-back attempt, never a wrong answer.
    assert put_versioned.error is None
    assert put_versioned.results == [put_versioned.events[0].originator_id.hex]
    assert isinstance(put_deleted.error, Refused) and put_deleted.error.code == "NoSuchBucket"
    assert store.versioning_hint.get("turns-versioned") == "Enabled"
    with store.read() as cursor:
        tx = Tx(cursor, store.dialect)
        assert tx.scalar("SELECT count(*) FROM ns_versions WHERE bucket = 'gets-deleted' AND key = 'b'") == 0
        assert tx.scalar("SELECT count(*) FROM blob_data WHERE id = ?", (put_deleted.blobs[0][0],)) == 0
    app.close()


def test_two_committer_threads_keep_every_outcome(pg_url, tmp_path):
    from projections.eventstore.committer import GroupCommitter

    app = open_store(pg_url, tmp_path, create_table=True)
    bucket = Bucket(name="busy", region="us-east-1", owner="root", actor={}, settings={})
    _commit_bucket(app.store, bucket)
    committer = GroupCommitter(app, threads=2)

    def tag(n: int) -> WritePlan:
        def load():
            loaded = app.repository.get(bucket.id)
            loaded.set_configuration("tagging", {"n": n}, actor={})
            return [loaded]

        return WritePlan.changing(load)

    plans = []
    for i in range(120):
        plans.append(_plain_put("busy", f"k{i % 7}", f"v{i}".encode()))
        if i % 10 == 0:  # changes of one aggregate, racing from both threads
            plans.append(tag(i))
    with ThreadPoolExecutor(max_workers=len(plans)) as pool:
        done = list(pool.map(committer.submit_sync, plans, timeout=60))
    committer.close()

    assert all(c.error is None for c in done)
    positions = [p for c in done for p in c.positions]
    assert len(positions) == len(set(positions)) == 132
    with app.store.read() as cursor:
        tx = Tx(cursor, app.store.dialect)
        rows = {r["key"]: r["position"] for r in tx.all("SELECT key, position FROM ns_versions WHERE bucket = 'busy'")}
    newest: dict[str, int] = {}
    for c in done:
        for e, p in zip(c.events, c.positions, strict=True):
            if hasattr(e, "key"):
                newest[e.key] = max(newest.get(e.key, 0), p)
    assert rows == newest
    assert app.repository.get(bucket.id).version == 1 + 12
    app.close()


def test_plain_puts_from_the_event_loop_keep_outcomes_and_fall_back(pg_url, tmp_path):
    """projections.eventstore.loop_append: one batch per loop turn over libpq, the same rows as the
    committer threads' one-statement path; a stale hint hands the batch back unwritten."""
    import asyncio

    from api.context import _conninfo
    from projections.eventstore.committer import GroupCommitter
    from projections.eventstore.loop_append import LoopAppender
    from projections.eventstore.recorder import pg_connect_kwargs

    app = open_store(pg_url, tmp_path, create_table=True)
    store = app.store
    versioned = Bucket(name="loop-versioned", region="us-east-1", owner="root", actor={}, settings={})
    _commit_bucket(store, Bucket(name="loop", region="us-east-1", owner="root", actor={}, settings={}), versioned)
    store.append([_plain_put("loop", "w", b"w"), _plain_put("loop-versioned", "w", b"w")])
    assert store.versioning_hint == {"loop": "", "loop-versioned": ""}
    committer = GroupCommitter(app, threads=1)
    hooked: list[int] = []
    committer.on_commit.append(lambda: hooked.append(1))
    committer.appender = LoopAppender(
        store, lambda: _conninfo(pg_connect_kwargs(app)), hooks=committer.on_commit, connections=2
    )
    changes = [_plain_put("loop", f"k{i % 3}", f"v{i}".encode()) for i in range(20)]

    async def main() -> list[WritePlan]:
        done = await asyncio.gather(*(committer.submit(c) for c in changes))
        # Another node turns versioning on: this node's hint is stale.
        versioned.set_versioning("Enabled", actor={})
        _commit_bucket(store, versioned)
        store.versioning_hint["loop-versioned"] = ""
        late = _plain_put("loop-versioned", "a", b"2")
        done.append(await committer.submit(late))
        committer.appender.close()
        return done

    before = store.one_trip_batches
    done = asyncio.run(main())
    committer.close()

    assert all(c.error is None for c in done)
    assert [c.results for c in done[:20]] == [["null"]] * 20
    # Batched: fewer batches than PUTs, each hooked once.
    assert 1 <= store.one_trip_batches - before < 20 and len(hooked) >= 1
    late = done[20]
    assert late.results == [late.events[0].originator_id.hex]  # versioned: the careful path
    assert store.versioning_hint.get("loop-versioned") == "Enabled"
    with store.read() as cursor:
        tx = Tx(cursor, store.dialect)
        rows = tx.all(
            "SELECT key, position, version_id FROM ns_versions WHERE bucket = 'loop' AND key <> 'w' ORDER BY key"
        )
        newest = {f"k{i % 3}": changes[i] for i in range(20)}
        assert [(r["key"], r["position"], r["version_id"]) for r in rows] == [
            (k, c.positions[0], "null") for k, c in sorted(newest.items())
        ]
        ids = [c.blobs[0][0] for c in changes]
        assert tx.scalar(f"SELECT count(*) FROM blob_data WHERE id IN ({', '.join('?' * len(ids))})", ids) == 20
    app.close()


def test_event_loop_appends_survive_a_connection_killed_while_idle(pg_url, tmp_path):
    import asyncio

    import psycopg

    from api.context import _conninfo
    from projections.eventstore.committer import GroupCommitter
    from projections.eventstore.loop_append import LoopAppender
    from projections.eventstore.recorder import pg_connect_kwargs

    app = open_store(pg_url, tmp_path, create_table=True)
    store = app.store
    _commit_bucket(store, Bucket(name="kill", region="us-east-1", owner="root", actor={}, settings={}))
    store.append([_plain_put("kill", "w", b"w")])
    committer = GroupCommitter(app, threads=1)
    committer.appender = LoopAppender(store, lambda: _conninfo(pg_connect_kwargs(app)))

    def put(key: str) -> WritePlan:
        return _plain_put("kill", key, b"x")

    async def main() -> list[WritePlan]:
        first = await committer.submit(put("a"))
        with psycopg.connect(pg_url, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE %s AND pid <> pg_backend_pid()",
                ("%chronicle_append_puts%",),
            ).fetchall()
        assert killed == [(True,)]
        await asyncio.sleep(0.3)  # the loop notices the closed socket
        second = await committer.submit(put("b"))
        committer.appender.close()
        return [first, second]

    before = store.one_trip_batches
    done = asyncio.run(main())
    committer.close()
    assert [c.error for c in done] == [None, None] and store.one_trip_batches - before == 2
    app.close()


def test_the_fast_path_switch_sends_every_batch_the_careful_way(pg_url, tmp_path):
    app = open_store(pg_url, tmp_path, create_table=True, options=StoreOptions(fast_path=False))
    store = app.store
    assert store.fast_path is False
    _commit_bucket(store, Bucket(name="careful", region="us-east-1", owner="root", actor={}, settings={}))
    for _ in range(2):  # the second batch would take the one-statement path were it on
        plans = [_plain_put("careful", f"k{i % 3}", f"v{i}".encode()) for i in range(6)]
        plans.append(_put("careful", "k0", b"refused", if_none_match="*"))
        store.append(plans)
        assert [p.error for p in plans[:6]] == [None] * 6 and [p.results for p in plans[:6]] == [["null"]] * 6
        assert isinstance(plans[6].error, Refused) and plans[6].error.code == "PreconditionFailed"
    assert store.one_trip_batches == 0 and store.versioning_hint == {}
    with store.read() as cursor:
        rows = Tx(cursor, store.dialect).all("SELECT key, position FROM ns_versions WHERE bucket = 'careful'")
    assert {r["key"]: r["position"] for r in rows} == {f"k{i % 3}": plans[i].positions[0] for i in range(3, 6)}
    app.close()

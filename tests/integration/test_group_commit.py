"""Group commit on PostgreSQL: a batch of concurrent changes is one transaction, each change
keeps its own outcome, and the fast path is the one taken."""

from __future__ import annotations

import uuid

from api.errors import S3Error
from domain.aggregates import Bucket, ObjectVersion
from projections.eventstore import Change, open_store
from projections.namespace_queries import get_bucket, live_object
from projections.tx import Tx


def _put(bucket: str, key: str, body: bytes, *, check=None, reads_objects: bool = False) -> Change:
    blob_id = uuid.uuid4().hex

    def build():
        return [
            ObjectVersion(
                bucket=bucket, key=key, size=len(body), etag=uuid.uuid4().hex, content_type="text/plain",
                headers={}, metadata={}, blob={"segments": [{"id": blob_id, "offset": 0, "size": len(body), "db": True}]},
                checksum={}, tags={}, parts=[], operation="Put", actor={"access_key": "root"},
            )
        ]

    def exists(tx: Tx) -> None:
        if get_bucket(tx, bucket) is None:
            raise S3Error("NoSuchBucket")

    return Change(build=build, check=check or exists, blobs=[(blob_id, body)], check_reads_objects=reads_objects)


def test_batch_outcomes_are_per_change_and_fast(pg_url, tmp_path):
    app = open_store(pg_url, tmp_path, create_table=True)
    store = app.store
    bucket = Bucket(name="gc", region="us-east-1", owner="root", actor={}, settings={})
    first = Change(build=lambda: [bucket])
    first.events = bucket.collect_events()
    store.commit_changes([first])

    def absent(key: str):
        def check(tx: Tx) -> None:
            if live_object(tx, "gc", key) is not None:
                raise S3Error("PreconditionFailed")
        return check

    changes = [_put("gc", f"k{i % 4}", f"v{i}".encode()) for i in range(12)]
    changes.append(_put("nobucket", "k", b"x"))
    changes.append(_put("gc", "once", b"1", check=absent("once"), reads_objects=True))
    changes.append(_put("gc", "once", b"2", check=absent("once"), reads_objects=True))
    for c in changes:
        c.events = [e for a in c.build() for e in a.collect_events()]
    store.commit_changes(changes)

    assert store.slow_batches == 0
    assert [c.error for c in changes[:12]] == [None] * 12
    assert isinstance(changes[12].error, S3Error) and changes[12].error.code == "NoSuchBucket"
    assert changes[13].error is None
    assert isinstance(changes[14].error, S3Error) and changes[14].error.code == "PreconditionFailed"
    with store.read() as cursor:
        tx = Tx(cursor, store.dialect)
        rows = tx.all("SELECT key, position FROM ns_versions WHERE bucket = 'gc' ORDER BY key")
        # The last PUT of each key wins, exactly as replaying the log one event at a time would.
        assert [r["key"] for r in rows] == ["k0", "k1", "k2", "k3", "once"]
        expected = {f"k{i % 4}": changes[i].positions[0] for i in range(12)}
        assert {r["key"]: r["position"] for r in rows if r["key"] != "once"} == expected
        assert tx.scalar("SELECT count(*) FROM blob_data") == 13
    app.close()

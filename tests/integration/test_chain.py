"""The history proves itself (DESIGN invariant 9): every event is linked into a hash chain
within a second of its commit, checkpoints of the head are signed and published, and
`chronicle verify --chain` finds and names, by position, an event that was edited, deleted,
inserted or moved in the database, on SQLite and on PostgreSQL. A forger who rewrites the
links after an edit, without the signing key, is caught by the signed checkpoints; one who
also deletes the checkpoints is caught only by the copies published outside the database —
which is the limit of what the database can prove about itself. `chronicle replay` refuses a
log that fails its chain.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from domain.chain import GENESIS, StoredEvent, link
from tests.conftest import unique_bucket_name
from tests.helpers.server import REPO_ROOT, chronicle_command

CHECKPOINT_EVERY = 5


class Database:
    """The deployment's database, opened the way a forger would: directly."""

    def __init__(self, srv: Any, pg_url: str | None) -> None:
        self.pg_url = pg_url
        self.path = srv.data_dir / "chronicle.sqlite3"
        self.events = "chronicle_events" if pg_url else "stored_events"
        self.position = "notification_id" if pg_url else "rowid"

    def run(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.pg_url:
            with psycopg.connect(self.pg_url, autocommit=True) as conn:
                cur = conn.execute(sql.replace("?", "%s"), params)
                return cur.fetchall() if cur.description else []
        db = sqlite3.connect(self.path)
        try:
            with db:
                cur = db.execute(sql, params)
                return cur.fetchall()
        finally:
            db.close()

    def event(self, position: int) -> tuple[Any, int, str, bytes]:
        row = self.run(
            f"SELECT originator_id, originator_version, topic, state FROM {self.events} WHERE {self.position} = ?",
            (position,),
        )[0]
        return row[0], int(row[1]), str(row[2]), bytes(row[3])

    def set_state(self, position: int, state: bytes) -> None:
        self.run(f"UPDATE {self.events} SET state = ? WHERE {self.position} = ?", (state, position))

    def positions(self) -> list[int]:
        return [int(r[0]) for r in self.run(f"SELECT {self.position} FROM {self.events} ORDER BY 1")]

    def stored(self, position: int) -> StoredEvent:
        oid, version, topic, state = self.event(position)
        return StoredEvent(position, oid if isinstance(oid, UUID) else UUID(str(oid)), version, topic, state)

    def checkpoint_positions(self) -> list[int]:
        return [int(r[0]) for r in self.run("SELECT position FROM chain_checkpoints ORDER BY position")]


def start(server_factory, request, backend: str, tmp_path: Path, **env: str):
    kwargs: dict[str, Any] = {}
    pg_url = None
    if backend == "postgres":
        pg_url = request.getfixturevalue("pg_url")
        kwargs["database_url"] = pg_url
    published = tmp_path / "published.jsonl"
    srv = server_factory(
        backend,
        env={
            "CHRONICLE_CHAIN_CHECKPOINT_EVENTS": str(CHECKPOINT_EVERY),
            "CHRONICLE_CHAIN_PUBLISH": f"file:{published}",
            **env,
        },
        **kwargs,
    )
    return srv, Database(srv, pg_url), published


def write_history(srv) -> str:
    """A bucket with a policy and some objects: a couple of dozen events."""
    s3 = srv.client()
    bucket = unique_bucket_name("photos")
    s3.create_bucket(Bucket=bucket)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/2026/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    for i in range(20):
        s3.put_object(Bucket=bucket, Key=f"2026/{i:02d}.jpg" if i % 2 else f"private/{i:02d}.jpg", Body=b"x" * i)
    return bucket


def wait_linked(db: Database, *, checkpointed: int = 0) -> None:
    """Every event linked, and the last checkpoint at or after `checkpointed`."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        head = max(db.positions())
        linked = db.run("SELECT MAX(position) FROM chain_links")[0][0] or 0
        cps = db.checkpoint_positions()
        if linked == head and cps and cps[-1] >= checkpointed:
            return
        time.sleep(0.1)
    raise AssertionError(f"not linked within 20 s: head {head}, linked {linked}, checkpoints {cps}")


def verify(srv, *args: str) -> tuple[int, dict[str, Any], str]:
    res = subprocess.run(
        chronicle_command("verify", "--chain", "--json", "--data-dir", str(srv.data_dir), *args),
        cwd=str(REPO_ROOT),
        env=srv.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in res.stderr, res.stderr
    return res.returncode, json.loads(res.stdout), res.stderr


def findings(report: dict[str, Any]) -> list[tuple[int, str]]:
    return [(f["position"], f["kind"]) for f in report["findings"]]


BACKENDS = ["sqlite", "postgres"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_untouched_log_verifies_and_its_checkpoints_are_published(server_factory, request, backend, tmp_path):
    srv, db, published = start(server_factory, request, backend, tmp_path)
    write_history(srv)
    wait_linked(db, checkpointed=CHECKPOINT_EVERY * 2)
    code, report, _ = verify(srv, "--published", str(published))
    assert code == 0, report
    assert report["ok"] and report["checked"] == len(db.positions())
    assert report["checkpoints"] >= 2 and report["published"] >= 2
    # Checkpoints come at least every CHECKPOINT_EVERY events.
    cps = [0, *db.checkpoint_positions()]
    assert all(b - a <= CHECKPOINT_EVERY for a, b in zip(cps, cps[1:], strict=False)), cps
    lines = [json.loads(line) for line in published.read_text().splitlines()]
    assert [c["position"] for c in lines] == db.checkpoint_positions()[: len(lines)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_edited_event_is_named(server_factory, request, backend, tmp_path):
    srv, db, _ = start(server_factory, request, backend, tmp_path)
    write_history(srv)
    wait_linked(db)
    position = db.positions()[5]
    _, _, _, state = db.event(position)
    actor = srv.access_key.encode()
    assert actor in state
    db.set_state(position, state.replace(actor, b"mallory"))
    code, report, _ = verify(srv)
    assert code == 1
    assert findings(report) == [(position, "altered")]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_deleted_event_is_named(server_factory, request, backend, tmp_path):
    srv, db, _ = start(server_factory, request, backend, tmp_path)
    write_history(srv)
    wait_linked(db)
    position = db.positions()[7]
    db.run(f"DELETE FROM {db.events} WHERE {db.position} = ?", (position,))
    code, report, _ = verify(srv)
    assert code == 1
    assert findings(report) == [(position, "deleted")]


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_swapped_events_are_named(server_factory, request, backend, tmp_path):
    srv, db, _ = start(server_factory, request, backend, tmp_path)
    write_history(srv)
    wait_linked(db)
    first, second = db.positions()[3], db.positions()[9]
    a, b = db.event(first), db.event(second)
    # Move row contents, keeping positions (one row parked first: (originator, version) is unique).
    cols = "originator_id = ?, originator_version = ?, topic = ?, state = ?"
    db.run(f"UPDATE {db.events} SET originator_version = -1 WHERE {db.position} = ?", (first,))
    db.run(f"UPDATE {db.events} SET {cols} WHERE {db.position} = ?", (*a, second))
    db.run(f"UPDATE {db.events} SET {cols} WHERE {db.position} = ?", (*b, first))
    code, report, _ = verify(srv)
    assert code == 1
    assert findings(report) == [(first, "altered"), (second, "altered")]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_forged_event_is_named(server_factory, request, backend, tmp_path):
    srv, db, _ = start(server_factory, request, backend, tmp_path)
    write_history(srv)
    wait_linked(db)
    oid, _, topic, state = db.event(db.positions()[4])
    forged_id = uuid4() if db.pg_url else uuid4().hex
    # A free position inside the linked stretch: before the first event.
    db.run(
        f"INSERT INTO {db.events} ({db.position}, originator_id, originator_version, topic, state) "
        "VALUES (?, ?, 1, ?, ?)",
        (0, forged_id, topic, state.replace(str(oid).replace("-", "").encode(), b"f" * 32)),
    )
    code, report, _ = verify(srv)
    assert code == 1
    assert findings(report) == [(0, "inserted")]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_rewritten_chain_is_caught_by_the_signed_checkpoints(server_factory, request, backend, tmp_path):
    srv, db, published = start(server_factory, request, backend, tmp_path)
    write_history(srv)
    wait_linked(db, checkpointed=CHECKPOINT_EVERY * 3)
    srv.stop()  # the forger works on a quiet database
    cps = db.checkpoint_positions()
    edited = cps[1] - 2  # between the second checkpoint and the one before it
    _, _, _, state = db.event(edited)
    db.set_state(edited, state.replace(srv.access_key.encode(), b"mallory"))
    # Every link from the edited event on, recomputed (no signing key needed for that).
    before = db.run("SELECT link FROM chain_links WHERE position < ? ORDER BY position DESC LIMIT 1", (edited,))
    previous = bytes(before[0][0]) if before else GENESIS
    for position in [p for p in db.positions() if p >= edited]:
        previous = link(previous, db.stored(position))
        db.run("UPDATE chain_links SET link = ? WHERE position = ?", (previous, position))
    code, report, _ = verify(srv)
    assert code == 1
    assert (cps[1], "rewritten") in findings(report)
    assert all(kind == "rewritten" for _, kind in findings(report))
    rewritten = next(f for f in report["findings"] if f["position"] == cps[1])
    assert f"after position {cps[0]} up to {cps[1]}" in rewritten["detail"]

    # Deleting the checkpoints the rewrite broke hides it from the database alone: the limit.
    db.run("DELETE FROM chain_checkpoints WHERE position >= ?", (edited,))
    code, report, _ = verify(srv)
    assert code == 0 and report["ok"], report
    # The copies published outside the database still catch it.
    code, report, _ = verify(srv, "--published", str(published))
    assert code == 1
    assert (cps[1], "checkpoint-missing") in findings(report)
    assert (cps[1], "rewritten") in findings(report)


@pytest.mark.parametrize("backend", BACKENDS)
def test_replay_refuses_a_log_that_fails_its_chain(server_factory, request, backend, tmp_path):
    srv, db, _ = start(server_factory, request, backend, tmp_path)
    bucket = write_history(srv)
    wait_linked(db)
    srv.stop()
    # The report that started it: the actor renamed, the policy's resource widened.
    policy_event = next(p for p in db.positions() if f"{bucket}/2026/*".encode() in db.event(p)[3])
    _, _, _, state = db.event(policy_event)
    widened = state.replace(f"{bucket}/2026/*".encode(), f"{bucket}/*".encode())
    widened = widened.replace(srv.access_key.encode(), b"mallory")
    assert widened != state
    db.set_state(policy_event, widened)
    before = db.run("SELECT COUNT(*) FROM ns_versions")[0][0]

    res = subprocess.run(
        chronicle_command("replay", "--data-dir", str(srv.data_dir)),
        cwd=str(REPO_ROOT), env=srv.env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 1, res.stdout + res.stderr
    assert f"position {policy_event}: altered" in res.stderr and "nothing was changed" in res.stderr
    assert "Traceback" not in res.stderr
    assert db.run("SELECT COUNT(*) FROM ns_versions")[0][0] == before

    res = subprocess.run(
        chronicle_command("replay", "--force", "--data-dir", str(srv.data_dir)),
        cwd=str(REPO_ROOT), env=srv.env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert "WARNING: --force" in res.stderr


def test_admin_info_shows_the_public_key_that_chain_key_exports(server_factory, request, tmp_path):
    srv, db, _published = start(server_factory, request, "sqlite", tmp_path)
    write_history(srv)
    wait_linked(db, checkpointed=CHECKPOINT_EVERY)

    def chronicle(*args: str) -> str:
        env = dict(
            srv.env,
            CHRONICLE_ADMIN_ENDPOINT=srv.endpoint,
            CHRONICLE_ADMIN_ACCESS_KEY=srv.access_key,
            CHRONICLE_ADMIN_SECRET_KEY=srv.secret_key,
        )
        res = subprocess.run(
            chronicle_command(*args), cwd=str(REPO_ROOT), env=env, capture_output=True, text=True, timeout=60
        )
        assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
        return res.stdout

    exported = chronicle("chain-key", "--data-dir", str(srv.data_dir)).split("\n", 1)[1].strip()
    assert exported.startswith("-----BEGIN PUBLIC KEY-----")
    info = chronicle("admin", "info")
    assert "Chain key:" in info and exported in info
    as_json = json.loads(chronicle("admin", "info", "--json"))
    assert as_json["chainPublicKey"]["pem"].strip() == exported

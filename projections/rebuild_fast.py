"""The fast path of rebuilding the inline views on PostgreSQL — `chronicle replay --until
--into` (projections.rebuild_into) and the offline `chronicle replay` (projections.replay):
the one place where a rebuild applies events other than one at a time.

Plain PUTs — ObjectVersion.Created in a bucket that never versioned, nearly every event of a
busy log — are decoded straight from their stored JSON (orjson; the values the transcoder
wrote as {"_type_": ..., "_data_": ...} restored as its object hook restores them) instead of
through eventsourcing's mapper, and gathered in runs. A run is copied (COPY) into a temporary
table and upserted into ns_versions by one statement, each key keeping its newest null
version: what the plain path's upsert per event leaves (the same rule as appends' bulk path,
projections.namespace.projection.bulk_null_versions), with the same columns
(`_version_params`). Any other event ends the run — the run is written first — and is applied
by the inline projections, in log order, as on the plain path.

Measured gain (issue 14; 100,000 plain PUTs' events rebuilt into a fresh PostgreSQL database,
2-core machine shared with other work): event by event 79.6 s and 13.1 s of CPU, this path
21.9 s and 2.8 s of CPU (same minute); with the writer thread 7.3 and 8.1 s against 10.0 and
13.0 s without it (alternating). `python -m bench.history` times the whole command.
Switch: CHRONICLE_FAST_PATH=off (the store's fast_path, projections.eventstore.fast_path)
rebuilds event by event. tests/integration/test_replay_into.py rebuilds one log both ways
and compares the tables row by row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import orjson

from domain.aggregates import ObjectVersion
from projections.eventstore.eventsourcing_internals import transcoder_names
from projections.eventstore.inline import InlineProjections
from projections.eventstore.recorder import ChronicleApplication
from projections.eventstore.tx import Tx
from projections.namespace.projection import _VERSION_UPSERT, NULL_VERSION, _version_params
from projections.namespace.queries import get_bucket

_CREATED_TOPIC = "chronicle.ObjectVersion.Created"
_RUN_TABLE = "ns_versions_replay_run"
# ns_versions' columns in _VERSION_UPSERT's order, but is_latest (TRUE for every row written
# here): the order of _version_params' tuple.
_INSERTED = [c.strip() for c in _VERSION_UPSERT.split("(", 1)[1].split(")", 1)[0].split(",")]
_RUN_COLUMNS = [c for c in _INSERTED if c != "is_latest"]
_ON_CONFLICT = _VERSION_UPSERT.split("ON CONFLICT", 1)[1]
_TYPED = b'"_type_"'


def usable(app: ChronicleApplication, dialect_name: str) -> bool:
    """The fast path applies: the switch on, a PostgreSQL target, event states stored as the
    plain transcoder writes them (no cipher, no compressor) and ObjectVersion.Created never
    upcast."""
    mapper = app.mapper
    return (
        bool(getattr(app.store, "fast_path", False))
        and dialect_name == "postgres"
        and mapper is not None
        and mapper.cipher is None
        and mapper.compressor is None
        and getattr(ObjectVersion.Created, "class_version", 1) == 1
    )


class FastRebuild:
    """Applies pages of events-table rows (as events_page_sql selects them) to `tx`. A run is
    written by a thread of its own while the caller reads and decodes the next page
    (PostgreSQL works on the run meanwhile); anything else on the connection waits for it."""

    def __init__(self, app: ChronicleApplication, tx: Tx, projection: InlineProjections) -> None:
        assert app.mapper is not None
        self.app = app
        self.tx = tx
        self.projection = projection
        self.names = transcoder_names(app.mapper.transcoder)  # type: ignore[arg-type]
        self.run: dict[tuple[str, str], tuple[Any, ...]] = {}
        self.unversioned: dict[str, bool] = {}
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rebuild-writer")
        self._writing: Future[None] | None = None
        columns = ", ".join(_RUN_COLUMNS)
        tx.execute(f"DROP TABLE IF EXISTS pg_temp.{_RUN_TABLE}")
        tx.execute(f"CREATE TEMP TABLE {_RUN_TABLE} AS SELECT {columns} FROM ns_versions WITH NO DATA")

    def apply(self, rows: Sequence[Mapping[str, Any]]) -> None:
        for row in rows:
            position = int(row["notification_id"])
            if row["topic"] == _CREATED_TOPIC:
                event = self._plain_put(row)
                if event is not None:
                    version = _version_params(position, event, marker=False, version_id=NULL_VERSION)
                    self.run[(event.bucket, event.key)] = version  # a key's newest wins
                    continue
            self.flush()
            self.wait()
            self.unversioned.clear()  # a bucket event may have changed what is known of it
            self.projection.apply(self.tx, position, self.app.decode_row(row))

    def flush(self, *, commit: bool = False) -> None:
        """Hand the run (and, with `commit`, the transaction's commit) to the writer."""
        self.wait()
        if self.run or commit:
            run, self.run = self.run, {}
            self._writing = self._writer.submit(self._write, list(run.values()), commit)

    def wait(self) -> None:
        """Until the writer is done (raising what it raised)."""
        writing, self._writing = self._writing, None
        if writing is not None:
            writing.result()

    def close(self) -> None:
        """Write what is left, then drop the run table (the connection may go back to a pool)."""
        try:
            self.flush()
            self.wait()
            self.tx.execute(f"DROP TABLE IF EXISTS pg_temp.{_RUN_TABLE}")
        finally:
            self.stop()

    def stop(self) -> None:
        """Let the writer finish what it is doing, whatever happens to it (the caller failed)."""
        self._writer.shutdown(wait=True)

    def _write(self, run: list[tuple[Any, ...]], commit: bool) -> None:
        cursor = self.tx.cursor
        if run:
            columns = ", ".join(_RUN_COLUMNS)
            with cursor.copy(f"COPY {_RUN_TABLE} ({columns}) FROM STDIN") as copy:
                for values in run:
                    copy.write_row(values)
            cursor.execute(
                f"INSERT INTO ns_versions ({columns}, is_latest) SELECT {columns}, TRUE FROM {_RUN_TABLE} "
                f"ON CONFLICT {_ON_CONFLICT}"
            )
            cursor.execute(f"TRUNCATE {_RUN_TABLE}")
        if commit:
            cursor.connection.commit()

    def _plain_put(self, row: Mapping[str, Any]) -> Any:
        """The event of a plain PUT (a namespace of its fields), else None (the plain path)."""
        state = decode_state(bytes(row["state"]), self.names)
        if state is None:
            return None
        bucket = state.get("bucket")
        if not isinstance(bucket, str):
            return None
        known = self.unversioned.get(bucket)
        if known is None:
            self.wait()
            found = get_bucket(self.tx, bucket)
            known = self.unversioned[bucket] = found is not None and found["versioning"] == ""
        if not known:
            return None
        return SimpleNamespace(**state, originator_id=row["originator_id"])


def decode_state(state: bytes, names: Mapping[str, Any]) -> dict[str, Any] | None:
    """What the transcoder's decode gives for `state`, or None when this decoder is not sure
    (the plain path then decodes it)."""
    try:
        document = orjson.loads(state)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(document, dict):
        return None
    typed = state.count(_TYPED)
    if typed == 0:
        return document
    restored = 0
    for name, value in document.items():
        if type(value) is dict and len(value) == 2 and "_type_" in value and "_data_" in value:
            transcoding = names.get(value["_type_"])
            if transcoding is None or type(value["_data_"]) in (dict, list):
                return None
            document[name] = transcoding.decode(value["_data_"])
            restored += 1
    # Typed values deeper down (or a "_type_" key of user data): the plain path decodes it.
    return document if restored == typed else None

"""`chronicle events tail`: every change in log order — objects, buckets and their settings, IAM,
notification targets — as change records (domain.change_record), from the beginning, a position,
a time or now; `--follow` waits for more; `--consumer NAME` resumes where NAME last committed."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from typing import Any

from cli.config_errors import ConfigurationError
from domain.stream_filter import BadStreamFilter, StreamFilter
from projections.eventstore.recorder import ChronicleApplication
from projections.eventstore.tx import Tx
from projections.stream import consumers
from projections.stream.reader import read_page, start_after

FOLLOW_POLL = 0.2  # seconds between looks at the index while following


def add_parser(sub: Any) -> argparse.ArgumentParser:
    events = sub.add_parser("events", help="the stream of every change (objects, buckets, IAM, targets)")
    events_sub = events.add_subparsers(dest="events_command", required=True, metavar="COMMAND")
    tail = events_sub.add_parser(
        "tail",
        help="print changes in log order",
        description="Print every change in log order as change records (schema chronicle.change/1). "
        "Filters combine (AND); repeatable ones match any of their values.",
    )
    tail.add_argument("--data-dir", default="./data")
    tail.add_argument(
        "--from",
        dest="start",
        metavar="beginning|POSITION|TIME|now",
        help="where to start (default: now with --follow, else beginning); a consumer that has "
        "committed resumes after its position and ignores --from unless --reset",
    )
    tail.add_argument("--follow", "-f", action="store_true", help="keep printing changes as they happen")
    tail.add_argument("--consumer", metavar="NAME", help="a durable subscription: commit each page printed")
    tail.add_argument("--reset", action="store_true", help="move --consumer to --from")
    tail.add_argument("--bucket", action="append", default=[], help="only this bucket (repeatable)")
    tail.add_argument("--prefix", default="", help="only keys starting with PREFIX")
    tail.add_argument("--suffix", default="", help="only keys ending with SUFFIX")
    tail.add_argument(
        "--event", action="append", default=[], help="event names, wildcards allowed: User.*, *.Deleted (repeatable)"
    )
    tail.add_argument("--kind", action="append", default=[], help="bucket, object, access, iam, target (repeatable)")
    tail.add_argument("--principal", help="an access key or the user it belongs to")
    tail.add_argument("--limit", type=int, help="stop after this many changes")
    tail.add_argument("--json", action="store_true", help="one JSON record per line (NDJSON)")
    return events


def run(args: argparse.Namespace, app: ChronicleApplication, stop: threading.Event | None = None) -> int:
    stop = stop or threading.Event()
    try:
        wanted = StreamFilter(
            buckets=tuple(args.bucket),
            prefix=args.prefix,
            suffix=args.suffix,
            events=tuple(args.event),
            kinds=tuple(args.kind),
            principal=args.principal,
        )
        name = consumers.check_name(args.consumer) if args.consumer else None
    except (BadStreamFilter, consumers.BadConsumerName) as exc:
        raise ConfigurationError(str(exc)) from None
    if args.reset and not name:
        raise ConfigurationError("--reset moves a consumer: give --consumer NAME")
    start = args.start or ("now" if args.follow else "beginning")
    try:
        after = _starting_position(app, name, start, args.reset)
    except ValueError:
        raise ConfigurationError(
            f"--from {start}: give beginning, now, a position (a number) or an ISO 8601 time"
        ) from None
    printed = 0
    while not stop.is_set():
        with _transaction(app) as tx:
            page = read_page(tx, after, wanted)
        for record in page.records:
            _print(record, args.json)
            printed += 1
            if args.limit is not None and printed >= args.limit:
                if name:
                    _commit(app, name, int(record["position"]))
                return 0
        sys.stdout.flush()
        if name and page.through > after:
            _commit(app, name, page.through)
        moved = page.through > after
        after = page.through
        if not moved:
            if not args.follow:
                return 0
            stop.wait(FOLLOW_POLL)
    return 0


def _starting_position(app: ChronicleApplication, name: str | None, start: str, reset: bool) -> int:
    with _transaction(app) as tx:
        position = start_after(tx, start)
        if name is None:
            return position
        if reset:
            consumers.reset(tx, name, position)
            return position
        consumers.start(tx, name, position)
        committed = consumers.committed(tx, name)
        return position if committed is None else committed


def _commit(app: ChronicleApplication, name: str, position: int) -> None:
    with _transaction(app) as tx:
        consumers.commit(tx, name, position)


class _transaction:  # noqa: N801 - a context manager
    def __init__(self, app: ChronicleApplication) -> None:
        self.store = app.store

    def __enter__(self) -> Tx:
        self._cm = self.store.datastore.transaction(commit=True)
        return Tx(self._cm.__enter__(), self.store.dialect)

    def __exit__(self, *exc: Any) -> Any:
        return self._cm.__exit__(*exc)


def _print(record: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(record, sort_keys=True, separators=(",", ":")))
        return
    where = record.get("bucket", "")
    if record.get("key"):
        where = f"{where}/{record['key']}"
    elif record.get("subject"):
        where = record["subject"]
    who = record.get("principal", {}).get("parentUser") or record.get("principal", {}).get("accessKey", "")
    print(f"{record['position']:>8}  {record['time']}  {record['event']:<32} {where}  {who}")

"""`chronicle audit`: who changed what, when, from where — answered from the audit index."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cli.config_errors import ConfigurationError
from cli.store import existing_store
from projections.audit.queries import AuditQuery, indexed_up_to, search
from projections.audit.requests import RequestQuery, search_requests
from projections.eventstore.recorder import ChronicleApplication
from projections.eventstore.tx import Tx

_AGE = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
EXPORT_PAGE = 5000
COLUMNS = ("position", "time", "event", "bucket", "key", "subject", "accessKey", "parentUser", "sourceIp", "requestId")


def add_parser(sub: Any) -> None:
    audit = sub.add_parser(
        "audit",
        help="every change with time, position, principal, source IP, user agent, request id and data",
        description="Every change to the deployment, from the audit index. Filters combine (AND).",
    )
    audit.add_argument(
        "what",
        nargs="?",
        choices=("export",),
        help="export: every recorded request matching the filters as JSON lines (MinIO's audit entries), "
        "for `chronicle audit export --since 7d > audit.jsonl`",
    )
    audit.add_argument("--data-dir", default="./data")
    audit.add_argument(
        "--requests",
        action="store_true",
        help="the request audit (reads, listings, refused requests; CHRONICLE_AUDIT_REQUESTS) instead of changes",
    )
    audit.add_argument("--status", type=int, help="with --requests: only this HTTP status (403, 404, ...)")
    audit.add_argument("--bucket")
    target = audit.add_mutually_exclusive_group()
    target.add_argument("--key", help="one key (with --bucket)")
    target.add_argument("--prefix", help="keys starting with PREFIX (with --bucket)")
    audit.add_argument("--principal", help="an access key, or a user (its own keys and its service accounts)")
    audit.add_argument("--source-ip")
    audit.add_argument(
        "--event", help="an event (ObjectVersion.Created, User.*) or a kind: bucket, object, access, iam, target"
    )
    audit.add_argument("--since", help="a time (ISO 8601) or an age (30m, 2h, 7d)")
    audit.add_argument("--until", help="a time (ISO 8601) or an age")
    audit.add_argument("--limit", type=int, default=1000, help="at most this many rows (default 1000)")
    audit.add_argument("--format", choices=("table", "json", "csv"), default="table")
    audit.set_defaults(func_name="audit")


def cmd_audit(args: argparse.Namespace) -> int:
    """`chronicle audit`, without the other maintenance commands' modules (the chain's S3
    witnesses, replay, GC): a question answered in milliseconds should not wait a second
    for imports it never uses."""
    app = existing_store(args.chronicle_settings, Path(args.data_dir), "cli")
    try:
        return run(args, app)
    finally:
        app.close()


def run(args: argparse.Namespace, app: ChronicleApplication) -> int:
    if (args.key or args.prefix) and not args.bucket:
        raise ConfigurationError("--key and --prefix need --bucket")
    if args.what == "export" or args.requests:
        return _requests(args, app)
    if args.status is not None:
        raise ConfigurationError("--status filters requests: add --requests")
    query = AuditQuery(
        bucket=args.bucket,
        key=args.key,
        prefix=args.prefix,
        principal=args.principal,
        source_ip=args.source_ip,
        event=args.event,
        since_us=_time_us(args.since, "--since"),
        until_us=_time_us(args.until, "--until"),
        limit=args.limit,
    )
    store = app.store
    with store.read() as cursor:
        tx = Tx(cursor, store.dialect)
        records = search(tx, query)
        indexed = indexed_up_to(tx)
        head = int(tx.scalar(store.head_sql()) or 0)
    if args.format == "json":
        for record in records:
            print(json.dumps(record, sort_keys=True))
    elif args.format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow([*COLUMNS, "data"])
        for record in records:
            writer.writerow([*_columns(record), json.dumps(record.get("data", {}), sort_keys=True)])
    else:
        _table(records)
    if indexed < head:
        print(
            f"(the audit index reaches position {indexed}; the log, {head}: the newest changes are not in yet)",
            file=sys.stderr,
        )
    return 0


def _columns(record: dict[str, Any]) -> list[str]:
    principal = record.get("principal", {})
    return [
        str(record["position"]),
        record["time"],
        record["event"],
        record.get("bucket", ""),
        record.get("key", ""),
        record.get("subject", ""),
        principal.get("accessKey", ""),
        principal.get("parentUser", ""),
        record.get("sourceIp", ""),
        record.get("requestId", ""),
    ]


def _table(records: list[dict[str, Any]]) -> None:
    rows = [list(COLUMNS), *(_columns(r) for r in records)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print(f"({len(records)} changes)", file=sys.stderr)


def _time_us(value: str | None, flag: str) -> int | None:
    if not value:
        return None
    age = _AGE.match(value)
    if age:
        return int((time.time() - float(age.group(1)) * _UNIT[age.group(2)]) * 1_000_000)
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigurationError(
            f"{flag} {value}: give an ISO 8601 time (2026-11-20T09:00:00Z) or an age (2h)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1_000_000)


REQUEST_COLUMNS = ("time", "api", "status", "bucket", "object", "accessKey", "remotehost", "requestID", "error")


def _requests(args: argparse.Namespace, app: ChronicleApplication) -> int:
    if args.event:
        raise ConfigurationError("--event names changes; requests are filtered by --status")
    export = args.what == "export"
    query = RequestQuery(
        bucket=args.bucket,
        key=args.key,
        prefix=args.prefix,
        principal=args.principal,
        source_ip=args.source_ip,
        status=args.status,
        since_us=_time_us(args.since, "--since"),
        until_us=_time_us(args.until, "--until"),
        limit=EXPORT_PAGE if export else args.limit,
    )
    store = app.store
    found: list[dict[str, Any]] = []
    exported = 0
    while True:
        with store.read() as cursor:
            page = search_requests(Tx(cursor, store.dialect), query)
        if not export:
            found = [entry for _, entry in page]
            break
        for _, entry in page:
            sys.stdout.write(json.dumps(entry, sort_keys=True) + "\n")
        exported += len(page)
        if len(page) < query.limit:
            print(f"(exported {exported} requests)", file=sys.stderr)
            return 0
        print(f"(exported {exported} requests so far)", file=sys.stderr)
        query = dataclasses.replace(query, after_seq=page[-1][0])
    if args.format == "json":
        for entry in found:
            print(json.dumps(entry, sort_keys=True))
        return 0
    rows = [_request_columns(e) for e in found]
    if args.format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(REQUEST_COLUMNS)
        writer.writerows(rows)
        return 0
    table = [list(REQUEST_COLUMNS), *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(REQUEST_COLUMNS))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print(f"({len(found)} requests)", file=sys.stderr)
    return 0


def _request_columns(entry: dict[str, Any]) -> list[str]:
    api = entry.get("api", {})
    return [
        entry.get("time", ""),
        api.get("name", ""),
        str(api.get("statusCode", "")),
        api.get("bucket", ""),
        api.get("object", ""),
        entry.get("accessKey", ""),
        entry.get("remotehost", ""),
        entry.get("requestID", ""),
        entry.get("error", ""),
    ]

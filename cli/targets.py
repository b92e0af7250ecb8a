"""`chronicle admin targets` (delivery state of each notification target, from a running
server), `chronicle admin targets replay` (backfill a target from the log; runs where the
database is reachable, like `chronicle replay`) and `chronicle admin prometheus generate`."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cli.admin import (
    AdminCLIError,
    ServerError,
    UsageError,
    admin_client,
    common_options,
    friendly,
    table,
)

_RELATIVE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def register(areas: Any) -> None:
    targets = areas.add_parser(
        "targets",
        parents=[common_options()],
        help="notification targets: delivery state, lag, errors; `replay` backfills one",
    )
    targets.set_defaults(func=cmd_targets)
    sub = targets.add_subparsers(dest="targets_command", metavar="replay")
    replay = sub.add_parser(
        "replay",
        help="send history to a target again (e.g. everything since day one to a new system)",
        description=(
            "Re-send events to a target, in log order, with a progress bar. Reads the event store "
            "directly: run it where CHRONICLE_DATABASE_URL (and CHRONICLE_MASTER_KEY) or the embedded "
            "--data-dir is reachable. The live checkpoint is untouched; consumers may see repeats "
            "and can drop them by sequencer."
        ),
    )
    replay.add_argument("target", metavar="SUBSYSTEM:ID", help="e.g. notify_redis:1")
    replay.add_argument(
        "--from",
        dest="start",
        default="1",
        metavar="POSITION|TIME",
        help="log position, RFC 3339 time, or an age such as 7d or 12h (default: the beginning)",
    )
    replay.add_argument("--bucket", default="")
    replay.add_argument("--prefix", default="")
    replay.add_argument("--events", default="", help="comma-separated event names (wildcards allowed)")
    replay.add_argument(
        "--rules",
        choices=("recorded", "current"),
        default="recorded",
        help="recorded: the rules as they stood at each event (default); current: today's rules",
    )
    replay.add_argument("--data-dir", default="./data", help="embedded mode's data directory")
    replay.add_argument("--json", action="store_true", help="print the result as JSON")
    replay.set_defaults(func=cmd_replay)

    prom = areas.add_parser("prometheus", help="Prometheus scraping of /minio/v2/metrics/cluster")
    psub = prom.add_subparsers(dest="prometheus_command", metavar="generate")
    gen = psub.add_parser("generate", parents=[common_options()], help="print a scrape config with a bearer token")
    gen.set_defaults(func=cmd_prometheus_generate)


# -- status -------------------------------------------------------------------------------


def cmd_targets(args: argparse.Namespace) -> int:
    try:
        client = admin_client(args)
        data = client.call("GET", "chronicle/targets")
    except UsageError as exc:
        print(f"chronicle admin: {exc}", file=sys.stderr)
        return 2
    except ServerError as err:
        print(f"chronicle admin: {friendly(err)}", file=sys.stderr)
        return 1
    states = data.get("targets") or []
    if getattr(args, "json", False):
        print(json.dumps(states, indent=2))
        return 0
    if not states:
        print("no notification targets are configured")
        return 0
    rows = [
        [
            s["target"],
            s.get("arn") or "-",
            s["state"],
            str(s["checkpoint"]),
            str(s["lag_events"]),
            f"{s['lag_seconds']:.1f}",
            str(s["delivered"]),
            str(s["failed"]),
            (s.get("last_error") or "-")[:60],
        ]
        for s in states
    ]
    print(table(rows, ["TARGET", "ARN", "STATE", "CHECKPOINT", "LAG", "LAG(S)", "DELIVERED", "FAILED", "LAST ERROR"]))
    return 0


# -- backfill -----------------------------------------------------------------------------


def parse_start(text: str, now: datetime | None = None) -> int | datetime:
    text = text.strip()
    if text.isdigit():
        return max(1, int(text))
    m = _RELATIVE.match(text)
    if m:
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--from {text!r}: give a log position (e.g. 1), an RFC 3339 time (2026-01-31T12:00:00Z) "
            "or an age (7d, 12h, 30m)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def cmd_replay(args: argparse.Namespace) -> int:
    from cli.database_probe import probe_database
    from cli.datadir import require_data_dir
    from cli.delivery import effective_configs
    from projections.eventstore.recorder import open_store
    from workers.backfill import BackfillFilter, backfill, parse_events, position_at
    from workers.targets import ConfigError, make_target

    try:
        subsystem, _, target_id = args.target.partition(":")
        if not subsystem.startswith("notify_") or not target_id:
            raise UsageError(f"{args.target!r}: name a target as SUBSYSTEM:ID, e.g. notify_redis:1")
        start = parse_start(args.start)
        flt = BackfillFilter.of(args.bucket, args.prefix, parse_events(args.events))
    except UsageError as exc:
        print(f"chronicle admin targets replay: {exc}", file=sys.stderr)
        return 2
    url = args.settings.database_url
    if url:
        probe_database(url)
    require_data_dir(Path(args.data_dir), database_url=url)
    app = open_store(url, Path(args.data_dir), create_table=False)
    try:
        configs = effective_configs(app, Path(args.data_dir), args.settings)
        cfg = configs.get((subsystem, target_id))
        if cfg is None:
            known = ", ".join(f"{s}:{i}" for s, i in sorted(configs)) or "none"
            print(
                f"chronicle admin targets replay: no target {args.target} is configured (known: {known})",
                file=sys.stderr,
            )
            return 1
        try:
            target = make_target(subsystem, target_id, cfg)
        except ConfigError as exc:
            print(f"chronicle admin targets replay: {exc}", file=sys.stderr)
            return 1
        position = start if isinstance(start, int) else position_at(app, start)
        started = time.monotonic()
        tty = sys.stderr.isatty()

        def progress(state: Any) -> None:
            span = max(1, state.head - state.start + 1)
            done = max(0, state.position - state.start + 1)
            pct = min(100.0, 100.0 * done / span)
            rate = state.sent / max(1e-6, time.monotonic() - started)
            bar = "#" * int(pct / 5)
            line = (
                f"replay {args.target}: [{bar:<20}] {pct:5.1f}%  position {state.position}/{state.head}  "
                f"sent {state.sent} ({rate:,.0f}/s)"
            )
            print(("\r" if tty else "") + line, end="" if tty else "\n", file=sys.stderr, flush=True)

        try:
            result = asyncio.run(
                backfill(
                    app,
                    args.target,
                    target,
                    start=position,
                    flt=flt,
                    rules=args.rules,
                    key_encoding=getattr(cfg, "key_encoding", "minio") or "minio",
                    region=args.settings.region,
                    progress=progress,
                )
            )
        except Exception as exc:  # noqa: BLE001 - a target that stays down: say so and stop
            print(
                f"\nchronicle admin targets replay: delivery to {args.target} failed: {exc}\n"
                "Check the target is reachable and run the same command again with --from set to "
                "the last position shown.",
                file=sys.stderr,
            )
            return 1
        if tty:
            print(file=sys.stderr)
        summary = {
            "target": args.target,
            "from": position,
            "to": result.position,
            "sent": result.sent,
            "rules": args.rules,
        }
        if args.json:
            print(json.dumps(summary))
        else:
            print(
                f"replayed {result.sent} events to {args.target} (positions {position}..{result.position}, {args.rules} rules)"
            )
        return 0
    finally:
        app.close()


# -- prometheus ---------------------------------------------------------------------------


def cmd_prometheus_generate(args: argparse.Namespace) -> int:
    from api.metrics.prometheus_token import prometheus_token

    try:
        client = admin_client(args)
    except UsageError as exc:
        print(f"chronicle admin: {exc}", file=sys.stderr)
        return 2
    token = prometheus_token(client.access_key, client.secret_key)
    endpoint = client.endpoint.rstrip("/")
    scheme, _, host = endpoint.partition("://")
    print(
        "scrape_configs:\n"
        "- job_name: chronicle-job\n"
        f"  bearer_token: {token}\n"
        "  metrics_path: /minio/v2/metrics/cluster\n"
        f"  scheme: {scheme}\n"
        "  static_configs:\n"
        f"  - targets: ['{host}']"
    )
    return 0


__all__ = ["AdminCLIError", "register"]

"""`chronicle admin targets replay`: send history to one notification target again, read
from the event store directly (it runs where the database or the data dir is reachable)."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cli.admin_client import UsageError
from cli.database_probe import probe_database
from cli.datadir import require_data_dir
from cli.delivery import effective_configs
from cli.store import store_options
from projections.eventstore.recorder import ChronicleApplication, open_store
from workers.backfill import BackfillFilter, backfill, parse_events, position_at
from workers.targets import ConfigError, make_target

_RELATIVE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


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


PREFIX = "chronicle admin targets replay"


class ReplayRefused(Exception):
    """A reason to stop before anything is sent (printed; exit code 1)."""


def replay_to_target(args: argparse.Namespace) -> int:
    try:
        subsystem, _, target_id = args.target.partition(":")
        if not subsystem.startswith("notify_") or not target_id:
            raise UsageError(f"{args.target!r}: name a target as SUBSYSTEM:ID, e.g. notify_redis:1")
        start = parse_start(args.start)
        flt = BackfillFilter.of(args.bucket, args.prefix, parse_events(args.events))
    except UsageError as exc:
        print(f"{PREFIX}: {exc}", file=sys.stderr)
        return 2
    url = args.chronicle_settings.database_url
    if url:
        probe_database(url)
    require_data_dir(Path(args.data_dir), database_url=url)
    app = open_store(url, Path(args.data_dir), create_table=False, options=store_options(args.chronicle_settings))
    try:
        cfg, target = _configured_target(app, args, subsystem, target_id)
        position = start if isinstance(start, int) else position_at(app, start)
        result = _send(app, args, cfg, target, position, flt)
    except ReplayRefused as exc:
        print(f"{PREFIX}: {exc}", file=sys.stderr)
        return 1
    finally:
        app.close()
    summary = {"target": args.target, "from": position, "to": result.position, "sent": result.sent, "rules": args.rules}
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"replayed {result.sent} events to {args.target} "
            f"(positions {position}..{result.position}, {args.rules} rules)"
        )
    return 0


def _configured_target(app: ChronicleApplication, args: argparse.Namespace, subsystem: str, target_id: str) -> Any:
    """(config, Target) of the target named, as this node's settings make it."""
    configs = effective_configs(app, Path(args.data_dir), args.chronicle_settings)
    cfg = configs.get((subsystem, target_id))
    if cfg is None:
        known = ", ".join(f"{s}:{i}" for s, i in sorted(configs)) or "none"
        raise ReplayRefused(f"no target {args.target} is configured (known: {known})")
    try:
        return cfg, make_target(subsystem, target_id, cfg)
    except ConfigError as exc:
        raise ReplayRefused(str(exc)) from None


def _send(app: ChronicleApplication, args: argparse.Namespace, cfg: Any, target: Any, position: int, flt: Any) -> Any:
    tty = sys.stderr.isatty()
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
                region=args.chronicle_settings.region,
                progress=_progress_bar(args.target, tty),
            )
        )
    except Exception as exc:  # noqa: BLE001 - a target that stays down: say so and stop
        raise ReplayRefused(
            f"delivery to {args.target} failed: {exc}\nCheck the target is reachable and run the same command "
            "again with --from set to the last position shown."
        ) from None
    finally:
        if tty:
            print(file=sys.stderr)
    return result


def _progress_bar(target: str, tty: bool) -> Callable[[Any], None]:
    started = time.monotonic()

    def progress(state: Any) -> None:
        span = max(1, state.head - state.start + 1)
        done = max(0, state.position - state.start + 1)
        pct = min(100.0, 100.0 * done / span)
        rate = state.sent / max(1e-6, time.monotonic() - started)
        bar = "#" * int(pct / 5)
        line = (
            f"replay {target}: [{bar:<20}] {pct:5.1f}%  position {state.position}/{state.head}  "
            f"sent {state.sent} ({rate:,.0f}/s)"
        )
        print(("\r" if tty else "") + line, end="" if tty else "\n", file=sys.stderr, flush=True)

    return progress

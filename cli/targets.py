"""`chronicle admin targets` (delivery state of each notification target, from a running
server), `chronicle admin targets replay` (backfill a target from the log; runs where the
database is reachable, like `chronicle replay`) and `chronicle admin prometheus generate`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from api.metrics.prometheus_token import prometheus_token
from cli.admin_client import AdminCLIError, ServerError, UsageError, admin_client, common_options
from cli.admin_format import friendly, table


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


def cmd_replay(args: argparse.Namespace) -> int:
    # The event store and the targets' client libraries load only for a replay: a start-up
    # cost every other `chronicle admin` command would pay.
    from cli.target_replay import replay_to_target  # noqa: PLC0415 - start-up cost (see above)

    return replay_to_target(args)


# -- prometheus ---------------------------------------------------------------------------


def cmd_prometheus_generate(args: argparse.Namespace) -> int:
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

"""`chronicle admin bucket retention set BUCKET 30d | get BUCKET | clear BUCKET`: how long a
bucket's superseded and deleted object data stays readable as of the past (`ls`/`cat --as-of`,
x-chronicle-as-of), through a running server's admin API (api.admin.bucket_retention). A bucket
without a window of its own follows CHRONICLE_HISTORY_RETENTION."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cli.admin_client import AdminCLIError, ServerError, UsageError, admin_client, common_options
from cli.admin_format import friendly
from domain.errors import DomainError
from domain.history_retention import parse_retention


def register(areas: Any) -> Any:
    """Adds `bucket retention set|get|clear` to the `chronicle admin` areas; returns the
    bucket area's settings, for the others (cli/bucket_quota.py)."""
    bucket = areas.add_parser("bucket", help="bucket settings kept by the server: history retention, quota")
    settings = bucket.add_subparsers(dest="bucket_setting", metavar="retention|quota")
    settings.required = True
    retention = settings.add_parser(
        "retention",
        help="how long superseded and deleted data stays readable as of the past",
        description=(
            "A bucket's history retention: superseded and deleted object data stays readable as of the past "
            "(and garbage collection keeps it) this long. 0: reclaimed at the next pass. Without one of its "
            "own a bucket follows CHRONICLE_HISTORY_RETENTION."
        ),
    )
    commands = retention.add_subparsers(dest="retention_command", metavar="set|get|clear")
    commands.required = True
    set_ = commands.add_parser("set", parents=[common_options()], help="give BUCKET its own window, e.g. 30d")
    set_.add_argument("bucket", metavar="BUCKET")
    set_.add_argument("duration", metavar="DURATION", help="30d, 12h, 90m, 45s, 2w, or 0")
    set_.set_defaults(func=cmd_set)
    get = commands.add_parser("get", parents=[common_options()], help="BUCKET's window (its own or the default)")
    get.add_argument("bucket", metavar="BUCKET")
    get.set_defaults(func=cmd_get)
    clear = commands.add_parser("clear", parents=[common_options()], help="return BUCKET to the server default")
    clear.add_argument("bucket", metavar="BUCKET")
    clear.set_defaults(func=cmd_clear)
    return settings


def cmd_set(args: argparse.Namespace) -> int:
    try:
        parse_retention(args.duration)
    except DomainError as err:
        print(f"chronicle admin: {err.message}", file=sys.stderr)
        return 2
    return _call(args, "PUT", "chronicle/set-bucket-retention", {"retention": args.duration})


def cmd_get(args: argparse.Namespace) -> int:
    return _call(args, "GET", "chronicle/get-bucket-retention")


def cmd_clear(args: argparse.Namespace) -> int:
    return _call(args, "DELETE", "chronicle/clear-bucket-retention")


def _call(args: argparse.Namespace, method: str, command: str, body: dict[str, Any] | None = None) -> int:
    try:
        state = admin_client(args).call(method, command, {"bucket": args.bucket}, body)
    except UsageError as exc:
        print(f"chronicle admin: {exc}", file=sys.stderr)
        return 2
    except ServerError as err:
        message = f"bucket {args.bucket} does not exist" if err.code == "NoSuchBucket" else friendly(err)
        print(f"chronicle admin: {message}", file=sys.stderr)
        return 1
    except AdminCLIError as exc:
        print(f"chronicle admin: {exc}", file=sys.stderr)
        return 1
    if getattr(args, "json", False):
        print(json.dumps(state, indent=2))
    elif state["source"] == "bucket":
        print(f"{state['bucket']}: history retention {state['retention']} (the bucket's own)")
    else:
        default = "the server default, CHRONICLE_HISTORY_RETENTION"
        print(f"{state['bucket']}: history retention {state['retention']} ({default})")
    return 0

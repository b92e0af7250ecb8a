"""`chronicle`: the composition root. Reads the settings once, parses the command line and
runs one command (serve, worker, migrate, replay, gc, verify, audit, events, admin, share, ls, cat)."""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from cli import audit, browse, events, share
from cli.admin import add_admin_parser
from cli.config_errors import ConfigurationError, report
from cli.settings import ChronicleSettings

DESCRIPTION = """Chronicle: an event-sourced, S3-compatible object service.

Environment:
  CHRONICLE_ROOT_USER / CHRONICLE_ROOT_PASSWORD  root credentials (required with PostgreSQL;
                                                 generated once in embedded mode)
  CHRONICLE_DATABASE_URL   postgresql://user@host:5432/db (default: SQLite in the data dir)
  CHRONICLE_MASTER_KEY     64 hex chars; required with PostgreSQL, shared by all nodes
  CHRONICLE_DOMAIN         domain for virtual-host-style requests (<bucket>.<domain>)
  CHRONICLE_REGION         region reported to clients (default us-east-1); also the region
                           of notification target ARNs (empty when unset, as MinIO)
  CHRONICLE_NOTIFY_<TYPE>_<KEY>[_<ID>]  notification targets, as MinIO's MINIO_NOTIFY_*
                           (e.g. CHRONICLE_NOTIFY_WEBHOOK_ENABLE_1=on,
                           CHRONICLE_NOTIFY_WEBHOOK_ENDPOINT_1=http://...); they win over
                           settings made with `chronicle admin config set`, and are
                           recorded in the log at start when they differ from it
The README lists every other setting.
"""


# Each command's module is imported when that command runs: the server's modules (uvicorn,
# the event store, the workers) would otherwise cost every other command, `chronicle --help`
# included, about a second.


def _serve(args: argparse.Namespace) -> int:
    from cli.serve import cmd_serve  # noqa: PLC0415 - start-up cost (see above)

    return cmd_serve(args)


def _worker(args: argparse.Namespace) -> int:
    from cli.worker import cmd_worker  # noqa: PLC0415 - start-up cost (see above)

    return cmd_worker(args)


def _maintenance(name: str) -> Callable[[argparse.Namespace], int]:
    """migrate, replay, gc, verify, events, chain-key: cli.maintenance's cmd_<name>."""

    def run(args: argparse.Namespace) -> int:
        from cli import maintenance  # noqa: PLC0415 - start-up cost (see above)

        command: Callable[[argparse.Namespace], int] = getattr(maintenance, f"cmd_{name}")
        return command(args)

    return run


def _version() -> str:
    try:
        return version("chronicle-s3")
    except PackageNotFoundError:  # run from a checkout that was never installed: its pyproject says
        try:
            with open(Path(__file__).resolve().parents[1] / "pyproject.toml", "rb") as f:
                return str(tomllib.load(f)["project"]["version"])
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "unknown (not installed)"


def _add_serve(sub: Any) -> None:
    serve = sub.add_parser("serve", help="run the S3 API server")
    serve.add_argument("--address", default="127.0.0.1:9000", help="HOST:PORT to listen on (default 127.0.0.1:9000)")
    serve.add_argument(
        "--data-dir", default="./data", help="blob directory, SQLite store and key file (default ./data)"
    )
    serve.add_argument("--tls-cert", help="PEM certificate: serve HTTPS")
    serve.add_argument("--tls-key", help="PEM private key for --tls-cert")
    serve.add_argument("--domain", help="domain for virtual-host-style requests (or CHRONICLE_DOMAIN)")
    serve.add_argument(
        "--workers",
        type=int,
        default=0,
        help="with PostgreSQL: worker processes sharing the port (or CHRONICLE_WORKERS; default 1)",
    )
    serve.add_argument(
        "--no-delivery",
        action="store_true",
        help="do not run the notification follower and target workers here (run `chronicle worker` instead)",
    )
    serve.add_argument(
        "--create-tables",
        action="store_true",
        help="with PostgreSQL: create tables at start (prefer `chronicle migrate`)",
    )
    serve.set_defaults(func=_serve)


def _add_rebuild_commands(sub: Any) -> None:
    migrate = sub.add_parser("migrate", help="create every table once (run before starting PostgreSQL nodes)")
    migrate.add_argument("--data-dir", default="./data")
    migrate.set_defaults(func=_maintenance("migrate"))
    replay = sub.add_parser(
        "replay",
        help="rebuild the projections (namespace, IAM, notification views) from the event log (stop the servers first)",
    )
    replay.add_argument("--data-dir", default="./data")
    replay.add_argument(
        "--until",
        metavar="TIME|POSITION",
        help="with --into: the views as they were right after this log position, or the last event at or "
        "before this ISO 8601 time (default: the head)",
    )
    replay.add_argument(
        "--into",
        metavar="TARGET",
        help="build the namespace and IAM views into another PostgreSQL database (postgresql://...) or a "
        "SQLite file, while the servers keep running; the live tables are not touched",
    )
    replay.add_argument(
        "--force", action="store_true", help="replay even when the log fails its hash chain (says so, loudly)"
    )
    replay.set_defaults(func=_maintenance("replay"))


def _add_worker(sub: Any) -> None:
    worker = sub.add_parser(
        "worker",
        help="follow the log and deliver bucket notifications to their targets (no S3 API); "
        "several may run: one delivers per target, another takes over when it dies",
    )
    worker.add_argument("--data-dir", default="./data", help="data directory (embedded SQLite)")
    worker.set_defaults(func=_worker)


def _add_gc(sub: Any) -> None:
    gc = sub.add_parser("gc", help="reclaim blobs that no live version or upload part references")
    gc.add_argument("--data-dir", default="./data")
    gc.add_argument(
        "--grace", type=float, default=3600.0, help="only blobs older than this many seconds (default 3600)"
    )
    gc.add_argument(
        "--retention",
        type=float,
        default=None,
        help=(
            "in buckets without a history retention of their own, keep data superseded less than this many "
            "seconds ago (default CHRONICLE_HISTORY_RETENTION, 7 days)"
        ),
    )
    gc.set_defaults(func=_maintenance("gc"))


def _add_verify(sub: Any) -> None:
    verify = sub.add_parser(
        "verify",
        help="check the log: rebuild every view into a scratch target and compare it with the live one; "
        "--chain recomputes the hash chain and checks the signed checkpoints instead",
    )
    verify.add_argument("--data-dir", default="./data")
    verify.add_argument("--chain", action="store_true", help="check the hash chain and the signed checkpoints")
    verify.add_argument("--from", dest="from_", metavar="POSITION|TIME", help="start at a position or time")
    verify.add_argument(
        "--published",
        action="append",
        metavar="SOURCE",
        help="checkpoints published outside the database: a JSON-lines file, s3://bucket/prefix or a URL (repeatable)",
    )
    verify.add_argument(
        "--public-key", metavar="PEM", help="the chain's public key kept elsewhere (`chronicle chain-key` exports it)"
    )
    verify.add_argument("--json", action="store_true", help="the report as JSON")
    verify.set_defaults(func=_maintenance("verify"))


def _add_chain_key(sub: Any) -> None:
    chain_key = sub.add_parser("chain-key", help="print the chain's public signing key (PEM)")
    chain_key.add_argument("--data-dir", default="./data")
    chain_key.set_defaults(func=_maintenance("chain_key"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chronicle", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_serve(sub)
    _add_rebuild_commands(sub)
    add_admin_parser(sub)  # chronicle admin user|policy|group|svcacct|key|info ...
    _add_worker(sub)
    _add_verify(sub)
    audit.add_parser(sub)
    sub.choices["audit"].set_defaults(func=audit.cmd_audit)
    events.add_parser(sub).set_defaults(func=_maintenance("events"))
    _add_chain_key(sub)
    _add_gc(sub)
    share.register(sub)  # chronicle share download|upload BUCKET/KEY
    browse.register(sub)  # chronicle ls s3://BUCKET/PREFIX, chronicle cat s3://BUCKET/KEY [--as-of T]
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        # The one read of the environment: every command gets its settings from here (under a
        # name no command uses for an argument of its own: `admin config set` has `settings`).
        args.chronicle_settings = ChronicleSettings.from_environ(dict(os.environ))
        return int(args.func(args) or 0)
    except ConfigurationError as exc:
        return report(str(exc))
    except SystemExit as exc:
        if isinstance(exc.code, str):  # a command refusing its settings, in words
            return report(exc.code)
        raise


if __name__ == "__main__":
    sys.exit(main())

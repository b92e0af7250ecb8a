"""The commands that work on a deployment's store without serving it: migrate, replay,
gc, verify, audit, events and chain-key."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from cli import chain, events
from cli.chain import chain_report_beside, check_chain_before_replay, judge_chain_before_replay
from cli.config_errors import ConfigurationError
from cli.database_probe import probe_database
from cli.datadir import prepare_data_dir, require_data_dir
from cli.followers import redact_target
from cli.settings import ChronicleSettings
from cli.store import existing_store, open_event_store
from projections.blobstore import BlobStore
from projections.chain.verify import ChainBroken
from projections.eventstore.recorder import ChronicleApplication
from projections.rebuild_into import BadTarget, Target, drop_views, position_until, rebuild_into
from projections.replay import FollowerBusy, NodesRunning, replay
from projections.verify_views import verify_views
from workers.blob_gc import check_grace, collect


def cmd_migrate(args: argparse.Namespace) -> int:
    settings: ChronicleSettings = args.chronicle_settings
    url = settings.database_url
    if not url:
        prepare_data_dir(Path(args.data_dir))
    print(f"migrating {'PostgreSQL' if url else 'SQLite in ' + args.data_dir} ...", flush=True)
    app = open_event_store(settings, Path(args.data_dir), create_table=True)
    app.close()
    print("migrate: event store, projection and blob tables are in place")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    app = existing_store(args.chronicle_settings, Path(args.data_dir), "verify")
    try:
        return chain.cmd_verify(args, app) if args.chain else _verify_views(args, app)
    finally:
        app.close()


def _verify_views(args: argparse.Namespace, app: ChronicleApplication) -> int:
    """Rebuild every view into a scratch target and compare it with the live one (exit 1 on a difference)."""
    report = verify_views(app, progress=None if args.json else _verify_progress)
    if args.json:
        print(json.dumps(dataclasses.asdict(report) | {"ok": report.ok}, indent=2, default=repr))
    else:
        print(f"\rverify: rebuilt the views from the log up to position {report.position}; {report.rows} live rows")
        for d in report.differences:
            print(f"  {d.table}: {d.only_live} rows only in the live table, {d.only_rebuilt} only in the rebuilt one")
            for row in d.samples_live:
                print(f"    live only:    {row}")
            for row in d.samples_rebuilt:
                print(f"    rebuilt only: {row}")
        print("verify: the live views equal the log's" if report.ok else "verify: the live views differ from the log's")
    return 0 if report.ok else 1


def _verify_progress(position: int, total: int) -> None:
    pct = 100.0 * position / total if total else 100.0
    print(f"\rverify: rebuilding, position {position}/{total} ({pct:5.1f}%)", end="", file=sys.stderr, flush=True)


def cmd_events(args: argparse.Namespace) -> int:
    app = existing_store(args.chronicle_settings, Path(args.data_dir), "cli")
    try:
        return events.run(args, app)
    except KeyboardInterrupt:
        return 130
    finally:
        app.close()


def cmd_chain_key(args: argparse.Namespace) -> int:
    app = existing_store(args.chronicle_settings, Path(args.data_dir), "cli")
    try:
        return chain.cmd_chain_key(app)
    finally:
        app.close()


def cmd_gc(args: argparse.Namespace) -> int:
    settings: ChronicleSettings = args.chronicle_settings
    data_dir = Path(args.data_dir)
    require_data_dir(data_dir, database_url=settings.database_url, needs_blobs=True)
    if (warning := check_grace(args.grace)) is not None:
        print(f"warning: {warning}", file=sys.stderr)
    app = open_event_store(settings, data_dir, create_table=False)
    retention = settings.history_retention if args.retention is None else args.retention
    result = collect(
        app, BlobStore(data_dir / "blobs"), grace_seconds=args.grace, retention_seconds=retention, progress=True
    )
    print(f"removed {result['files']} blob files and {result['rows']} inline blobs")
    return 0


def _replay_progress(position: int, total: int) -> None:
    pct = 100.0 * position / total if total else 100.0
    print(f"\rreplay: position {position}/{total} ({pct:5.1f}%)", end="", flush=True)


def cmd_replay(args: argparse.Namespace) -> int:
    settings: ChronicleSettings = args.chronicle_settings
    data_dir = Path(args.data_dir)
    if args.into:
        return _replay_into(args, settings, data_dir)
    if args.until:
        raise ConfigurationError(
            "--until rebuilds a past moment into another place: add --into TARGET (the live tables always "
            "hold the present)"
        )
    if settings.database_url:
        probe_database(settings.database_url)
    else:
        require_data_dir(data_dir, database_url=None)  # never creates one
    try:
        done = replay(
            settings.database_url,
            data_dir,
            lambda name: open_event_store(settings, data_dir, create_table=False, name=name),
            region=settings.region,
            progress=_replay_progress,
            rebuilt_namespace=lambda n: print(f"\nreplay: rebuilt the namespace and IAM tables from {n} events"),
            before=lambda app: check_chain_before_replay(app, force=args.force),
            redact_settings=redact_target,
        )
    except ChainBroken as e:
        print(
            f"\nreplay: refused, nothing was changed: the log fails its hash chain at {e}. "
            "Run `chronicle verify --chain` for every finding; `chronicle replay --force` replays it anyway.",
            file=sys.stderr,
        )
        return 1
    except NodesRunning as e:
        print(f"replay: refused, nothing was changed. {e}", file=sys.stderr)
        return 2
    except FollowerBusy as e:
        print(f"\nreplay: {e}", file=sys.stderr)
        return 2
    print(f"\nreplay: rebuilt the notification views from {done.notification_events} events")
    print(f"replay: rebuilt the audit index from {done.audit_events} events")
    print(f"replay: rebuilt the history view from {done.history_events} events")
    return 0


def _replay_into(args: argparse.Namespace, settings: ChronicleSettings, data_dir: Path) -> int:
    """`replay --until ... --into TARGET`: no lock, nothing live touched (projections.rebuild_into)."""
    try:
        target = Target.parse(args.into)
    except BadTarget as e:
        raise ConfigurationError(f"--into {e}") from None
    app = existing_store(settings, data_dir, "replay-into")
    try:
        try:
            until = position_until(app, args.until or str(2**62))
        except ValueError as e:
            raise ConfigurationError(
                f"--until {args.until}: {e}"
                if "audit index" in str(e)
                else f"--until {args.until}: give a log position (a number) or an ISO 8601 time (2026-11-20T09:00:00Z)"
            ) from None
        # The chain is checked by a process of its own while this one builds; a broken chain
        # (unless --force) drops what was built.
        chain_report = chain_report_beside(settings, data_dir)
        print(
            f"replay: building the views as of position {until} into {target.describe()} "
            "(the hash chain is checked meanwhile)",
            flush=True,
        )
        done = rebuild_into(app, target, until, progress=_replay_progress)
        print()
        try:
            judge_chain_before_replay(chain_report.result(), force=args.force)
        except ChainBroken as e:
            drop_views(target)
            print(
                f"replay: refused, nothing was kept: the log fails its hash chain at {e}. "
                "Run `chronicle verify --chain`; --force builds it anyway.",
                file=sys.stderr,
            )
            return 1
    finally:
        app.close()
    print(f"replay: built the namespace and IAM views from {done} events (up to position {until})")
    return 0

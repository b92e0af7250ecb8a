"""`chronicle`: the composition root. Starts the server, migrates, collects garbage."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tomllib
from pathlib import Path

from projections.eventstore.session_name import session_name

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
"""


def _store(args: argparse.Namespace, *, create_table: bool, name: str | None = None):  # type: ignore[no-untyped-def]
    """The event store; name: its PostgreSQL sessions' application_name."""
    from cli.database_probe import probe_database
    from projections.eventstore.recorder import open_store

    url = os.environ.get("CHRONICLE_DATABASE_URL")
    if url:
        probe_database(url)
    return open_store(url, Path(args.data_dir), create_table=create_table, application_name=name)


def _hold_node_lock(args: argparse.Namespace, name: str):  # type: ignore[no-untyped-def]
    """The lock every running node holds, so that `chronicle replay` refuses to run under
    it; None (after saying why) while a replay runs."""
    # Imported here like the other commands' modules: `chronicle --help` stays quick.
    import psycopg

    from cli.database_probe import probe_database
    from projections.eventstore.node_lock import ReplayRunning, hold_for_node

    if url := os.environ.get("CHRONICLE_DATABASE_URL"):
        probe_database(url)  # a wrong URL is said plainly before any connection is tried
    try:
        return hold_for_node(os.environ.get("CHRONICLE_DATABASE_URL"), Path(args.data_dir), name)
    except ReplayRunning as e:
        print(f"chronicle {args.command}: {e}", file=sys.stderr)
    except psycopg.Error as e:
        print(f"chronicle {args.command}: cannot reach the database: {e}", file=sys.stderr)
    return None


def _check_notify_env() -> None:
    """Fail fast on malformed CHRONICLE_NOTIFY_* variables (raises ConfigError)."""
    from workers.targets import from_env
    from workers.targets.config import http_pipeline

    from_env(os.environ)
    http_pipeline(os.environ)


def _target_directory(sealer):  # type: ignore[no-untyped-def]
    """The notification targets in effect: the stored settings (event-sourced, set with
    `chronicle admin config set` or the admin API) overlaid by this node's environment."""
    from api.notify.targets import TargetDirectory
    from workers.targets import config as schema
    from workers.targets.store import load_effective_configs

    environ = dict(os.environ)
    region = environ.get("CHRONICLE_REGION", "")  # MinIO's ARNs have no region unless one is set
    return TargetDirectory(
        load=lambda tx: load_effective_configs(tx, sealer.unseal, environ, enabled_only=False),
        schema=schema,
        redact=schema.redacted,
        environ=environ,
        region=region,
    )


def _start_notify_targets(ctx) -> None:  # type: ignore[no-untyped-def]
    """Record this node's environment target settings in the log when they differ from
    it (so replay and the other nodes see them), then load and log the ARNs."""
    from api.notify.config import ConfigInvalid, record_environment

    try:
        recorded = record_environment(ctx, os.environ)
    except ConfigInvalid as e:
        raise SystemExit(f"notification targets: {e}") from None
    for name in recorded:
        logging.getLogger("chronicle").info("recorded the environment's settings of %s in the log", name)
    ctx.read_sync(ctx.notify.refresh)


def cmd_migrate(args: argparse.Namespace) -> int:
    from cli.datadir import prepare_data_dir

    url = os.environ.get("CHRONICLE_DATABASE_URL")
    if not url:
        prepare_data_dir(Path(args.data_dir))
    print(f"migrating {'PostgreSQL' if url else 'SQLite in ' + args.data_dir} ...", flush=True)
    app = _store(args, create_table=True)
    app.close()
    print("migrate: event store, projection and blob tables are in place")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import ChronicleASGI
    from api.context import ServerContext, Settings
    from api.http.protocol import limited_protocol
    from cli.datadir import prepare_data_dir
    from cli.datadir_lock import hold_for_serve
    from cli.listen_address import listen
    from cli.parent_watch import watch_parent
    from cli.secrets import root_credentials
    from cli.serve_settings import serve_settings
    from projections.blobstore import BlobStore

    logging.basicConfig(
        level=os.environ.get("CHRONICLE_LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # `chronicle migrate` shows the steps
    url = os.environ.get("CHRONICLE_DATABASE_URL")
    if url and not os.environ.get("CHRONICLE_MASTER_KEY"):
        print(
            "CHRONICLE_MASTER_KEY is required with PostgreSQL (64 hex characters, the same on every node).",
            file=sys.stderr,
        )
        return 2
    workers = args.workers or int(os.environ.get("CHRONICLE_WORKERS", "1"))
    if workers > 1 and not url:
        print("--workers needs PostgreSQL: the embedded SQLite store serves from one process.", file=sys.stderr)
        return 2
    from workers.targets import ConfigError

    try:
        _check_notify_env()
    except ConfigError as e:
        print(f"notification targets: {e}", file=sys.stderr)
        return 2
    # Every setting is checked before the data dir is touched or the port taken.
    limits = serve_settings(args.address, url)
    data_dir = prepare_data_dir(Path(args.data_dir))
    name = session_name("api", args.address)
    node_lock = None
    if not url:
        # A replay's lock first (it names the replay), then the one-server-per-data-dir lock.
        node_lock = _hold_node_lock(args, name)
        if node_lock is None:
            return 2
        hold_for_serve(data_dir, args.address, delivering=not args.no_delivery)
    user, password = root_credentials(data_dir, embedded=not url)
    listening = listen(args.address)  # bound before anything says it serves
    sockets = None
    if workers > 1:
        # Bound once, then fork before any thread or connection exists: every worker accepts
        # on the shared socket and has its own event loop, store connections and committer.
        sockets = [listening]
        from api.metrics.slab import SLAB
        from cli.acceptor import Shares

        shares = Shares(workers)
        SLAB.share(workers)  # metrics: one row of shared cells per worker
        shares.index = _fork_workers(workers)
        SLAB.use_row(shares.index)
    if url:  # each worker process holds the node lock in its own database session
        node_lock = _hold_node_lock(args, name)
        if node_lock is None:
            return 2
    store = _store(args, create_table=(not url or args.create_tables) and not _is_worker_child(), name=name)
    if url and not args.create_tables:
        _require_tables(store)
    settings = Settings(
        root_user=user,
        root_password=password,
        region=os.environ.get("CHRONICLE_REGION", "us-east-1"),
        domain=args.domain or os.environ.get("CHRONICLE_DOMAIN") or None,
    )
    blobs = BlobStore(data_dir / "blobs")
    from api.testclock import FileOffsetClock
    from cli.secrets import master_key

    clock_file = os.environ.get("CHRONICLE_TEST_CLOCK_FILE")  # tests only: a clock they can move
    from api.auth.sealing import Sealer

    key = master_key(data_dir, create=True)
    targets = _target_directory(Sealer(key))
    ctx = ServerContext(
        store, blobs, settings, key, targets=targets, **({"clock": FileOffsetClock(clock_file)} if clock_file else {})
    )
    ctx.check_master_key()
    _start_notify_targets(ctx)
    app = ChronicleASGI(ctx)
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http=limited_protocol(limits),
        server_header=False,
        date_header=False,
        lifespan="on",
        access_log=False,
        log_level="warning",
        ssl_certfile=args.tls_cert,
        ssl_keyfile=args.tls_key,
        timeout_keep_alive=limits.idle_timeout,  # type: ignore[arg-type]  # a float works as well
        backlog=2048,
    )
    server = uvicorn.Server(config)
    scheme = "https" if args.tls_cert else "http"
    logging.getLogger("chronicle").info(
        "serving S3 on %s://%s (store: %s)", scheme, args.address, "PostgreSQL" if url else "SQLite"
    )
    gc_task_interval = float(os.environ.get("CHRONICLE_GC_INTERVAL", "3600"))

    async def main() -> None:
        from cli.delivery import log_configs, start_delivery
        from cli.followers import start_log_followers

        gc_task = asyncio.create_task(_periodic_gc(ctx, gc_task_interval))
        targets_task = asyncio.create_task(_follow_targets(ctx))
        load_configs, generation = log_configs(store, ctx.sealer.unseal)
        # One delivery supervisor per node: forked workers' appends wake it through the event
        # store's NOTIFY, and its follower and target loops are single-active anyway (advisory
        # locks), so more would only contend for them.
        runs_delivery = not args.no_delivery and not _is_worker_child()
        delivery = (
            None
            if not runs_delivery
            else await start_delivery(store, committer=ctx.committer, load_configs=load_configs, generation=generation)
        )
        ctx.delivery = delivery
        # The hash chain and the audit index: built off the request path, one active each.
        linker = None if _is_worker_child() else start_log_followers(store, key, ctx.committer.on_commit)
        acceptor = None
        if sockets:  # --workers: the shared socket, accepted one connection per loop turn
            from cli.acceptor import Acceptor

            acceptor = Acceptor(sockets[0], server, shares)
            accepting = asyncio.create_task(acceptor.run())
        watching = None
        if _is_worker_child():
            watching = asyncio.create_task(watch_parent(_PARENT_PID, lambda: setattr(server, "should_exit", True)))
        try:
            await server.serve(sockets=[] if sockets else [listening])
        finally:
            if acceptor is not None:
                acceptor.stop()
                accepting.cancel()
            if watching is not None:
                watching.cancel()
            gc_task.cancel()
            targets_task.cancel()
            if linker is not None:
                await asyncio.to_thread(linker.stop)
            if ctx.delivery is not None:
                await ctx.delivery.stop()

    uvicorn_run(server, main)
    return 0


_WORKER_CHILD = False
_PARENT_PID = 0  # in a forked worker: the process that forked it


def _is_worker_child() -> bool:
    return _WORKER_CHILD


def _fork_workers(count: int) -> int:
    """Fork count-1 children; the parent stays a worker too and takes its children down
    with it on SIGTERM/SIGINT. Returns this worker's number (the parent's is 0)."""
    import signal

    from cli.parent_watch import die_with_parent

    global _WORKER_CHILD, _PARENT_PID
    children = []
    parent = os.getpid()
    for n in range(1, count):
        pid = os.fork()
        if pid == 0:
            _WORKER_CHILD = True
            _PARENT_PID = parent
            die_with_parent(parent)
            return n
        children.append(pid)

    def stop_children(signum, frame):  # type: ignore[no-untyped-def]
        for child in children:
            try:
                os.kill(child, signal.SIGTERM)
            except ProcessLookupError:
                pass
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    import atexit

    atexit.register(lambda: [os.kill(c, signal.SIGTERM) for c in children if _alive(c)])
    signal.signal(signal.SIGTERM, stop_children)
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def uvicorn_run(server, main) -> None:  # type: ignore[no-untyped-def]
    import uvloop

    uvloop.run(main())


async def _follow_targets(ctx, interval: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    """Notice target changes made through other nodes even when no request asks (so the
    ARNs are logged when they change); requests check on their own, at most once a second."""
    log = logging.getLogger("chronicle")
    while True:
        await asyncio.sleep(interval)
        try:
            await ctx.current_targets()
        except Exception:  # noqa: BLE001 - the store is unreachable: try again later
            log.debug("notification target refresh failed", exc_info=True)


async def _periodic_gc(ctx, interval: float) -> None:  # type: ignore[no-untyped-def]
    from workers.blob_gc import check_grace, collect

    grace = float(os.environ.get("CHRONICLE_GC_GRACE", "3600"))
    log = logging.getLogger("chronicle.gc")
    if (warning := check_grace(grace)) is not None:
        log.warning("CHRONICLE_GC_GRACE: %s", warning)
    while True:
        await asyncio.sleep(interval)
        try:
            result = await asyncio.to_thread(collect, ctx.store, ctx.blobs, grace_seconds=grace)
            log.info("gc pass: %s", result)
        except Exception:  # noqa: BLE001 - a failed pass is retried next interval
            log.exception("gc pass failed")


def _require_tables(store) -> None:  # type: ignore[no-untyped-def]
    from projections.eventstore.tx import Tx

    try:
        with store.store.read() as cursor:
            Tx(cursor, store.store.dialect).execute("SELECT 1 FROM ns_buckets LIMIT 1")
    except Exception:  # noqa: BLE001
        raise SystemExit(
            "The database has no Chronicle tables yet: run `chronicle migrate` once (same environment), then start the nodes."
        ) from None


def _existing_store(args: argparse.Namespace, name: str):  # type: ignore[no-untyped-def]
    """The store of an existing deployment (never creates a data dir)."""
    from cli.datadir import require_data_dir

    url = os.environ.get("CHRONICLE_DATABASE_URL")
    if not url:
        require_data_dir(Path(args.data_dir), database_url=None)
    return _store(args, create_table=False, name=session_name(name))


def cmd_verify(args: argparse.Namespace) -> int:
    from cli.chain import cmd_verify as verify

    app = _existing_store(args, "verify")
    try:
        return verify(args, app)
    finally:
        app.close()


def cmd_events(args: argparse.Namespace) -> int:
    from cli import events as events_cli  # noqa: PLC0415 - start-up cost: loaded by the command that uses it

    app = _existing_store(args, "cli")
    try:
        return events_cli.run(args, app)
    except KeyboardInterrupt:
        return 130
    finally:
        app.close()


def cmd_audit(args: argparse.Namespace) -> int:
    from cli.audit import run

    app = _existing_store(args, "cli")
    try:
        return run(args, app)
    finally:
        app.close()


def cmd_chain_key(args: argparse.Namespace) -> int:
    from cli.chain import cmd_chain_key as chain_key

    app = _existing_store(args, "cli")
    try:
        return chain_key(app)
    finally:
        app.close()


def cmd_gc(args: argparse.Namespace) -> int:
    from cli.datadir import require_data_dir
    from projections.blobstore import BlobStore
    from workers.blob_gc import check_grace, collect

    require_data_dir(Path(args.data_dir), database_url=os.environ.get("CHRONICLE_DATABASE_URL"), needs_blobs=True)
    if (warning := check_grace(args.grace)) is not None:
        print(f"warning: {warning}", file=sys.stderr)
    app = _store(args, create_table=False)
    result = collect(app, BlobStore(Path(args.data_dir) / "blobs"), grace_seconds=args.grace, progress=True)
    print(f"removed {result['files']} blob files and {result['rows']} inline blobs")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from cli.chain import check_chain_before_replay
    from cli.database_probe import probe_database
    from cli.datadir import require_data_dir
    from cli.followers import redact_target
    from projections.chain.verify import ChainBroken
    from projections.replay import FollowerBusy, NodesRunning, replay

    if url := os.environ.get("CHRONICLE_DATABASE_URL"):
        probe_database(url)
    else:
        require_data_dir(Path(args.data_dir), database_url=None)  # never creates one

    def progress(position: int, total: int) -> None:
        pct = 100.0 * position / total if total else 100.0
        print(f"\rreplay: position {position}/{total} ({pct:5.1f}%)", end="", flush=True)

    try:
        done = replay(
            os.environ.get("CHRONICLE_DATABASE_URL"),
            Path(args.data_dir),
            lambda name: _store(args, create_table=False, name=name),
            region=os.environ.get("CHRONICLE_REGION", ""),
            progress=progress,
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
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Follow the log and deliver notifications, without serving S3."""
    import signal

    from api.auth.sealing import Sealer
    from cli.datadir import require_data_dir
    from cli.datadir_lock import hold_for_worker
    from cli.delivery import log_configs, start_delivery
    from cli.followers import start_log_followers
    from cli.secrets import master_key

    logging.basicConfig(
        level=os.environ.get("CHRONICLE_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    url = os.environ.get("CHRONICLE_DATABASE_URL")
    if url and not os.environ.get("CHRONICLE_MASTER_KEY"):
        # Stored target secrets are sealed with the deployment's master key.
        print("CHRONICLE_MASTER_KEY is required with PostgreSQL (the same on every node).", file=sys.stderr)
        return 2
    if not url:
        hold_for_worker(require_data_dir(Path(args.data_dir), database_url=None))
    key = master_key(Path(args.data_dir))
    name = session_name("worker")
    node_lock = _hold_node_lock(args, name)
    if node_lock is None:
        return 2
    app = _store(args, create_table=False, name=name)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        load_configs, generation = log_configs(app, Sealer(key).unseal)
        supervisor = await start_delivery(app, load_configs=load_configs, generation=generation)
        linker = start_log_followers(app, key, None)  # standbys unless no server follows
        logging.getLogger("chronicle").info(
            "worker: following the log; delivering to %s", ", ".join(supervisor.workers) or "no targets yet"
        )
        await stop.wait()
        await asyncio.to_thread(linker.stop)
        await supervisor.stop()

    uvicorn_run(None, main)
    app.close()
    node_lock.release()
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("chronicle-s3")
    except PackageNotFoundError:  # run from a checkout that was never installed: its pyproject says
        try:
            with open(Path(__file__).resolve().parents[1] / "pyproject.toml", "rb") as f:
                return str(tomllib.load(f)["project"]["version"])
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chronicle", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

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
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="create every table once (run before starting PostgreSQL nodes)")
    migrate.add_argument("--data-dir", default="./data")
    migrate.set_defaults(func=cmd_migrate)

    replay = sub.add_parser(
        "replay",
        help="rebuild the projections (namespace, IAM, notification views) from the event log (stop the servers first)",
    )
    replay.add_argument("--data-dir", default="./data")
    replay.add_argument(
        "--force", action="store_true", help="replay even when the log fails its hash chain (says so, loudly)"
    )
    replay.set_defaults(func=cmd_replay)

    from cli.admin import add_admin_parser

    add_admin_parser(sub)  # chronicle admin user|policy|group|svcacct|key|info ...

    worker = sub.add_parser(
        "worker",
        help="follow the log and deliver bucket notifications to their targets (no S3 API); "
        "several may run: one delivers per target, another takes over when it dies",
    )
    worker.add_argument("--data-dir", default="./data", help="data directory (embedded SQLite)")
    worker.set_defaults(func=cmd_worker)
    verify = sub.add_parser(
        "verify",
        help="check the log: --chain recomputes the hash chain and checks the signed checkpoints",
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
    verify.set_defaults(func=cmd_verify)
    from cli import audit

    audit.add_parser(sub)
    sub.choices["audit"].set_defaults(func=cmd_audit)
    from cli.events import add_parser as add_events_parser  # noqa: PLC0415 - start-up cost, as above

    add_events_parser(sub).set_defaults(func=cmd_events)
    chain_key = sub.add_parser("chain-key", help="print the chain's public signing key (PEM)")
    chain_key.add_argument("--data-dir", default="./data")
    chain_key.set_defaults(func=cmd_chain_key)
    gc = sub.add_parser("gc", help="reclaim blobs that no live version or upload part references")
    gc.add_argument("--data-dir", default="./data")
    gc.add_argument(
        "--grace", type=float, default=3600.0, help="only blobs older than this many seconds (default 3600)"
    )
    gc.set_defaults(func=cmd_gc)
    from cli import share

    share.register(sub)  # chronicle share download|upload BUCKET/KEY
    return parser


def main(argv: list[str] | None = None) -> int:
    from cli.config_errors import ConfigurationError, report

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except ConfigurationError as exc:
        return report(str(exc))
    except SystemExit as exc:
        if isinstance(exc.code, str):  # a command refusing its settings, in words
            return report(exc.code)
        raise


if __name__ == "__main__":
    sys.exit(main())

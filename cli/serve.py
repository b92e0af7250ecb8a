"""`chronicle serve`: the S3 API server of one node, with its background work (GC, target
refresh, notification delivery, the hash chain and the audit index)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from socket import socket
from typing import Any

import uvicorn
import uvloop

import workers.targets as target_schema
from api.app import ChronicleASGI
from api.auth.sealing import Sealer
from api.context import ServerContext, Settings
from api.http.connection_limits import ConnectionLimits
from api.http.protocol import limited_protocol
from api.metrics.slab import SLAB
from api.notify.config import ConfigInvalid, record_environment
from api.notify.targets import TargetDirectory
from api.testclock import FileOffsetClock
from cli.acceptor import Acceptor, Shares
from cli.datadir import prepare_data_dir
from cli.datadir_lock import hold_for_serve
from cli.delivery import log_configs, start_delivery
from cli.followers import start_log_followers
from cli.listen_address import listen
from cli.parent_watch import watch_parent
from cli.secrets import master_key, root_credentials
from cli.serve_settings import serve_settings
from cli.settings import ChronicleSettings
from cli.store import hold_node_lock, open_event_store, require_tables
from cli.worker_processes import WorkerProcess
from projections.blobstore import BlobStore
from projections.eventstore import fast_path
from projections.eventstore.session_name import session_name
from workers.blob_gc import check_grace, collect
from workers.targets import ConfigError, from_env
from workers.targets.store import load_effective_configs

log = logging.getLogger("chronicle")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(settings: ChronicleSettings) -> None:
    logging.basicConfig(level=settings.log_level, format=LOG_FORMAT)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # `chronicle migrate` shows the steps


def refusal(args: argparse.Namespace, settings: ChronicleSettings) -> str | None:
    """Why these settings cannot serve at all, checked before anything else."""
    url = settings.database_url
    if url and not settings.master_key:
        return "CHRONICLE_MASTER_KEY is required with PostgreSQL (64 hex characters, the same on every node)."
    if (args.workers or settings.workers) > 1 and not url:
        return "--workers needs PostgreSQL: the embedded SQLite store serves from one process."
    try:
        from_env(settings.notify_environ)
    except ConfigError as e:
        return f"notification targets: {e}"
    return None


def cmd_serve(args: argparse.Namespace) -> int:
    settings: ChronicleSettings = args.chronicle_settings
    configure_logging(settings)
    if (why := refusal(args, settings)) is not None:
        print(why, file=sys.stderr)
        return 2
    url = settings.database_url
    workers = args.workers or settings.workers
    # Every setting is checked before the data dir is touched or the port taken.
    limits = serve_settings(args.address, settings)
    data_dir = prepare_data_dir(Path(args.data_dir))
    name = session_name("api", args.address)
    if not url:
        # A replay's lock first (it names the replay), then the one-server-per-data-dir lock.
        if hold_node_lock(settings, data_dir, args.command, name) is None:
            return 2
        hold_for_serve(data_dir, args.address, delivering=not args.no_delivery)
    user, password = root_credentials(settings, data_dir, embedded=not url)
    listening = listen(args.address)  # bound before anything says it serves
    process = WorkerProcess()
    shares = None
    if workers > 1:
        # Bound once, then fork before any thread or connection exists: every worker accepts
        # on the shared socket and has its own event loop, store connections and committer.
        shares = Shares(workers)
        SLAB.share(workers)  # metrics: one row of shared cells per worker
        shares.index = process.fork(workers)
        SLAB.use_row(shares.index)
    if url and hold_node_lock(settings, data_dir, args.command, name) is None:
        return 2  # each worker process holds the node lock in its own database session
    store = open_event_store(
        settings, data_dir, create_table=(not url or args.create_tables) and not process.is_child, name=name
    )
    if url and not args.create_tables:
        require_tables(store)
    key = master_key(data_dir, settings.master_key, create=True)
    ctx = server_context(args, settings, store, data_dir, key, (user, password))
    server = uvicorn.Server(uvicorn_config(ChronicleASGI(ctx), args, limits))
    log.info(
        "serving S3 on %s://%s (store: %s)",
        "https" if args.tls_cert else "http",
        args.address,
        "PostgreSQL" if url else "SQLite",
    )
    node = RunningNode(args, settings, ctx, key, server, process, listening, shares)
    uvloop.run(node.run())
    return 0


def server_context(
    args: argparse.Namespace,
    settings: ChronicleSettings,
    store: Any,
    data_dir: Path,
    key: bytes,
    root: tuple[str, str],
) -> ServerContext:
    """The context every handler uses, its notification targets loaded and the master key
    checked against the database's."""
    api_settings = Settings(
        root_user=root[0],
        root_password=root[1],
        region=settings.client_region,
        domain=args.domain or settings.domain,
        body_timeout=settings.body_timeout,
        min_part_size=settings.min_part_size,
        prometheus_public=settings.prometheus_auth_type.lower() == "public",
        commit_threads=settings.commit_threads,
        append_connections=settings.append_connections,
        audit_requests=settings.audit_requests,
        fast_path=fast_path.enabled(settings.fast_path),
        history_retention=settings.history_retention,
    )
    targets = target_directory(Sealer(key), settings)
    ctx = ServerContext(
        store, BlobStore(data_dir / "blobs"), api_settings, key, targets=targets, clock=server_clock(settings)
    )
    ctx.check_master_key()
    start_notify_targets(ctx, settings)
    return ctx


def server_clock(settings: ChronicleSettings) -> Callable[[], float]:
    """Wall time; with the test clock setting on, wall time plus the offset its file holds."""
    if not settings.test_clock_file:
        return time.time
    log.warning(
        "CHRONICLE_TEST_CLOCK_FILE is set: this server's clock is wall time plus the seconds written in %s "
        "(for tests only: signatures, expiry and object dates follow it)",
        settings.test_clock_file,
    )
    return FileOffsetClock(settings.test_clock_file)


def target_directory(sealer: Sealer, settings: ChronicleSettings) -> TargetDirectory:
    """The notification targets in effect: the stored settings (event-sourced, set with
    `chronicle admin config set` or the admin API) overlaid by this node's environment."""
    environ = settings.notify_environ
    return TargetDirectory(
        load=lambda tx: load_effective_configs(tx, sealer.unseal, environ, enabled_only=False),
        schema=target_schema,
        redact=target_schema.redacted,
        environ=environ,
        region=settings.region,  # MinIO's ARNs have no region unless one is set
    )


def start_notify_targets(ctx: ServerContext, settings: ChronicleSettings) -> None:
    """Record this node's environment target settings in the log when they differ from
    it (so replay and the other nodes see them), then load and log the ARNs."""
    try:
        recorded = record_environment(ctx, settings.notify_environ)
    except ConfigInvalid as e:
        raise SystemExit(f"notification targets: {e}") from None
    for name in recorded:
        log.info("recorded the environment's settings of %s in the log", name)
    ctx.read_sync(ctx.notify.refresh)


def uvicorn_config(app: ChronicleASGI, args: argparse.Namespace, limits: ConnectionLimits) -> uvicorn.Config:
    return uvicorn.Config(
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


class RunningNode:
    """The server and its background tasks on this process's event loop."""

    def __init__(
        self,
        args: argparse.Namespace,
        settings: ChronicleSettings,
        ctx: ServerContext,
        key: bytes,
        server: uvicorn.Server,
        process: WorkerProcess,
        listening: socket,
        shares: Shares | None,
    ) -> None:
        self.args = args
        self.settings = settings
        self.ctx = ctx
        self.key = key
        self.server = server
        self.process = process
        self.listening = listening
        self.shares = shares
        self.tasks: list[asyncio.Task[None]] = []

    async def run(self) -> None:
        ctx, settings, child = self.ctx, self.settings, self.process.is_child
        self.tasks.append(
            asyncio.create_task(periodic_gc(ctx, settings.gc_interval, settings.gc_grace, settings.history_retention))
        )
        self.tasks.append(asyncio.create_task(follow_targets(ctx)))
        # One delivery supervisor per node: forked workers' appends wake it through the event
        # store's NOTIFY, and its follower and target loops are single-active anyway (advisory
        # locks), so more would only contend for them.
        if not self.args.no_delivery and not child:
            load_configs, generation = log_configs(ctx.store, ctx.sealer.unseal, settings.notify_environ)
            ctx.delivery = await start_delivery(
                ctx.store, settings, committer=ctx.committer, load_configs=load_configs, generation=generation
            )
        # The hash chain, the audit index and the history view: built off the request path, one active each.
        linker = None if child else start_log_followers(ctx.store, self.key, settings, ctx.committer.on_commit)
        acceptor = None
        if self.shares is not None:  # --workers: the shared socket, accepted one connection per loop turn
            acceptor = Acceptor(self.listening, self.server, self.shares)
            self.tasks.append(asyncio.create_task(acceptor.run()))
        if child:
            stop = lambda: setattr(self.server, "should_exit", True)  # noqa: E731
            self.tasks.append(asyncio.create_task(watch_parent(self.process.parent_pid, stop)))
        try:
            await self.server.serve(sockets=[] if self.shares is not None else [self.listening])
        finally:
            if acceptor is not None:
                acceptor.stop()
            for task in self.tasks:
                task.cancel()
            if linker is not None:
                await asyncio.to_thread(linker.stop)
            if ctx.delivery is not None:
                await ctx.delivery.stop()


async def follow_targets(ctx: ServerContext, interval: float = 5.0) -> None:
    """Notice target changes made through other nodes even when no request asks (so the
    ARNs are logged when they change); requests check on their own, at most once a second."""
    while True:
        await asyncio.sleep(interval)
        try:
            await ctx.current_targets()
        except Exception:  # noqa: BLE001 - the store is unreachable: try again later
            log.debug("notification target refresh failed", exc_info=True)


async def periodic_gc(ctx: ServerContext, interval: float, grace: float, retention: float) -> None:
    gc_log = logging.getLogger("chronicle.gc")
    if (warning := check_grace(grace)) is not None:
        gc_log.warning("CHRONICLE_GC_GRACE: %s", warning)
    while True:
        await asyncio.sleep(interval)
        try:
            result = await asyncio.to_thread(
                collect, ctx.store, ctx.blobs, grace_seconds=grace, retention_seconds=retention
            )
            gc_log.info("gc pass: %s", result)
        except Exception:  # noqa: BLE001 - a failed pass is retried next interval
            gc_log.exception("gc pass failed")

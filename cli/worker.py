"""`chronicle worker`: follow the log and deliver notifications, without serving S3."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

import uvloop

from api.auth.sealing import Sealer
from cli.datadir import require_data_dir
from cli.datadir_lock import hold_for_worker
from cli.delivery import log_configs, start_delivery
from cli.followers import start_log_followers
from cli.secrets import master_key
from cli.serve import configure_logging
from cli.settings import ChronicleSettings
from cli.store import hold_node_lock, open_event_store
from projections.eventstore.recorder import ChronicleApplication
from projections.eventstore.session_name import session_name


def cmd_worker(args: argparse.Namespace) -> int:
    settings: ChronicleSettings = args.chronicle_settings
    configure_logging(settings)
    if settings.database_url and not settings.master_key:
        # Stored target secrets are sealed with the deployment's master key.
        print("CHRONICLE_MASTER_KEY is required with PostgreSQL (the same on every node).", file=sys.stderr)
        return 2
    data_dir = Path(args.data_dir)
    if not settings.database_url:
        hold_for_worker(require_data_dir(data_dir, database_url=None))
    key = master_key(data_dir, settings.master_key)
    name = session_name("worker")
    node_lock = hold_node_lock(settings, data_dir, args.command, name)
    if node_lock is None:
        return 2
    app = open_event_store(settings, data_dir, create_table=False, name=name)
    uvloop.run(_deliver_until_stopped(app, key, settings))
    app.close()
    node_lock.release()
    return 0


async def _deliver_until_stopped(app: ChronicleApplication, key: bytes, settings: ChronicleSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    load_configs, generation = log_configs(app, Sealer(key).unseal, settings.notify_environ)
    supervisor = await start_delivery(app, settings, load_configs=load_configs, generation=generation)
    linker = start_log_followers(app, key, settings, None)  # standbys unless no server follows
    logging.getLogger("chronicle").info(
        "worker: following the log; delivering to %s", ", ".join(supervisor.workers) or "no targets yet"
    )
    await stop.wait()
    await asyncio.to_thread(linker.stop)
    await supervisor.stop()

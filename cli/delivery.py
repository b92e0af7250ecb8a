"""Wiring the notification follower and target workers into a process (composition root)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from api.auth.sealing import Sealer
from cli.secrets import master_key
from cli.settings import ChronicleSettings
from projections.eventstore.recorder import ChronicleApplication
from projections.eventstore.tx import Tx
from workers.supervisor import DeliverySupervisor
from workers.targets import TargetConfig
from workers.targets.store import load_effective_configs, targets_generation


def log_configs(
    app: ChronicleApplication, unseal: Callable[[str, str], str], notify_environ: Mapping[str, str]
) -> tuple[Callable[[], Mapping[tuple[str, str], TargetConfig]], Callable[[], int]]:
    """(load_configs, generation) for start_delivery: the targets stored in the log
    (admin API / CLI / recorded environments) overlaid by this process's environment
    (``notify_environ``, its CHRONICLE_NOTIFY_* variables), and the configuration
    generation to poll. ``unseal``: ``Sealer(master_key).unseal``."""

    def load() -> Mapping[tuple[str, str], TargetConfig]:
        with app.store.read() as cursor:
            return load_effective_configs(Tx(cursor, app.store.dialect), unseal, notify_environ)

    def generation() -> int:
        with app.store.read() as cursor:
            return targets_generation(Tx(cursor, app.store.dialect))

    return load, generation


def effective_configs(
    app: ChronicleApplication, data_dir: Path, settings: ChronicleSettings
) -> Mapping[tuple[str, str], TargetConfig]:
    """The targets this process would deliver to: stored settings overlaid by the
    environment's (secrets unsealed with the deployment's master key)."""
    unseal = Sealer(master_key(data_dir, settings.master_key)).unseal
    load, _generation = log_configs(app, unseal, settings.notify_environ)
    return load()


async def start_delivery(
    app: ChronicleApplication,
    settings: ChronicleSettings,
    *,
    load_configs: Callable[[], Mapping[tuple[str, str], TargetConfig]],
    generation: Callable[[], Any] = lambda: 0,
    committer: Any = None,
) -> DeliverySupervisor:
    """Start the follower and the delivery loops in the running event loop. ``committer``:
    this process's group committer, whose commits wake the follower at once."""
    supervisor = DeliverySupervisor(
        app,
        load_configs,
        generation=generation,
        region=settings.region,
        backoff_max=settings.notify_backoff_max,
        http_pipeline=settings.notify_http_pipeline,
    )
    if committer is not None:
        committer.on_commit.append(supervisor.log_appended)
    await supervisor.start()
    return supervisor

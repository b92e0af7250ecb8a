"""The followers of the log a node runs besides the API: the chain linker, the audit
indexer and the history view (projections.log_follower), each in a thread of its own, each
single-active across the deployment. They wake when this process commits and poll for other processes' appends."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cli.chain import make_linker
from cli.settings import ChronicleSettings
from projections.audit.indexer import AuditIndexer
from projections.eventstore.recorder import ChronicleApplication
from projections.history.follower import HistoryFollower
from projections.log_follower import LogFollower
from workers.targets import ConfigError, secret_keys


@dataclass
class RunningFollowers:
    followers: list[LogFollower]
    threads: list[threading.Thread]
    stop_event: threading.Event

    def stop(self) -> None:
        self.stop_event.set()
        for follower in self.followers:
            follower.wake.set()
        for thread in self.threads:
            thread.join(timeout=10)


def start_log_followers(
    app: ChronicleApplication,
    master_key: bytes,
    settings: ChronicleSettings,
    on_commit: list[Callable[[], None]] | None,
) -> RunningFollowers:
    followers: list[LogFollower] = [
        make_linker(app, master_key, settings),
        AuditIndexer(app, redact_settings=redact_target),
        HistoryFollower(app),
    ]
    stop = threading.Event()
    threads = []
    for follower in followers:
        if on_commit is not None:
            on_commit.append(follower.wake.set)
        thread = threading.Thread(target=follower.run, args=(stop,), name=f"{follower.name}-follower", daemon=True)
        thread.start()
        threads.append(thread)
    return RunningFollowers(followers, threads, stop)


def redact_target(subsystem: str, settings: Mapping[str, str]) -> Mapping[str, str]:
    """A target's settings in a record: secrets (sealed in the event) never shown; every
    value hidden when the subsystem is unknown to this version."""
    try:
        secrets = set(secret_keys(subsystem))
    except (ConfigError, KeyError, ValueError):
        return dict.fromkeys(settings, "*redacted*")
    return {k: ("*redacted*" if k in secrets and v else v) for k, v in settings.items()}

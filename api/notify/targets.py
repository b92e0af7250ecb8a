"""The notification targets this server knows: what bucket rules may name.

A ``TargetRegistry`` is an immutable snapshot of the targets in effect on this node (the
settings stored in the log overlaid by this node's ``CHRONICLE_NOTIFY_*`` environment).
``TargetDirectory`` keeps the current one per process and rebuilds it when the target
configuration's generation number changes: it checks that number at most once a second,
and at once after a change made through this process, so a target set or removed through
the admin API takes effect without a restart.

The api layer does not import workers: the composition root hands the directory a loader
(``workers.targets.store.load_effective_configs`` bound to the sealer and environment),
the settings schema (``workers.targets``) and a redaction function, and the
registry keeps only what it needs — each target's subsystem, id, ARN type, whether it is
enabled, and its settings with secrets masked.

As in MinIO, a target's ARN is ``arn:minio:sqs:<region>:<id>:<type>`` where the region is
the configured server region, empty unless one was set (``arn:minio:sqs::1:webhook``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from domain.notifications import ARN


@dataclass(frozen=True)
class KnownTarget:
    subsystem: str  # "notify_webhook"
    id: str  # "1", or "_" for the unnamed default target
    type: str  # ARN type: "webhook", "postgresql", ...
    enabled: bool = True
    settings: dict[str, str] = field(default_factory=dict)  # redacted key=value settings

    def arn(self, region: str = "") -> ARN:
        return ARN.for_target(self.id, self.type, region)


class TargetRegistry:
    """The configured targets, by (subsystem, id). Immutable once built."""

    def __init__(
        self, targets: Iterable[KnownTarget] = (), *, region: str = "", audit: Iterable[KnownTarget] = ()
    ) -> None:
        self.region = region
        self._targets = {(t.subsystem, t.id): t for t in targets}
        # audit_webhook targets: configured alongside, but no ARN and no bucket rule names them.
        self.audit = tuple(sorted(audit, key=lambda t: t.id))

    @classmethod
    def from_configs(
        cls,
        configs: Mapping[tuple[str, str], Any],
        *,
        redact: Callable[[Any], dict[str, str]],
        region: str = "",
    ) -> TargetRegistry:
        """From ``{(subsystem, id): TargetConfig}`` (what ``workers.targets.from_env``
        returns); ``redact`` masks a config's secrets (``workers.targets.redacted``).
        ``notify_*`` sub-systems are the notification targets; the others (``audit_webhook``)
        are kept apart in ``audit``."""
        known = [
            KnownTarget(
                subsystem=subsystem,
                id=target_id,
                type=type(cfg).TYPE,
                enabled=bool(cfg.enable),
                settings=dict(redact(cfg)),
            )
            for (subsystem, target_id), cfg in configs.items()
        ]
        return cls(
            (t for t in known if t.subsystem.startswith("notify_")),
            region=region,
            audit=(t for t in known if not t.subsystem.startswith("notify_")),
        )

    def __len__(self) -> int:
        return len(self._targets)

    def targets(self, *, enabled_only: bool = True) -> list[KnownTarget]:
        return sorted(
            (t for t in self._targets.values() if t.enabled or not enabled_only),
            key=lambda t: (t.subsystem, t.id),
        )

    def arns(self) -> list[str]:
        """The enabled targets' ARNs, sorted: what the server logs at startup."""
        return sorted(str(t.arn(self.region)) for t in self.targets())

    def known_arns(self) -> set[str]:
        """ARNs a bucket notification rule may name (enabled targets only)."""
        return set(self.arns())

    def describe(self) -> list[dict[str, Any]]:
        """Every configured target, disabled ones included, with secrets redacted."""
        return [
            {
                "subsystem": t.subsystem,
                "id": t.id,
                "type": t.type,
                "arn": str(t.arn(self.region)),
                "enabled": t.enabled,
                "settings": dict(t.settings),
            }
            for t in self.targets(enabled_only=False)
        ]

    def startup_line(self) -> str | None:
        """MinIO's startup message, ``SQS ARNs: arn:minio:sqs::1:redis ...``; None when no
        target is enabled (MinIO prints nothing then)."""
        arns = self.arns()
        return "SQS ARNs: " + " ".join(arns) if arns else None


log = logging.getLogger("chronicle")

Loader = Callable[[Any], Mapping[tuple[str, str], Any]]  # Tx -> {(subsystem, id): config}


class TargetSchema(Protocol):
    """What the api uses of the target settings schema (the ``workers.targets`` package,
    handed in by the composition root)."""

    ConfigError: type[Exception]
    CONFIG_CLASSES: Mapping[str, type]  # notification targets
    ALL_CONFIG_CLASSES: Mapping[str, type]  # and audit_webhook

    def config_class(self, subsystem: str) -> type: ...
    def valid_keys(self, subsystem: str) -> list[str]: ...
    def secret_keys(self, subsystem: str) -> list[str]: ...
    def parse_config(self, subsystem: str, kvs: Mapping[str, str]) -> Any: ...
    def to_kvs(self, cfg: Any) -> dict[str, str]: ...
    def redacted(self, cfg: Any) -> dict[str, str]: ...
    def listing_kvs(self, cfg: Any) -> list[tuple[str, str]]: ...
    def env_kvs(self, environ: Mapping[str, str]) -> dict[tuple[str, str], dict[str, str]]: ...
    def env_var_names(self, subsystem: str, target_id: str) -> dict[str, list[str]]: ...
    def all_help(self) -> dict[str, Any]: ...
    def subsystem_help(self, subsystem: str, key: str = "") -> dict[str, Any]: ...


def _generation(tx: Any) -> int:
    return int(tx.scalar("SELECT gen FROM notify_targets_generation WHERE id = 1") or 0)


class TargetDirectory:
    """This process's view of the configured targets, following configuration changes."""

    CHECK_INTERVAL = 1.0  # seconds between generation checks (other nodes' changes)

    def __init__(
        self,
        *,
        load: Loader | None = None,
        schema: TargetSchema | None = None,
        redact: Callable[[Any], dict[str, str]] | None = None,
        environ: Mapping[str, str] | None = None,
        region: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.load = load
        self.schema = schema
        self.redact = redact or (lambda cfg: {})
        self.environ = environ if environ is not None else {}
        self.region = region
        self._clock = clock
        self._registry = TargetRegistry(region=region)
        self._generation: int | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()

    @property
    def registry(self) -> TargetRegistry:
        """The last registry built (no database access)."""
        return self._registry

    def invalidate(self) -> None:
        """A change was made through this process: check the generation on next use."""
        self._checked = float("-inf")

    def due(self) -> bool:
        return self.load is not None and self._clock() - self._checked >= self.CHECK_INTERVAL

    def refresh(self, tx: Any, *, force: bool = False) -> TargetRegistry:
        """Rebuild from the store if the generation moved (or force). ``tx``: a Tx."""
        if self.load is None:
            return self._registry
        with self._lock:
            self._checked = self._clock()
            generation = _generation(tx)
            if generation == self._generation and not force:
                return self._registry
            before = self._registry.arns() if self._generation is not None else None
            registry = TargetRegistry.from_configs(self.load(tx), redact=self.redact, region=self.region)
            self._registry, self._generation = registry, generation
        arns = registry.arns()
        if (before is None and arns) or (before is not None and arns != before):
            # MinIO's startup line, and again whenever the set changes; never settings.
            log.info("%s", registry.startup_line() or "SQS ARNs: (none)")
        return registry

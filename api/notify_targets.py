"""The notification targets this server knows: what bucket rules may name.

Built once at startup by the composition root from the parsed target configurations
(today the environment, ``CHRONICLE_NOTIFY_*``; stored, event-sourced settings come
later). The api layer does not import workers: it receives plain configuration objects
and a redaction function, and keeps only what it needs — each target's subsystem, id,
ARN type, whether it is enabled, and its settings with secrets masked.

As in MinIO, a target's ARN is ``arn:minio:sqs:<region>:<id>:<type>`` where the region is
the configured server region, empty unless one was set (``arn:minio:sqs::1:webhook``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

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

    def __init__(self, targets: Iterable[KnownTarget] = (), *, region: str = "") -> None:
        self.region = region
        self._targets = {(t.subsystem, t.id): t for t in targets}

    @classmethod
    def from_configs(
        cls,
        configs: Mapping[tuple[str, str], Any],
        *,
        redact: Callable[[Any], dict[str, str]],
        region: str = "",
    ) -> TargetRegistry:
        """From ``{(subsystem, id): TargetConfig}`` (what ``workers.targets.from_env``
        returns); ``redact`` masks a config's secrets (``workers.targets.redacted``)."""
        return cls(
            (
                KnownTarget(
                    subsystem=subsystem,
                    id=target_id,
                    type=type(cfg).TYPE,
                    enabled=bool(cfg.enable),
                    settings=dict(redact(cfg)),
                )
                for (subsystem, target_id), cfg in configs.items()
            ),
            region=region,
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

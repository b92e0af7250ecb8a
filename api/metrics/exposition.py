"""Prometheus text exposition (format 0.0.4) that writes metric names as given.

prometheus-client's writer appends ``_total`` to every counter's name, so MinIO's
counters that do not end in it (``minio_notify_target_total_events``,
``minio_s3_traffic_sent_bytes``) would come out under another name than a MinIO
dashboard queries. MinIO's own exporter (the Go client) writes names verbatim; so does
this one. Process and runtime metrics still come from prometheus-client's collectors and
writer (see api.metrics.endpoint).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from prometheus_client.utils import floatToGoString

Labels = dict[str, str]


@dataclass
class Family:
    name: str
    help: str
    type: str  # counter, gauge or histogram
    samples: list[tuple[str, Labels, float]] = field(default_factory=list)

    def add(self, labels: Labels, value: float) -> None:
        self.samples.append((self.name, labels, value))

    def add_histogram(self, labels: Labels, bounds: Sequence[float], counts: Sequence[float], total: float) -> None:
        """A Prometheus histogram: ``counts`` per bucket (not cumulative), the last one
        for values above every bound."""
        cumulative = 0.0
        for bound, count in zip((*bounds, float("inf")), counts, strict=True):
            cumulative += count
            self.samples.append((f"{self.name}_bucket", {**labels, "le": floatToGoString(bound)}, cumulative))
        self.samples.append((f"{self.name}_sum", labels, total))
        self.samples.append((f"{self.name}_count", labels, cumulative))


def render(families: Iterable[Family]) -> bytes:
    out: list[str] = []
    for family in families:
        if not family.samples:
            continue  # as MinIO's exporter: a family appears with its first sample
        out.append(f"# HELP {family.name} {_escape_help(family.help)}\n")
        out.append(f"# TYPE {family.name} {family.type}\n")
        for name, labels, value in family.samples:
            if labels:
                pairs = ",".join(f'{k}="{_escape_value(v)}"' for k, v in sorted(labels.items()))
                out.append(f"{name}{{{pairs}}} {floatToGoString(value)}\n")
            else:
                out.append(f"{name} {floatToGoString(value)}\n")
    return "".join(out).encode()


def _escape_help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")


def _escape_value(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")

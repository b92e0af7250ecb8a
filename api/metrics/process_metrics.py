"""Process and runtime metrics from prometheus-client's default collectors (``process_*``,
``python_gc_*``, ``python_info``), written by its own exposition writer.

With `serve --workers N` a scrape reaches one worker of N; its figures alone would jump
between scrapes. So then the ``process_*`` series of every worker are reported, each
labelled ``worker`` (read from /proc by pid), and ``python_gc_*`` of the worker that
answers, labelled likewise.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.gc_collector import GCCollector
from prometheus_client.metrics_core import Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from api.metrics.slab import SLAB, Slab


class _Workers:
    """A collector over every worker of this server."""

    def __init__(self, slab: Slab) -> None:
        self.slab = slab
        self.own = CollectorRegistry(auto_describe=False)  # this worker's GC figures
        GCCollector(registry=self.own)
        self.platform = PlatformCollector(registry=None)

    def collect(self) -> Iterator[Metric]:
        yield from self.platform.collect()
        merged: dict[str, Metric] = {}
        for index, pid in enumerate(self.slab.pids()):
            if pid:
                process = ProcessCollector(pid=lambda pid=pid: pid, registry=None)
                _merge(merged, process.collect(), str(index))
        _merge(merged, self.own.collect(), str(self.slab.index))
        yield from merged.values()


def _merge(into: dict[str, Metric], metrics: Iterator[Metric], worker: str) -> None:
    for metric in metrics:
        family = into.get(metric.name)
        if family is None:
            family = into[metric.name] = Metric(metric.name, metric.documentation, metric.type, metric.unit)
        family.samples.extend(s._replace(labels={**s.labels, "worker": worker}) for s in metric.samples)


class ProcessMetrics:
    def __init__(self, slab: Slab = SLAB) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        if slab.workers == 1:
            ProcessCollector(registry=self.registry)
            GCCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
        else:
            self.registry.register(_Workers(slab))

    def render(self) -> bytes:
        return generate_latest(self.registry)

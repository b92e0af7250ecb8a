"""Scraping /minio/v2/metrics/cluster and reading the text exposition as Prometheus does:
metric names exactly as written, each family's declared type, samples with labels."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import urllib3

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
_HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


@dataclass
class Exposition:
    types: dict[str, str] = field(default_factory=dict)  # family name -> declared type
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)
    family_of: dict[str, str] = field(default_factory=dict)  # sample name -> family name

    def find(self, name: str, **labels: str) -> list[tuple[dict[str, str], float]]:
        return [
            (have, value)
            for sample, have, value in self.samples
            if sample == name and all(have.get(k) == v for k, v in labels.items())
        ]

    def value(self, name: str, **labels: str) -> float:
        """The one sample of `name` with these labels (among others); 0 when there is none,
        as for an API that never had an error."""
        found = self.find(name, **labels)
        assert len(found) <= 1, f"{name} {labels}: {len(found)} samples"
        return found[0][1] if found else 0.0


def parse(text: str) -> Exposition:
    out = Exposition()
    current = ""
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert name not in out.types, f"family {name} declared twice"
            out.types[name] = kind
            current = name
            continue
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, labels, value = match.groups()
        expected = {current}
        if out.types.get(current) == "histogram":
            expected = {current + suffix for suffix in _HISTOGRAM_SUFFIXES}
        assert name in expected, f"sample {name} under # TYPE {current}"
        out.family_of[name] = current
        parsed = {k: v.encode().decode("unicode_escape") for k, v in _LABEL.findall(labels or "")}
        out.samples.append((name, parsed, math.inf if value == "+Inf" else float(value)))
    return out


def scrape(endpoint: str, token: str | None = None, path: str = "/minio/v2/metrics/cluster") -> Exposition:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    resp = urllib3.request("GET", endpoint + path, headers=headers, timeout=30)
    assert resp.status == 200, resp.data[:500]
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(resp.data.decode())

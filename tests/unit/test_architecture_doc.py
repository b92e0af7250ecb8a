"""ARCHITECTURE.md stays the map of the code: every invariant the code cites resolves to text in
the repository, and every path the map names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "ARCHITECTURE.md").read_text()
PRODUCT = ("domain", "projections", "api", "workers", "cli", "tests", "bench")


def _invariants_in_doc() -> set[int]:
    section = DOC.split("## Invariants", 1)[1]
    return {int(n) for n in re.findall(r"^(\d+)\. \*\*", section, re.M)}


def test_every_cited_invariant_is_written_down() -> None:
    written = _invariants_in_doc()
    assert written == set(range(1, len(written) + 1)), "invariants are numbered 1..N without gaps"
    cited: dict[int, list[str]] = {}
    for folder in PRODUCT:
        for path in (ROOT / folder).rglob("*.py"):
            for n in re.findall(r"[Ii]nvariant (\d+)", path.read_text()):
                cited.setdefault(int(n), []).append(str(path.relative_to(ROOT)))
    assert cited, "the code cites invariants; the scan found none"
    missing = {n: files for n, files in cited.items() if n not in written}
    assert not missing, f"cited but not in ARCHITECTURE.md: {missing}"


def test_every_path_in_the_map_exists() -> None:
    named = set(re.findall(r"`((?:domain|projections|api|workers|cli|migrations|bench|tests)/[\w/.]*)`", DOC))
    assert len(named) > 30
    missing = sorted(p for p in named if not (ROOT / p).exists())
    assert not missing, f"ARCHITECTURE.md names paths that do not exist: {missing}"

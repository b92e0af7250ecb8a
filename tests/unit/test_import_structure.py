"""The product's imports stay as ARCHITECTURE.md says: no import cycle among product modules
(imports inside functions counted, so a cycle cannot hide in one), and an import inside a
function only where a comment on its line says why (an optional dependency, start-up cost)."""

from __future__ import annotations

from bench.codestats import analyse


def test_no_import_cycles_among_product_modules() -> None:
    report = analyse()
    assert report["files"] > 100, "the scan found the product modules"
    assert report["cycles_with_inner_imports"] == [], "modules importing each other (break the cycle, do not hide it)"


def test_imports_inside_functions_say_why() -> None:
    unexplained = [f"{path}:{line}" for path, line, explained in analyse()["inner_imports"] if not explained]
    assert unexplained == [], "import at module level, or say why on the line (# noqa: PLC0415 - reason)"

"""Static figures about the product code: how big files and functions are, where imports sit,
and which modules import each other in a cycle.

    python -m bench.codestats            # table
    python -m bench.codestats --json     # the same as JSON
    python -m bench.codestats --list     # also name every long file/function, inner import and cycle

Product code is domain/, projections/, api/, workers/ and cli/. An import inside a function counts
as "explained" when the line carries a comment (the rule in ARCHITECTURE.md: say why). Cycles are
counted over imports that run when a module loads (module level, not under TYPE_CHECKING).
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("domain", "projections", "api", "workers", "cli")
LONG_FILE = 500
LONG_FUNCTION = 80


def product_files(root: Path = ROOT) -> list[Path]:
    return sorted(p for d in PRODUCT for p in (root / d).rglob("*.py"))


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
    return ".".join([*base, node.module] if node.module else base)


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom, known: set[str]) -> set[str]:
    """Product modules an import statement loads (a from-import of a submodule loads it too)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = _resolve(module, is_package, node)
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
    return {n for n in names if n in known}


class _Walker(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, known: set[str], lines: list[str]) -> None:
        self.module, self.is_package, self.known, self.lines = module, is_package, known, lines
        self.depth = 0
        self.module_level: set[str] = set()
        self.inner_targets: set[str] = set()
        self.inner: list[tuple[int, bool]] = []  # (line, explained by a comment)
        self.functions: list[tuple[str, int, int]] = []  # (name, line, length)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        end = node.end_lineno or node.lineno
        self.functions.append((node.name, node.lineno, end - node.lineno + 1))
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_If(self, node: ast.If) -> None:
        if self.depth == 0 and _is_type_checking(node):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        if self.depth:
            first = self.lines[node.lineno - 1]
            last = self.lines[(node.end_lineno or node.lineno) - 1]
            self.inner.append((node.lineno, "#" in first or "#" in last))
            self.inner_targets |= _targets(self.module, self.is_package, node, self.known)
        else:
            self.module_level |= _targets(self.module, self.is_package, node, self.known)

    visit_Import = _import
    visit_ImportFrom = _import


def analyse(root: Path = ROOT) -> dict[str, object]:
    files = product_files(root)
    known = {module_name(p, root) for p in files}
    graph: dict[str, set[str]] = {}
    full: dict[str, set[str]] = {}
    long_files: list[tuple[str, int]] = []
    long_functions: list[tuple[str, str, int]] = []
    inner: list[tuple[str, int, bool]] = []
    for path in files:
        text = path.read_text()
        lines = text.splitlines()
        rel = str(path.relative_to(root))
        if len(lines) > LONG_FILE:
            long_files.append((rel, len(lines)))
        mod = module_name(path, root)
        w = _Walker(mod, path.name == "__init__.py", known, lines)
        w.visit(ast.parse(text, rel))
        graph[mod] = w.module_level - {mod}
        full[mod] = (w.module_level | w.inner_targets) - {mod}
        long_functions += [(f"{rel}:{line}", name, n) for name, line, n in w.functions if n > LONG_FUNCTION]
        inner += [(rel, line, explained) for line, explained in w.inner]
    cycles = strongly_connected(graph)
    return {
        "files": len(files),
        "files_over_500": sorted(long_files, key=lambda x: -x[1]),
        "functions_over_80": sorted(long_functions, key=lambda x: -x[2]),
        "inner_imports": inner,
        "cycles": cycles,
        "cycles_with_inner_imports": strongly_connected(full),
    }


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; groups of two or more modules (or a self-import)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        m = stack.pop()
                        on_stack.discard(m)
                        group.append(m)
                        if m == node:
                            break
                    if len(group) > 1:
                        out.append(sorted(group))
    return sorted(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args(argv)
    r = analyse()
    inner = r["inner_imports"]
    assert isinstance(inner, list)
    summary = {
        "product files": r["files"],
        f"files over {LONG_FILE} lines": len(r["files_over_500"]),  # type: ignore[arg-type]
        f"functions over {LONG_FUNCTION} lines": len(r["functions_over_80"]),  # type: ignore[arg-type]
        "imports inside functions": len(inner),
        "  of which without a comment saying why": sum(1 for i in inner if not i[2]),
        "import cycles at load time (module groups)": len(r["cycles"]),  # type: ignore[arg-type]
        "import cycles counting inner imports": len(r["cycles_with_inner_imports"]),  # type: ignore[arg-type]
    }
    if args.json:
        print(json.dumps({"summary": summary, **r}, indent=1))
        return 0
    for k, v in summary.items():
        print(f"{k:45} {v}")
    if args.list:
        for name in ("files_over_500", "functions_over_80", "cycles", "cycles_with_inner_imports"):
            print(f"\n{name}:")
            for item in r[name]:  # type: ignore[attr-defined]
                print("  ", item)
        print("\ninner imports without a comment:")
        for rel, line, explained in inner:
            if not explained:
                print(f"   {rel}:{line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

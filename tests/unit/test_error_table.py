"""Every S3 error code the product raises is in the error table (api.errors.ERRORS), so each
one answers with AWS's status and message unless the raise names its own: the codes are
found in the source (S3Error / DomainError raises, `code = ...` assignments, and the tables
of codes other errors are translated to)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from api.errors import ERRORS

REPO = Path(__file__).resolve().parents[2]
PRODUCT = ("api", "domain", "projections")
RAISERS = {"S3Error", "DomainError", "NotificationError"}
# Tables whose values are error codes (an S3 subresource's "not found" code, the codes the
# STS / IAM endpoints answer authentication failures with).
CODE_TABLES = {"UNCONFIGURED", "_AUTH_ERRORS"}


def _strings(node: ast.AST) -> Iterator[str]:
    """The string constants an expression may evaluate to (either branch of an `if`)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.IfExp):
        yield from _strings(node.body)
        yield from _strings(node.orelse)


def _first_code(value: ast.AST) -> Iterator[str]:
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        yield value.value
    elif isinstance(value, ast.Tuple) and value.elts:
        yield from _first_code(value.elts[0])


def codes_in(tree: ast.AST) -> Iterator[tuple[str, int]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in RAISERS:
                yield from ((code, node.lineno) for code in _strings(node.args[0]))
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {
                t.id if isinstance(t, ast.Name) else t.attr for t in targets if isinstance(t, ast.Name | ast.Attribute)
            }
            if node.value is None:
                continue
            if any(n == "code" or n.endswith("_code") for n in names):
                yield from ((code, node.lineno) for code in _strings(node.value))
            if names & CODE_TABLES and isinstance(node.value, ast.Dict):
                for value in node.value.values:
                    yield from ((code, node.lineno) for code in _first_code(value))


def raised_codes() -> dict[str, str]:
    found: dict[str, str] = {}
    for folder in PRODUCT:
        for path in sorted((REPO / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            for code, line in codes_in(tree):
                found.setdefault(code, f"{path.relative_to(REPO)}:{line}")
    return found


def test_the_scan_finds_codes_raised_in_every_way():
    found = raised_codes()
    assert {"NoSuchKey", "BucketAlreadyOwnedByYou", "ValidationError", "InvalidClientTokenId"} <= set(found)
    assert "NoSuchLifecycleConfiguration" in found  # from buckets.UNCONFIGURED
    assert "MalformedPolicyDocument" in found  # a `self.code = ...` assignment


def test_every_code_raised_is_in_the_error_table():
    missing = {code: where for code, where in raised_codes().items() if code not in ERRORS}
    assert missing == {}


def test_every_entry_has_a_status_and_a_message():
    for code, (status, message) in ERRORS.items():
        assert 200 <= status < 600 and message, code

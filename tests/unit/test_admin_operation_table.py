"""The admin operation table is the admin router's only dispatch: one row per command, each
with its endpoint, a handler and the admin action(s) that allow it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from api.admin.endpoints import ADMIN_PREFIX_V4, ENDPOINTS, split_admin_path
from api.admin.operations import ADMIN_OPERATIONS

ADMIN = Path(__file__).resolve().parents[2] / "api" / "admin"


@pytest.mark.parametrize("command", sorted(ADMIN_OPERATIONS))
def test_each_row_is_reached_by_its_path_and_names_a_handler_and_actions(command):
    row = ADMIN_OPERATIONS[command]
    assert row.endpoint is ENDPOINTS[command]
    for path in (row.endpoint.path, ADMIN_PREFIX_V4 + row.endpoint.path[len(ADMIN_PREFIX_V4) :]):
        assert ADMIN_OPERATIONS[split_admin_path(path)] is row
    assert callable(row.handler)
    assert row.actions and all(action.startswith("admin:") for action in row.actions)


def test_handlers_name_no_admin_action_of_their_own():
    """Authorization reads the row: no handler module spells an admin action."""
    for path in ADMIN.glob("*.py"):
        if path.name == "operations.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not node.value.startswith("admin:"), f"{path.name}:{node.lineno}"

"""Change records checked against the schema the repository publishes for them."""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "domain" / "schemas" / "change-record-1.json"
_VALIDATOR = Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))


def assert_valid(records: list[dict]) -> None:
    assert records, "no records to check"
    for record in records:
        errors = sorted(_VALIDATOR.iter_errors(record), key=lambda e: list(e.path))
        assert not errors, f"position {record.get('position')}: {[e.message for e in errors]}"

#!/usr/bin/env bash
# The checks that keep the code as ARCHITECTURE.md describes it (run by .ci/run inside the test
# venv): formatting, lint with the line limit and the rule against imports inside functions
# (ruff's PLC0415; an import that must stay inside a function says why in a `# noqa: PLC0415`
# comment), and types on the pure domain and the event store. Import cycles are a test
# (tests/unit/test_import_structure.py). Exits non-zero on the first check that fails.
set -uo pipefail
cd "$(dirname "$0")/.."

run() {
    printf '[static] %s\n' "$*"
    "$@" || { printf '[static] FAILED: %s\n' "$*"; exit 1; }
}

run ruff format --check --quiet .
run ruff check --quiet .
run mypy --follow-imports=silent domain projections/eventstore
printf '[static] all checks passed\n'

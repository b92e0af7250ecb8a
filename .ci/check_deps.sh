#!/usr/bin/env bash
# Chronicle as the compose image installs it: `pip install .` alone (no extras) in a fresh
# venv. Then `chronicle --help` and `chronicle ... --help` for every command and
# subcommand, an import of every product module, and a sample of the commands run for
# real: `chronicle serve`, the commands that talk to it (admin, anonymous, share) and
# `migrate`. Fails when any of them needs a package that [project.dependencies] does not
# declare (tests/unit/test_declared_dependencies.py checks every import statically, those
# inside functions included), or a file the wheel lacks.
#
# Wheels are kept in $CHRONICLE_CI_CACHE/wheels (default ~/.cache/chronicle-ci/wheels): a
# rerun installs from them without the network, and fetches only when pyproject.toml
# asks for something they lack.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$PWD
started=$SECONDS

log() { printf "[check_deps] %4ss %s\n" "$((SECONDS - started))" "$*"; }
fail() {
    log "FAILED: $*"
    exit 1
}

wheels=${CHRONICLE_CI_CACHE:-$HOME/.cache/chronicle-ci}/wheels
work=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# Build from a copy of the checkout's files (tracked, and new ones not ignored): a stale
# build/ directory in the checkout could otherwise put deleted modules into the wheel.
mkdir "$work/src"
git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    xargs -0 cp --parents -t "$work/src"

python3 -m venv "$work/venv"
bin=$work/venv/bin
export PIP_DISABLE_PIP_VERSION_CHECK=1
mkdir -p "$wheels"
install_offline() {
    "$bin/pip" install -q --no-compile --no-index --find-links "$wheels" "$work/src"
}
if ! install_offline 2>"$work/pip-offline.log"; then
    log "fetching the runtime dependencies' wheels into $wheels"
    env -u PIP_NO_INDEX "$bin/pip" wheel -q --wheel-dir "$wheels" "$work/src" "setuptools>=68" wheel
    rm -f "$wheels"/chronicle_s3-*.whl
    install_offline
fi
log "installed with pip install ."

# Everything below runs outside the checkout, so imports come from the venv only.
cd "$work"
[ "$("$bin/python" -c 'import cli, os; print(os.path.dirname(os.path.dirname(cli.__file__)))')" != "$repo" ] ||
    fail "cli was imported from the checkout, not from the venv"

# Every command and subcommand's --help: `chronicle --help` and `chronicle COMMAND --help`
# through the installed script, the nested subcommands (admin user add, ...) through the
# same main() in one process (a process each would cost ~0.2 s of CPU apiece, for the same
# code path).
"$bin/chronicle" --help >/dev/null || fail "chronicle --help failed"
helped=$("$bin/python" - <<'EOF'
import argparse
import contextlib
import io
import subprocess
import sys

from cli.main import build_parser, main


def walk(parser: argparse.ArgumentParser, path: list[str]):
    yield path
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, [*path, name])


paths = [path for path in walk(build_parser(), []) if path]
for path in paths:
    if len(path) == 1:
        subprocess.run([sys.prefix + "/bin/chronicle", *path, "--help"], check=True, stdout=subprocess.DEVNULL)
        continue
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            main([*path, "--help"])
    except SystemExit as exit:
        assert exit.code == 0, (path, exit.code)
    assert out.getvalue().startswith("usage: chronicle " + " ".join(path)), path
print(len(paths) + 1)
EOF
) || fail "a command's --help failed"
log "$helped commands and subcommands answer --help"

# Every product module imports (migrations.env runs Alembic's migration when imported:
# `chronicle migrate` below runs it).
imported=$("$bin/python" - <<'EOF'
import importlib
import pkgutil

count = 0
for top in ("domain", "projections", "api", "workers", "cli", "migrations"):
    package = importlib.import_module(top)
    for info in pkgutil.walk_packages(package.__path__, top + "."):
        if info.name != "migrations.env":
            importlib.import_module(info.name)
            count += 1
print(count)
EOF
) || fail "a product module does not import"
log "$imported product modules import"

# The commands themselves, against a server from this venv (a sample: the static check
# covers every import; these show the installed package works end to end).
export CHRONICLE_ROOT_USER=depcheck CHRONICLE_ROOT_PASSWORD=depcheck-secret-key
port=$("$bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export CHRONICLE_ADMIN_ENDPOINT=http://127.0.0.1:$port
"$bin/chronicle" serve --address "127.0.0.1:$port" --data-dir "$work/data" >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 120); do
    if "$bin/python" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" \
        "$CHRONICLE_ADMIN_ENDPOINT/minio/health/live" 2>/dev/null; then
        break
    fi
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log"; fail "chronicle serve exited"; }
    sleep 0.5
done

run() {  # run EXPECTED_STATUS ARGS...: `chronicle ARGS` exits EXPECTED_STATUS, no traceback
    local expected=$1 status=0
    shift
    "$bin/chronicle" "$@" >"$work/out" 2>"$work/err" || status=$?
    if [ "$status" -ne "$expected" ] || grep -q Traceback "$work/err"; then
        cat "$work/out" "$work/err"
        fail "chronicle $* exited $status (expected $expected)"
    fi
}
run 0 admin info
run 0 admin user list
run 1 admin anonymous get no-such-bucket
run 1 share download no-such-bucket/key
run 0 migrate --data-dir "$work/data2"  # Alembic's files are in the wheel
log "admin, anonymous, share and migrate ran"

log "passed"

"""Wrong configuration: `chronicle` says in ONE line on stderr what is wrong and what to do,
exits with 2, prints no traceback, and creates nothing (run as a user runs it, as a
subprocess)."""

from __future__ import annotations

import os
import socket
import subprocess
import tomllib
from pathlib import Path

import psycopg
import pytest

from tests.helpers.server import REPO_ROOT, chronicle_command, free_port, master_key
from tests.helpers.services import PG_DSN, dsn_with_database, pg_connect, service_missing

# Generous: a loaded machine takes seconds to import the server; the point is that it
# answers at all without the store's 30 s of connection retries, measured in the report.
RUN_TIMEOUT = 120

# A role that pg_hba.conf makes authenticate with a password (see README, Tests).
PASSWORD_ROLE = "chronicle_password_test"


def run_chronicle(
    *args: str, env: dict[str, str] | None = None, cwd: Path = REPO_ROOT
) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ)
    for name in ("CHRONICLE_DATABASE_URL", "CHRONICLE_MASTER_KEY"):
        full_env.pop(name, None)
    full_env.update(CHRONICLE_ROOT_USER="chronicleroot", CHRONICLE_ROOT_PASSWORD="secret-secret-secret")
    full_env.update(env or {})
    full_env["PYTHONPATH"] = str(REPO_ROOT)  # this checkout's code, whatever the cwd
    proc = subprocess.Popen(
        chronicle_command(*args),
        cwd=str(cwd),
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, err = proc.communicate()
        pytest.fail(f"chronicle {' '.join(args)} was still running after {RUN_TIMEOUT}s\nstderr:\n{err[-3000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def assert_config_error(res: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit code 2 and one line on stderr that contains every needle; returns the line."""
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1, f"exit {res.returncode}, stderr:\n{res.stderr[-3000:]}"
    assert "Traceback" not in res.stderr
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in: {lines[0]}"
    return lines[0]


def serve(
    tmp_path: Path, *extra: str, env: dict[str, str] | None = None, address: str | None = None
) -> subprocess.CompletedProcess[str]:
    address = address or f"127.0.0.1:{free_port()}"
    return run_chronicle("serve", "--address", address, "--data-dir", str(tmp_path / "data"), *extra, env=env)


# -- CHRONICLE_DATABASE_URL ---------------------------------------------------------------


def pg_env(url: str) -> dict[str, str]:
    return {"CHRONICLE_DATABASE_URL": url, "CHRONICLE_MASTER_KEY": master_key()}


def test_database_that_does_not_exist(tmp_path):
    url = dsn_with_database(PG_DSN, "chronicle_no_such_database")
    res = serve(tmp_path, env=pg_env(url))
    assert_config_error(
        res,
        "CHRONICLE_DATABASE_URL",
        '"chronicle_no_such_database" does not exist',
        "createdb",
        "chronicle migrate",
    )


def test_a_database_never_migrated_is_named_as_such(tmp_path, empty_pg_url):
    # An empty database (not "unreachable", not a driver error): the one step missing is said.
    res = serve(tmp_path, env=pg_env(empty_pg_url))
    assert_config_error(res, "no Chronicle tables yet", "chronicle migrate")


def test_database_on_a_closed_port(tmp_path):
    with socket.socket() as s:  # a port nothing listens on: bound here, never listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        res = serve(tmp_path, env=pg_env(f"postgresql://root@127.0.0.1:{port}/chronicle"))
    assert_config_error(res, "CHRONICLE_DATABASE_URL", f"127.0.0.1:{port}", "refused", "check that PostgreSQL runs")


def _password_role_url(password: str) -> str:
    """A URL of a role pg_hba.conf makes give a password; skips when this PostgreSQL trusts
    it instead (then no password is ever checked)."""
    try:
        pg_connect().close()
    except Exception as e:  # noqa: BLE001
        service_missing(f"PostgreSQL at {PG_DSN}", e)
    url = f"postgresql://{PASSWORD_ROLE}:{password}@127.0.0.1:5432/postgres"
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.OperationalError as e:
        if "password authentication failed" in str(e):
            return url
    pytest.skip(
        f"pg_hba.conf does not ask {PASSWORD_ROLE} for a password: add "
        f"`host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256` above the trust line (README, Tests)"
    )


def test_database_bad_password(tmp_path):
    url = _password_role_url("not-the-password")
    res = serve(tmp_path, env=pg_env(url))
    line = assert_config_error(
        res,
        "CHRONICLE_DATABASE_URL",
        "password authentication failed",
        "check the user and password",
    )
    assert "not-the-password" not in res.stderr + res.stdout and "not-the-password" not in line


@pytest.mark.parametrize(
    "url",
    [
        "mysql://root@127.0.0.1:3306/chronicle",
        "sqlite:///tmp/chronicle.db",
        "127.0.0.1:5432/chronicle",
    ],
)
def test_database_url_that_is_not_postgresql(tmp_path, url):
    res = serve(tmp_path, env=pg_env(url))
    assert_config_error(res, "CHRONICLE_DATABASE_URL must be a PostgreSQL URL", "postgresql://")


@pytest.mark.parametrize(
    "command",
    [["migrate"], ["replay"], ["gc"], ["worker"], ["admin", "targets", "replay", "notify_redis:1"]],
)
def test_every_command_checks_the_database_url(tmp_path, command):
    url = dsn_with_database(PG_DSN, "chronicle_no_such_database")
    data_dir = tmp_path / "data"
    (data_dir / "blobs").mkdir(parents=True)  # gc with PostgreSQL: the blob dir exists
    res = run_chronicle(*command, "--data-dir", str(data_dir), env=pg_env(url))
    assert_config_error(res, "CHRONICLE_DATABASE_URL", "does not exist")


# -- --address ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "needles"),
    [
        ("foo", ["--address 'foo' has no port", "HOST:PORT"]),
        ("127.0.0.1", ["--address '127.0.0.1' has no port", "HOST:PORT"]),
        ("127.0.0.1:99999", ["port '99999' is not a TCP port", "1 to 65535"]),
        ("127.0.0.1:0", ["port '0' is not a TCP port"]),
        ("127.0.0.1:http", ["port 'http' is not a TCP port"]),
        ("no-such-host.invalid:9000", ["cannot resolve host 'no-such-host.invalid'"]),
    ],
)
def test_bad_address(tmp_path, address, needles):
    res = serve(tmp_path, address=address)
    assert_config_error(res, *needles)
    assert "serving S3" not in res.stderr


def test_address_in_use_is_said_before_serving(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        res = serve(tmp_path, address=address)
    assert_config_error(res, f"--address {address}", "already in use", "choose another port")
    assert "serving S3" not in res.stderr


# -- data dir and master key --------------------------------------------------------------


def test_data_dir_that_is_a_file(tmp_path):
    (tmp_path / "data").write_text("not a directory")
    res = serve(tmp_path)
    assert_config_error(res, "--data-dir", "is a file, not a directory")


@pytest.mark.parametrize("key", ["zz", "00" * 16, "not base64 at all!", "00" * 33])
def test_malformed_master_key(tmp_path, key):
    res = serve(tmp_path, env={"CHRONICLE_MASTER_KEY": key})
    assert_config_error(res, "CHRONICLE_MASTER_KEY must be 32 bytes", "64 hex characters")
    assert not (tmp_path / "data").exists()  # refused before anything was made


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CHRONICLE_MAX_CONNECTIONS", "lots"),
        ("CHRONICLE_MAX_CONNECTIONS", "0"),
        ("CHRONICLE_HEADER_TIMEOUT", "-1"),
        ("CHRONICLE_IDLE_TIMEOUT", "soon"),
    ],
)
def test_malformed_connection_limits(tmp_path, name, value):
    res = serve(tmp_path, env={name: value})
    assert_config_error(res, f"{name}={value!r}")


# -- commands that need an existing data dir ----------------------------------------------

READING_COMMANDS = [
    ["replay"],
    ["gc"],
    ["worker"],
    ["admin", "targets", "replay", "notify_redis:1"],
]


@pytest.mark.parametrize("command", READING_COMMANDS)
def test_reading_commands_never_create_a_data_dir(tmp_path, command):
    typo = tmp_path / "dta"
    res = run_chronicle(*command, "--data-dir", str(typo))
    assert_config_error(
        res,
        f"--data-dir {typo} does not exist",
        "only `chronicle serve` and `chronicle migrate` create one",
    )
    assert not typo.exists()


@pytest.mark.parametrize("command", READING_COMMANDS)
def test_reading_commands_refuse_a_directory_without_a_store(tmp_path, command):
    empty = tmp_path / "empty"
    empty.mkdir()
    res = run_chronicle(*command, "--data-dir", str(empty))
    assert_config_error(res, f"--data-dir {empty} holds no Chronicle store", "chronicle.sqlite3")
    assert list(empty.iterdir()) == []  # no master.key, no SQLite file


def test_reading_commands_use_the_default_data_dir_only_when_it_exists(tmp_path):
    """`chronicle gc` with no --data-dir in a directory without ./data creates nothing."""
    res = run_chronicle("gc", cwd=tmp_path)
    assert_config_error(res, "--data-dir data does not exist")
    assert list(tmp_path.iterdir()) == []


def test_gc_with_postgresql_needs_the_blob_directory(tmp_path, empty_pg_url):
    res = run_chronicle("gc", "--data-dir", str(tmp_path / "blobless"), env=pg_env(empty_pg_url))
    assert_config_error(res, "does not exist")
    assert not (tmp_path / "blobless").exists()


def test_version():
    res = run_chronicle("--version")
    assert res.returncode == 0
    with open(REPO_ROOT / "pyproject.toml", "rb") as f:
        declared = tomllib.load(f)["project"]["version"]
    assert res.stdout.strip() == f"chronicle {declared}"

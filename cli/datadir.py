"""The data directory: `serve` and `migrate` create it; every other command needs the one
a server already uses, and refuses a path that is not it.

A mistyped --data-dir used to be created on the spot, with a fresh master.key and an empty
SQLite file, and the command then failed with `no such table`. With PostgreSQL the data dir
holds only the blob files: `gc` needs it (it deletes blobs there); `replay`, `worker` and
`admin targets replay` do not read it, so they neither check nor create it.
"""

from __future__ import annotations

from pathlib import Path

from cli.config_errors import ConfigurationError

SQLITE_FILE = "chronicle.sqlite3"  # as projections.eventstore.recorder names it
BLOBS = "blobs"


def prepare_data_dir(data_dir: Path) -> Path:
    """`serve` / `migrate`: the data dir, created when missing."""
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigurationError(
            f"--data-dir {data_dir} is a file, not a directory: give a directory (it is created if missing)"
        )
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(
            f"--data-dir {data_dir} cannot be created ({exc.strerror}): give a directory this user may write"
        ) from None
    return data_dir


def require_data_dir(data_dir: Path, *, database_url: str | None, needs_blobs: bool = False) -> Path:
    """Commands that work on a deployment's data: the data dir must be one a server made
    (with SQLite: it holds the store; with PostgreSQL: only when the blobs are needed)."""
    if database_url and not needs_blobs:
        return data_dir
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigurationError(
            f"--data-dir {data_dir} is a file, not a directory: give the data directory the server uses"
        )
    if not data_dir.is_dir():
        raise ConfigurationError(
            f"--data-dir {data_dir} does not exist: give the data directory the server uses "
            "(only `chronicle serve` and `chronicle migrate` create one)"
        )
    if not database_url and not (data_dir / SQLITE_FILE).is_file():
        raise ConfigurationError(
            f"--data-dir {data_dir} holds no Chronicle store ({SQLITE_FILE} is missing): give the data directory "
            "the server uses, or set CHRONICLE_DATABASE_URL if it uses PostgreSQL"
        )
    if database_url and needs_blobs and not (data_dir / BLOBS).is_dir():
        raise ConfigurationError(
            f"--data-dir {data_dir} has no {BLOBS}/ directory: "
            "give the data directory the servers use (their shared blob store)"
        )
    return data_dir

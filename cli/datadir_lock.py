"""Who works on an embedded (SQLite) data dir: lock files held with flock(2).

Two servers on one SQLite data dir both delivered every notification (duplicates) and
fought over the database (`database is locked`). So:

- `serve.lock`: held by the one `chronicle serve` of the data dir, and by `chronicle
  replay` (which rebuilds the tables a server reads);
- `delivery.lock`: held by whichever process delivers notifications: `serve` (unless
  --no-delivery) or `chronicle worker`; two deliverers would send everything twice.

`gc` takes neither: it decides from one snapshot of the store and may run beside a server.
The kernel releases a lock when its holder dies, however it dies; the file stays, naming
the last holder, and says nothing once unlocked. With PostgreSQL nothing is locked here:
several nodes share the data dir (blobs) by design, and delivery is arbitrated in the
database.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

from cli.config_errors import ConfigurationError

SERVE_LOCK = "serve.lock"
DELIVERY_LOCK = "delivery.lock"

_held: list[int] = []  # descriptors kept open (and so locked) for the life of the process


class DataDirBusy(ConfigurationError):
    def __init__(self, holder: str) -> None:
        super().__init__(holder)
        self.holder = holder


def hold(data_dir: Path, name: str, role: str, address: str = "") -> None:
    """Lock DATA_DIR/NAME for this process, recording ROLE (e.g. `chronicle serve`) and
    ADDRESS; raises DataDirBusy naming the holder when another process has it."""
    path = data_dir / name
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DataDirBusy(_holder(path)) from None
    record = json.dumps({"role": role, "pid": os.getpid(), "address": address}).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, record, 0)
    _held.append(fd)


def _holder(path: Path) -> str:
    """The holder as its lock file names it (it may be writing it this very moment)."""
    deadline = time.monotonic() + 1.0
    while True:
        try:
            record = json.loads(path.read_bytes() or b"null")
        except (OSError, ValueError):
            record = None
        if isinstance(record, dict) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if not isinstance(record, dict):
        return "another process"
    described = f"{record.get('role') or 'another process'} (pid {record.get('pid')}"
    if record.get("address"):
        described += f", {record['address']}"
    return described + ")"


def hold_for_serve(data_dir: Path, address: str, *, delivering: bool) -> None:
    """`serve` on SQLite: the only server of the data dir, and its deliverer unless
    --no-delivery."""
    try:
        hold(data_dir, SERVE_LOCK, "chronicle serve", address)
    except DataDirBusy as busy:
        raise ConfigurationError(
            f"--data-dir {data_dir} is in use by {busy.holder}: one server per SQLite data dir (two would deliver "
            "notifications twice and lock each other out); stop it first, or use PostgreSQL to run several nodes"
        ) from None
    if delivering:
        try:
            hold(data_dir, DELIVERY_LOCK, "chronicle serve", address)
        except DataDirBusy as busy:
            raise ConfigurationError(
                f"--data-dir {data_dir}: {busy.holder} delivers its notifications: stop it, or start the server "
                "with --no-delivery"
            ) from None


def hold_for_worker(data_dir: Path) -> None:
    """`chronicle worker` on SQLite: the one deliverer of the data dir."""
    try:
        hold(data_dir, DELIVERY_LOCK, "chronicle worker")
    except DataDirBusy as busy:
        raise ConfigurationError(
            f"--data-dir {data_dir}: {busy.holder} already delivers its notifications (two deliverers would send "
            "each one twice): stop it, or run the server with --no-delivery beside one `chronicle worker`"
        ) from None

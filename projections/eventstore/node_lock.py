"""Replay runs alone: `chronicle replay` drops and rebuilds the projection tables that the
API nodes and workers read and write. Every `chronicle serve` process and every `chronicle
worker` holds a shared lock for as long as it runs; replay takes the lock exclusively,
without waiting, before it touches anything, and refuses, naming the holders, when it
cannot have it. A node that starts while a replay holds the lock refuses to start: it does
not wait, because a node left waiting would look alive to a supervisor while it serves
nothing; whoever runs the replay starts the nodes again when it has finished.

PostgreSQL: a session-level advisory lock, on a connection of its own (the lock goes with
the session, so a node that dies releases it). A node whose session is lost (database
restart, network) takes the lock again on a new one; if a replay got it in between, the
node stops rather than run on tables being rebuilt.

SQLite (embedded, one host): a POSIX (fcntl) lock on `<data_dir>/serve.lock`, shared by
nodes, exclusive for replay. Replay also takes a flock() lock on the file, so a process
holding the file with either kind of lock keeps replay out.
"""

from __future__ import annotations

import fcntl
import logging
import os
import select
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from projections.eventstore.recorder import pg_url_kwargs
from projections.eventstore.unavailable import STORE_OUTAGE

log = logging.getLogger("chronicle.nodes")

NODE_LOCK = 0x6368726F6E6F6465  # "chronode": the advisory lock key of running nodes
LOCK_FILE = "serve.lock"
CHECK_EVERY = 10.0  # seconds between looks at a quiet lock session
RETRY_EVERY = 1.0  # seconds between attempts to take the lock again on a new session


class ReplayRunning(RuntimeError):
    """A node may not run: a replay holds the store."""


class NodesRunning(RuntimeError):
    """Replay may not run: nodes or workers use the store."""


class Held:
    """A lock this process holds; release() lets it go (process exit does too)."""

    def release(self) -> None:
        raise NotImplementedError


def hold_for_node(
    database_url: str | None,
    data_dir: Path,
    name: str,
    *,
    on_lost: Callable[[str], None] | None = None,
) -> Held:
    """Take the shared lock of a running node (raises ReplayRunning). ``name`` names the
    PostgreSQL session; ``on_lost`` hears why the node must stop (default: SIGTERM to this
    process)."""
    if database_url:
        lock = _SharedSession(_connector(database_url, name), on_lost or stop_this_process)
        lock.acquire()
        return lock
    return _DataDirLock.shared(data_dir)


def hold_for_replay(database_url: str | None, data_dir: Path, name: str) -> Held:
    """Take the lock exclusively, without waiting (raises NodesRunning)."""
    if database_url:
        conn = _connector(database_url, name)()
        try:
            got = conn.execute("SELECT pg_try_advisory_lock(%s)", (NODE_LOCK,)).fetchone()
            if not got or not got[0]:
                holders = _session_holders(conn)
                raise NodesRunning(_running("this database", holders or ["a session that has just ended"]))
        except BaseException:
            conn.close()
            raise
        return _Session(conn)
    return _DataDirLock.exclusive(data_dir)


def stop_this_process(reason: str) -> None:
    log.error("%s: stopping", reason)
    os.kill(os.getpid(), signal.SIGTERM)


def _running(where: str, holders: list[str]) -> str:
    lines = "\n".join(f"  {h}" for h in holders)
    return (
        f"Chronicle processes are using {where}; stop every `chronicle serve` and "
        f"`chronicle worker` before replaying:\n{lines}"
    )


# -- PostgreSQL ------------------------------------------------------------------------------


def _connector(database_url: str, name: str) -> Callable[[], psycopg.Connection[Any]]:
    kwargs = pg_url_kwargs(database_url)

    def connect() -> psycopg.Connection[Any]:
        return psycopg.connect(**kwargs, autocommit=True, connect_timeout=5, fallback_application_name=name)

    return connect


_HOLDERS_SQL = """
SELECT l.pid, a.application_name, host(a.client_addr) AS client
FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.classid = %s AND l.objid = %s AND l.pid <> pg_backend_pid()
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY a.application_name, l.pid"""


def _session_holders(conn: psycopg.Connection[Any]) -> list[str]:
    """The sessions holding the lock, as pg_stat_activity shows them (a bigint key shows as
    its high and low halves in classid and objid)."""
    rows = conn.execute(_HOLDERS_SQL, (NODE_LOCK >> 32, NODE_LOCK & 0xFFFFFFFF)).fetchall()
    return [
        f"{name or 'a session'} (PostgreSQL backend {pid}, from {client or 'a local socket'})"
        for pid, name, client in rows
    ]


def _take_shared(conn: psycopg.Connection[Any]) -> str | None:
    """None once the shared lock is held; else who holds it exclusively."""
    got = conn.execute("SELECT pg_try_advisory_lock_shared(%s)", (NODE_LOCK,)).fetchone()
    if got and got[0]:
        return None
    holders = _session_holders(conn) or ["a session that has just ended"]
    return "a `chronicle replay` holds the database: " + "; ".join(holders)


class _Session(Held):
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def release(self) -> None:
        self.conn.close()  # the session's advisory locks end with it


class _SharedSession(Held):
    """The node's shared lock, kept for the life of the process: a thread watches the
    session (its socket turns readable when the server ends it) and, once it is gone,
    takes the lock again on a new one."""

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]], on_lost: Callable[[str], None]) -> None:
        self._connect = connect
        self._on_lost = on_lost
        self._conn: psycopg.Connection[Any] | None = None
        self._stopping = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._thread: threading.Thread | None = None

    def acquire(self) -> None:
        conn = self._connect()
        try:
            refusal = _take_shared(conn)
        except BaseException:
            conn.close()
            raise
        if refusal is not None:
            conn.close()
            raise ReplayRunning(f"{refusal}. Start this process when the replay has finished.")
        self._conn = conn
        self._thread = threading.Thread(target=self._keep, name="node-lock", daemon=True)
        self._thread.start()

    def release(self) -> None:
        self._stopping.set()
        os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(5)
        if self._conn is not None:
            self._conn.close()

    def _keep(self) -> None:
        while not self._stopping.is_set():
            if self._watch():
                return
            if not self._retake():
                return

    def _watch(self) -> bool:
        """Until the session is lost (False) or the lock is released (True)."""
        conn = self._conn
        assert conn is not None
        while True:
            try:
                # poll, not select: a session opened again late in a busy server's life may
                # have a descriptor above select's limit.
                watch = select.poll()
                watch.register(conn.fileno(), select.POLLIN)
                watch.register(self._wake_r, select.POLLIN)
                watch.poll(CHECK_EVERY * 1000)
                if self._stopping.is_set():
                    return True
                # Readable: a notice, or the end of the session (an error, then EOF).
                # Quiet for CHECK_EVERY: make sure the server is still there.
                conn.execute("SELECT 1")
            except (psycopg.Error, OSError) as e:
                STORE_OUTAGE.failed(e)
                conn.close()
                self._conn = None
                return False

    def _retake(self) -> bool:
        """Take the lock again (False: stop watching, the node was told to stop)."""
        while not self._stopping.is_set():
            try:
                conn = self._connect()
            except psycopg.Error as e:
                STORE_OUTAGE.failed(e)
                self._stopping.wait(RETRY_EVERY)
                continue
            try:
                refusal = _take_shared(conn)
            except psycopg.Error:
                conn.close()
                self._stopping.wait(RETRY_EVERY)
                continue
            if refusal is not None:
                conn.close()
                self._on_lost(f"{refusal}; it took the lock while this process was disconnected")
                return False
            self._conn = conn
            STORE_OUTAGE.succeeded()
            log.info("this node holds its lock again")
            return True
        return False


# -- SQLite: a lock file in the data directory --------------------------------------------------


class _DataDirLock(Held):
    def __init__(self, fd: int) -> None:
        self.fd = fd

    @classmethod
    def shared(cls, data_dir: Path) -> _DataDirLock:
        path, fd = _open(data_dir)
        try:
            fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            holders = _file_holders(path) or ["a process that has just ended"]
            raise ReplayRunning(
                f"{path} is locked by {'; '.join(holders)}: a `chronicle replay` runs on this data "
                "directory. Start this process when the replay has finished."
            ) from None
        return cls(fd)

    @classmethod
    def exclusive(cls, data_dir: Path) -> _DataDirLock:
        path, fd = _open(data_dir)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            holders = _file_holders(path) or [f"a process that has just ended (lock file {path})"]
            raise NodesRunning(_running(str(data_dir), holders)) from None
        return cls(fd)

    def release(self) -> None:
        os.close(self.fd)  # both kinds of lock end with the file's last descriptor here


def _open(data_dir: Path) -> tuple[Path, int]:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_FILE
    return path, os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


def _file_holders(path: Path) -> list[str]:
    """The processes holding a lock on the file, from /proc/locks (Linux; POSIX and flock
    locks alike), each with its command line."""
    try:
        st = os.stat(path)
        with open("/proc/locks") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    pids: list[int] = []
    for line in lines:
        fields = line.split()
        if "->" in fields:  # a waiter, not a holder
            continue
        if len(fields) >= 6 and fields[5] == device and fields[4].isdigit():
            pid = int(fields[4])
            if pid != os.getpid() and pid not in pids:
                pids.append(pid)
    return [f"pid {pid} ({_command_of(pid)})" for pid in pids]


def _command_of(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return "gone"
    argv = [a for a in argv if a]
    for i, arg in enumerate(argv):
        if arg in ("serve", "worker", "replay"):
            return " ".join(["chronicle", *argv[i:]])[:300]
    return " ".join(argv)[:300]

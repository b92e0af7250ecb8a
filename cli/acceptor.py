"""Accepting on the socket `serve --workers N` shares, so that connections spread evenly.

uvicorn's server (libuv underneath) accepts every pending connection at each wake-up, so
when a client opens its pool of keep-alive connections, whichever worker wakes first takes
most of them and keeps them for their lifetime: 22 of 32 to one worker was common, leaving
the other core half idle. Here the workers publish how many connections each holds (in
memory shared across the fork); a worker holding more than another one lets a pending
connection wait 10 ms for the less loaded one before it takes it itself, and takes one
connection per turn of its event loop.
"""

from __future__ import annotations

import asyncio
import logging
import mmap
import socket
import struct
from typing import Any

log = logging.getLogger("chronicle")

DEFER_SECONDS = 0.01
_SLOT = struct.Struct("i")


class Shares:
    """Open connections per worker, one int per worker in anonymous shared memory: made
    before the fork, each worker writes its own slot (reads of the others may be a moment
    old, which costs at most a deferral)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.index = 0
        self._mem = mmap.mmap(-1, _SLOT.size * workers)

    def publish(self, count: int) -> None:
        _SLOT.pack_into(self._mem, _SLOT.size * self.index, count)

    def fewest_elsewhere(self) -> int:
        counts = [_SLOT.unpack_from(self._mem, _SLOT.size * i)[0] for i in range(self.workers) if i != self.index]
        return min(counts, default=0)


class _Published(set):  # type: ignore[type-arg]
    """uvicorn's set of open connections, publishing (with the accepted sockets not yet
    handed to a protocol) how many this worker holds whenever it changes."""

    def __init__(self, shares: Shares) -> None:
        super().__init__()
        self.shares = shares
        self.pending = 0

    def held(self) -> int:
        return len(self) + self.pending

    def publish(self) -> None:
        self.shares.publish(len(self) + self.pending)

    def add(self, item: Any) -> None:
        super().add(item)
        self.publish()

    def discard(self, item: Any) -> None:
        super().discard(item)
        self.publish()


class Acceptor:
    def __init__(self, sock: socket.socket, server: Any, shares: Shares) -> None:
        """`server`: the uvicorn.Server whose protocol serves the accepted connections
        (before it starts: its set of connections is replaced by one that publishes)."""
        self.sock = sock
        self.server = server
        self.shares = shares
        self.loop: asyncio.AbstractEventLoop | None = None
        self._handshakes: set[asyncio.Task[None]] = set()  # until the transport exists
        self._deferred: asyncio.TimerHandle | None = None
        self._overdue = False
        self._connections = _Published(shares)
        server.server_state.connections = self._connections

    async def run(self) -> None:
        """Accept from the moment uvicorn has started until it is asked to exit."""
        while not self.server.started:
            if self.server.should_exit:
                return
            await asyncio.sleep(0.01)
        self.loop = asyncio.get_running_loop()
        self.sock.setblocking(False)
        self.loop.add_reader(self.sock.fileno(), self._readable)
        try:
            while not self.server.should_exit:
                await asyncio.sleep(0.1)
        finally:
            self.stop()

    def _readable(self) -> None:
        assert self.loop is not None
        if not self._overdue and self._connections.held() > self.shares.fewest_elsewhere():
            # Another worker holds fewer: it is woken too and may take this one.
            self.loop.remove_reader(self.sock.fileno())
            self._deferred = self.loop.call_later(DEFER_SECONDS, self._resume)
            return
        self._overdue = False
        try:
            conn, _ = self.sock.accept()
        except (BlockingIOError, InterruptedError):
            return  # another worker took it
        except OSError as exc:
            log.warning("accept failed: %s", exc)
            return
        conn.setblocking(False)
        self._connections.pending += 1
        self._connections.publish()
        task = self.loop.create_task(self._serve(conn))
        self._handshakes.add(task)
        task.add_done_callback(self._handshakes.discard)

    def _resume(self) -> None:
        """After a deferral: whatever is still pending was left for this worker to take."""
        self._deferred = None
        if self.loop is not None:
            self._overdue = True
            self.loop.add_reader(self.sock.fileno(), self._readable)

    async def _serve(self, conn: socket.socket) -> None:
        assert self.loop is not None
        config = self.server.config
        handed = False

        def protocol() -> asyncio.Protocol:
            # What uvicorn's Server.startup hands to loop.create_server.
            nonlocal handed
            handed = True
            self._connections.pending -= 1
            return config.http_protocol_class(  # type: ignore[no-any-return]
                config=config,
                server_state=self.server.server_state,
                app_state=self.server.lifespan.state,
            )

        try:
            await self.loop.connect_accepted_socket(protocol, conn, ssl=config.ssl)
        except (OSError, asyncio.CancelledError):
            conn.close()  # e.g. a TLS handshake that failed: nothing was served
        finally:
            if not handed:
                self._connections.pending -= 1
                self._connections.publish()

    def stop(self) -> None:
        for task in list(self._handshakes):
            task.cancel()
        if self._deferred is not None:
            self._deferred.cancel()
            self._deferred = None
        if self.loop is not None:
            try:
                self.loop.remove_reader(self.sock.fileno())
            except (OSError, ValueError):
                pass
            self.loop = None
        # This process's copy of the shared socket: once every worker has closed its own,
        # the port is free for a new server while requests in flight finish.
        self.sock.close()

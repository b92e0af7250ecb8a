"""`serve --workers N`: the processes forked after the socket is bound. The parent stays a
worker too and takes its children down with it; a child stops when its parent is gone."""

from __future__ import annotations

import atexit
import os
import signal
from types import FrameType

from cli.parent_watch import die_with_parent


class WorkerProcess:
    """Which worker this process is: number 0 (the parent, or the only process) or a child."""

    def __init__(self) -> None:
        self.number = 0
        self.parent_pid = 0  # in a forked child: the process that forked it

    @property
    def is_child(self) -> bool:
        return self.parent_pid != 0

    def fork(self, count: int) -> int:
        """Fork count-1 children; returns this worker's number (the parent's is 0)."""
        children: list[int] = []
        parent = os.getpid()
        for n in range(1, count):
            pid = os.fork()
            if pid == 0:
                self.number, self.parent_pid = n, parent
                die_with_parent(parent)
                return n
            children.append(pid)

        def stop_children(signum: int, frame: FrameType | None) -> None:
            _terminate(children)
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

        atexit.register(_terminate, children)
        signal.signal(signal.SIGTERM, stop_children)
        return 0


def _terminate(children: list[int]) -> None:
    for child in children:
        try:
            os.kill(child, signal.SIGTERM)
        except ProcessLookupError:
            pass

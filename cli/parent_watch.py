"""`serve --workers N`: a forked worker ends when the process that forked it dies.

The parent is a worker too and stops its children on SIGTERM; but a parent killed with
SIGKILL (or the OOM killer) runs no handler, and its children kept serving and holding
the port, so a restart failed with "address already in use". On Linux the kernel sends
the child SIGTERM when the parent dies (PR_SET_PDEATHSIG); elsewhere, and as a fallback,
the child notices its parent changed (it is re-parented) within a second. Either way the
worker stops accepting, finishes the requests in flight and exits.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import signal
from collections.abc import Callable

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
POLL_SECONDS = 1.0


def die_with_parent(parent_pid: int) -> None:
    """Call in the child right after fork()."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: watch_parent() notices instead
        pass
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(0)


async def watch_parent(parent_pid: int, stop: Callable[[], None]) -> None:
    """Call STOP once the parent is gone."""
    while os.getppid() == parent_pid:
        await asyncio.sleep(POLL_SECONDS)
    stop()

"""File descriptors for the connections `serve` may hold.

Linux starts processes with a soft RLIMIT_NOFILE of 1024 (macOS 256) under a much higher
hard limit. Go servers such as MinIO raise the soft limit to the hard one at start; here it
is raised as far as the connection cap needs, and a cap that cannot fit is said at start
rather than found when accept() fails under load.
"""

from __future__ import annotations

import logging
import resource

from api.http.connection_limits import ConnectionLimits
from cli.config_errors import ConfigurationError

# Descriptors that are not client connections: the listening socket, the store's
# connections (PostgreSQL pool and overflow, or SQLite's files), blob files being read or
# written, notification targets, the event loop's own.
RESERVED = 256

log = logging.getLogger("chronicle")


def fit_descriptor_limit(limits: ConnectionLimits) -> ConnectionLimits:
    """Raise this process's soft limit for LIMITS; returns the limits that fit (the default
    cap lowered, with a warning, when the hard limit is too low for it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = limits.descriptors + RESERVED
    ceiling = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if needed > soft and soft != resource.RLIM_INFINITY:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, ceiling), hard))
    if needed <= ceiling:
        return limits
    if limits.max_connections_chosen:
        raise ConfigurationError(
            f"CHRONICLE_MAX_CONNECTIONS={limits.max_connections} needs {needed} file descriptors but this "
            f"process may open only {ceiling} (hard RLIMIT_NOFILE): raise it (ulimit -n, LimitNOFILE= in a "
            "systemd unit) or lower CHRONICLE_MAX_CONNECTIONS"
        )
    fitting = limits.max_connections
    while fitting > 1 and limits.with_max_connections(fitting).descriptors + RESERVED > ceiling:
        fitting -= 1
    if limits.with_max_connections(fitting).descriptors + RESERVED > ceiling:
        raise ConfigurationError(
            f"this process may open only {ceiling} files (hard RLIMIT_NOFILE), too few to serve: raise it (ulimit -n)"
        )
    log.warning(
        "serving at most %d connections (not %d): the hard file descriptor limit is %d; raise it to serve more",
        fitting,
        limits.max_connections,
        ceiling,
    )
    return limits.with_max_connections(fitting)

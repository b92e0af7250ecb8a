"""`serve --address HOST:PORT`: checked, then bound before anything says it is serving.

uvicorn binds inside its startup, after the server has logged where it serves; a port in
use then failed with a traceback, and a port above 65535 was silently wrapped. Here the
socket is bound first (and handed to uvicorn), so a wrong address is one line and exit 2.
"""

from __future__ import annotations

import errno
import socket

from cli.config_errors import ConfigurationError

BACKLOG = 2048
_EXAMPLE = "e.g. 127.0.0.1:9000, 0.0.0.0:9000 or [::1]:9000"


def parse_address(address: str) -> tuple[str, int]:
    """(host, port) of HOST:PORT; an empty host is the loopback, as before."""
    host, colon, port_text = address.rpartition(":")
    if not colon or not port_text:
        raise ConfigurationError(f"--address {address!r} has no port: give HOST:PORT, {_EXAMPLE}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ConfigurationError(f"--address {address!r}: put an IPv6 address in brackets, {_EXAMPLE}")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ConfigurationError(
            f"--address {address!r}: port {port_text!r} is not a TCP port: give one from 1 to 65535"
        )
    return host or "127.0.0.1", int(port_text)


def listen(address: str) -> socket.socket:
    """A listening socket on ADDRESS (inheritable, for `--workers`)."""
    host, port = parse_address(address)
    try:
        family, kind, proto, _name, sockaddr = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise ConfigurationError(
            f"--address {address!r}: cannot resolve host {host!r} ({exc.strerror}): "
            "give an IP address or a known host name"
        ) from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart need not wait for TIME_WAIT
        sock.bind(sockaddr)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise ConfigurationError(f"--address {address}: {_bind_problem(exc, host, port)}") from None
    sock.set_inheritable(True)
    return sock


def _bind_problem(exc: OSError, host: str, port: int) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} is already in use on {host} (another server listens there): stop it or choose another port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine: give one of its addresses, or 0.0.0.0 for all"
    if exc.errno == errno.EACCES:
        return (
            f"not allowed to listen on port {port} (ports below 1024 need root or CAP_NET_BIND_SERVICE): "
            "choose a port from 1024 up"
        )
    return f"cannot listen there: {exc.strerror or exc}"

"""`serve`'s settings, all checked before the data dir is touched or the port taken."""

from __future__ import annotations

from api.http.connection_limits import DEFAULT_MAX_CONNECTIONS, ConnectionLimits
from cli.database_probe import probe_database
from cli.fd_limit import fit_descriptor_limit
from cli.listen_address import parse_address
from cli.secrets import parse_master_key
from cli.settings import ChronicleSettings


def serve_settings(address: str, settings: ChronicleSettings) -> ConnectionLimits:
    """Raise ConfigurationError for the first wrong setting; returns the connection limits
    (with the descriptors they need made available)."""
    parse_address(address)
    if settings.master_key:
        parse_master_key(settings.master_key)
    limits = ConnectionLimits(
        max_connections=settings.max_connections or DEFAULT_MAX_CONNECTIONS,
        header_timeout=settings.header_timeout,
        idle_timeout=settings.idle_timeout,
        max_connections_chosen=settings.max_connections_chosen,
    )
    if settings.database_url:
        probe_database(settings.database_url)
    return fit_descriptor_limit(limits)

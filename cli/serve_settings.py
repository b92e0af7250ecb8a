"""`serve`'s settings, all checked before the data dir is touched or the port taken."""

from __future__ import annotations

import os

from api.http.connection_limits import ConnectionLimits
from cli.config_errors import ConfigurationError
from cli.database_probe import probe_database
from cli.fd_limit import fit_descriptor_limit
from cli.listen_address import parse_address
from cli.secrets import parse_master_key


def serve_settings(address: str, database_url: str | None) -> ConnectionLimits:
    """Raise ConfigurationError for the first wrong setting; returns the connection limits
    (with the descriptors they need made available)."""
    parse_address(address)
    key = os.environ.get("CHRONICLE_MASTER_KEY")
    if key:
        parse_master_key(key)
    try:
        limits = ConnectionLimits.from_env(os.environ)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    if database_url:
        probe_database(database_url)
    return fit_descriptor_limit(limits)

"""The notification targets in effect on this node: the settings stored in the log (the
``notify_targets`` projection, set through the admin API / CLI or recorded from a node's
environment) overlaid key by key by this node's ``CHRONICLE_NOTIFY_*`` environment, which
wins, as MinIO's environment does.

For a delivery supervisor::

    from workers.targets.store import load_effective_configs, targets_generation

    gen = targets_generation(tx)                      # one indexed row: poll it (e.g. 1/s)
    configs = load_effective_configs(tx, sealer.unseal, notify_environ)
    for (subsystem, target_id), cfg in configs.items():
        name = target_name(subsystem, target_id)      # "notify_redis:1", a stable key
        target = make_target(subsystem, target_id, cfg)
    ...
    if targets_generation(tx) != gen: reload          # a target was set, changed or removed

- ``tx``: a ``projections.eventstore.tx.Tx``, or a DB-API cursor or connection of the event store
  (psycopg or sqlite3; the dialect is recognised).
- ``unseal(sealed, context) -> str``: ``api.auth.sealing.Sealer(master_key).unseal`` — stored
  secrets (passwords, tokens, DSNs, URLs, client keys) are sealed with the master key.
- ``load_effective_configs(..., enabled_only=True)`` leaves disabled targets out (what a
  supervisor wants); ``enabled_only=False`` keeps them (listings, ARNs of disabled ones).
  A target whose stored settings no longer validate (e.g. after an environment change) is
  logged, without its secrets, and left out rather than failing the others.
- ``target_name`` / ``parse_target_name``: ``("notify_redis", "1")`` ⇄ ``"notify_redis:1"``;
  the unnamed default target is ``"notify_redis:_"`` (``"notify_redis"`` parses to it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from domain.notify_target import target_name, unseal_settings
from projections.eventstore.sql import Dialect, PostgresDialect
from projections.eventstore.tx import Tx
from workers.targets.config import (
    DEFAULT_ID,
    ConfigError,
    TargetConfig,
    config_class,
    parse_config,
    secret_keys,
)
from workers.targets.environment import env_kvs

log = logging.getLogger("chronicle.targets")

Unseal = Callable[[str, str], str]

__all__ = [
    "effective_kvs",
    "load_effective_configs",
    "parse_target_name",
    "stored_settings",
    "target_name",
    "targets_generation",
]


def parse_target_name(name: str) -> tuple[str, str]:
    """``"notify_redis:1"`` → ``("notify_redis", "1")``; ``"notify_redis"`` → ``(..., "_")``."""
    subsystem, _, target_id = name.strip().partition(":")
    cls = config_class(subsystem)
    return cls.SUBSYSTEM, target_id or DEFAULT_ID


def _as_tx(conn_or_tx: Any) -> Tx:
    if isinstance(conn_or_tx, Tx):
        return conn_or_tx
    module = type(conn_or_tx).__module__
    dialect: Dialect = PostgresDialect() if module.startswith("psycopg") else Dialect()
    cursor = conn_or_tx.cursor() if hasattr(conn_or_tx, "commit") else conn_or_tx
    return Tx(cursor, dialect)


def targets_generation(conn_or_tx: Any) -> int:
    """The log position of the last target configuration change (0 if none): it changes
    whenever a target is set, changed or removed, through any node."""
    value = _as_tx(conn_or_tx).scalar("SELECT gen FROM notify_targets_generation WHERE id = 1")
    return int(value or 0)


def stored_settings(conn_or_tx: Any, unseal: Unseal) -> dict[tuple[str, str], dict[str, str]]:
    """The settings recorded in the log, secrets unsealed, by (subsystem, target id)."""
    rows = _as_tx(conn_or_tx).all(
        "SELECT subsystem, target_id, settings FROM notify_targets ORDER BY subsystem, target_id"
    )
    out: dict[tuple[str, str], dict[str, str]] = {}
    for row in rows:
        sub, tid = row["subsystem"], row["target_id"]
        sealed = orjson.loads(row["settings"])
        try:
            out[(sub, tid)] = unseal_settings(sub, tid, sealed, secret_keys(sub), unseal)
        except (ValueError, ConfigError) as exc:
            log.error(
                "notification target %s: cannot read its stored settings: %s",
                target_name(sub, tid),
                exc,
            )
    return out


def effective_kvs(
    stored: Mapping[tuple[str, str], Mapping[str, str]], environ: Mapping[str, str]
) -> dict[tuple[str, str], dict[str, str]]:
    """Stored settings overlaid key by key by the environment's. A target only the
    environment names counts when it has its ``..._ENABLE[_ID]`` variable (as MinIO)."""
    env = env_kvs(environ)
    out = {key: dict(kvs) for key, kvs in stored.items()}
    for key, kvs in env.items():
        if key in out:
            out[key].update(kvs)
        elif "enable" in kvs:
            out[key] = dict(kvs)
    return out


def load_effective_configs(
    conn_or_tx: Any,
    unseal: Unseal,
    env: Mapping[str, str],
    *,
    enabled_only: bool = True,
) -> dict[tuple[str, str], TargetConfig]:
    """The validated configuration of every target in effect on this node, by
    (subsystem, target id). See the module docstring."""
    out: dict[tuple[str, str], TargetConfig] = {}
    for (sub, tid), kvs in sorted(effective_kvs(stored_settings(conn_or_tx, unseal), env).items()):
        try:
            cfg = parse_config(sub, kvs)
        except ConfigError as exc:  # the message names keys and masks passwords
            log.error("notification target %s is not usable: %s", target_name(sub, tid), exc)
            continue
        if cfg.enable or not enabled_only:
            out[(sub, tid)] = cfg
    return out

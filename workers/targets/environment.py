"""Notification targets set in the environment, named as MinIO's ``MINIO_NOTIFY_*`` are:
``CHRONICLE_NOTIFY_REDIS_ENABLE_1=on``, ``CHRONICLE_NOTIFY_REDIS_ADDRESS_1=...`` (no suffix =
the default target id ``_``). The composition root hands in its one snapshot of the
environment (``cli.settings``); nothing here reads it."""

from __future__ import annotations

import re
from collections.abc import Mapping

from workers.targets.config import (
    CONFIG_CLASSES,
    DEFAULT_ID,
    UNSUPPORTED,
    TargetConfig,
    config_class,
    parse_config,
    public_fields,
)
from workers.targets.values import ConfigError, parse_bool_lenient

# Environment spellings that differ from the key (MinIO's MINIO_NOTIFY_AMQP_PUBLISHING_CONFIRMS).
_ENV_ALIASES = {"notify_amqp": {"PUBLISHING_CONFIRMS": "publisher_confirms"}}


def _env_key_names(cls: type[TargetConfig]) -> list[tuple[str, str]]:
    names = [(f.name.upper(), f.name) for f in public_fields(cls)]
    names += list(_ENV_ALIASES.get(cls.SUBSYSTEM, {}).items())
    return sorted(names, key=lambda n: -len(n[0]))  # longest first: EXCHANGE_TYPE before EXCHANGE


_TARGET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def env_kvs(environ: Mapping[str, str], prefix: str = "CHRONICLE_NOTIFY_") -> dict[tuple[str, str], dict[str, str]]:
    """Raw settings per (subsystem, target id) found in the environment, only the keys that
    are set. ``CHRONICLE_NOTIFY_REDIS_ADDRESS`` is target ``_``; ``..._ADDRESS_1`` target ``1``.
    A variable that names a supported target but no known key is an error."""
    out: dict[tuple[str, str], dict[str, str]] = {}
    for name, value in environ.items():
        if not name.startswith(prefix):
            continue
        rest = name[len(prefix) :]
        for bare in UNSUPPORTED:
            if rest.startswith(bare.upper() + "_ENABLE") and parse_bool_lenient(value):
                raise ConfigError(f"{name}: notify_{bare} is not supported by Chronicle")
        for cls in CONFIG_CLASSES.values():
            head = cls.ENV + "_"
            if not rest.startswith(head):
                continue
            tail = rest[len(head) :]
            for env_key, key in _env_key_names(cls):
                if tail == env_key:
                    target_id = DEFAULT_ID
                elif tail.startswith(env_key + "_") and len(tail) > len(env_key) + 1:
                    target_id = tail[len(env_key) + 1 :]
                else:
                    continue
                if target_id != DEFAULT_ID and not _TARGET_ID.match(target_id):
                    raise ConfigError(f"{name}: invalid target id {target_id!r}")
                out.setdefault((cls.SUBSYSTEM, target_id), {})[key] = value
                break
            else:
                keys = ", ".join(n for n, _ in reversed(_env_key_names(cls)))
                raise ConfigError(
                    f"{name}: unknown setting for {cls.SUBSYSTEM}; expected "
                    f"{prefix}{cls.ENV}_<KEY>[_<ID>] with KEY one of {keys}"
                )
            break
    return out


def http_pipeline(environ: Mapping[str, str]) -> int | None:
    """``CHRONICLE_NOTIFY_HTTP_PIPELINE``: webhook requests in flight on one connection for
    every webhook target (1 turns HTTP pipelining off); None when unset."""
    raw = environ.get("CHRONICLE_NOTIFY_HTTP_PIPELINE", "").strip()
    if not raw:
        return None
    try:
        depth = int(raw)
    except ValueError:
        depth = 0
    if depth < 1:
        raise ConfigError(
            f"CHRONICLE_NOTIFY_HTTP_PIPELINE must be a whole number of at least 1 (1 turns pipelining off), not {raw!r}"
        )
    return depth


def from_env(environ: Mapping[str, str], prefix: str = "CHRONICLE_NOTIFY_") -> dict[tuple[str, str], TargetConfig]:
    """Targets configured entirely in the environment: every (subsystem, id) that has an
    ``ENABLE`` variable, parsed and validated (disabled ones come back with enable=False,
    since environment settings win over stored ones). To overlay the environment on
    stored settings key by key, as MinIO does, use ``parse_config(sub, {**stored, **env})``
    with ``env_kvs``."""
    out: dict[tuple[str, str], TargetConfig] = {}
    for (sub, target_id), kvs in env_kvs(environ, prefix).items():
        if "enable" not in kvs:
            continue
        cls = CONFIG_CLASSES[sub]
        suffix = "" if target_id == DEFAULT_ID else "_" + target_id
        try:
            out[(sub, target_id)] = parse_config(sub, kvs)
        except ConfigError as e:
            raise ConfigError(f"{e} (from {prefix}{cls.ENV}_*{suffix})") from None
    return out


def env_var_names(subsystem: str, target_id: str, prefix: str = "CHRONICLE_NOTIFY_") -> dict[str, list[str]]:
    """Each key's environment variable name(s) for one target (aliases included)."""
    cls = config_class(subsystem)
    suffix = "" if target_id == DEFAULT_ID else "_" + target_id
    out: dict[str, list[str]] = {}
    for env_key, key in _env_key_names(cls):
        out.setdefault(key, []).append(f"{prefix}{cls.ENV}_{env_key}{suffix}")
    return out

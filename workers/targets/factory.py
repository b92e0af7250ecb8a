"""Building the Target of one configured notification target."""

from __future__ import annotations

from collections.abc import Mapping

from workers.targets.base import Target
from workers.targets.config import (
    AMQPConfig,
    ConfigError,
    MySQLConfig,
    PostgresConfig,
    RedisConfig,
    TargetConfig,
    WebhookConfig,
    config_class,
    is_notification_target,
    parse_config,
)


def make_target(subsystem: str, target_id: str, cfg: TargetConfig | Mapping[str, str]) -> Target:
    """Build the Target for one configured target (a config or raw key=value settings)."""
    cls = config_class(subsystem)
    if not is_notification_target(cls.SUBSYSTEM):
        raise ConfigError(
            f"{cls.SUBSYSTEM} receives the request audit, not events: it is delivered by its own worker "
            "(workers.audit_delivery), and history is re-sent with `chronicle audit export`"
        )
    if not isinstance(cfg, TargetConfig):
        cfg = parse_config(cls.SUBSYSTEM, cfg)
    elif not isinstance(cfg, cls):
        raise ConfigError(f"{cls.SUBSYSTEM}: got a {type(cfg).__name__}")
    else:
        cfg.validate()
    # Each kind's module is imported when a target of that kind is first built: its client
    # library (redis, psycopg, pymysql, pika, aiohttp) is an optional cost for the others.
    if isinstance(cfg, RedisConfig):
        from workers.targets.redis import RedisTarget  # noqa: PLC0415 - optional dependency: redis

        return RedisTarget(target_id, cfg)
    if isinstance(cfg, PostgresConfig):
        from workers.targets.postgres import PostgresTarget  # noqa: PLC0415 - optional dependency: psycopg

        return PostgresTarget(target_id, cfg)
    if isinstance(cfg, MySQLConfig):
        from workers.targets.mysql import MySQLTarget  # noqa: PLC0415 - optional dependency: pymysql

        return MySQLTarget(target_id, cfg)
    if isinstance(cfg, AMQPConfig):
        from workers.targets.amqp import AMQPTarget  # noqa: PLC0415 - optional dependency: pika

        return AMQPTarget(target_id, cfg)
    assert isinstance(cfg, WebhookConfig)
    from workers.targets.webhook import WebhookTarget  # noqa: PLC0415 - optional dependency: aiohttp

    return WebhookTarget(target_id, cfg)

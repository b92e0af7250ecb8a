"""Notification targets: Redis, PostgreSQL, MySQL, AMQP and webhooks, as MinIO feeds them
(and the settings of ``audit_webhook``, configured the same way; workers.audit_delivery sends it).

Each target takes an ordered batch of already-serialised records (``Delivery``) and
returns only once the target confirmed all of them, else raises ``TargetError``::

    target = make_target("notify_redis", "1", {"address": "127.0.0.1:6379", "key": "events"})
    await target.open()
    await target.deliver(batch)
    await target.close()

Client libraries are imported only when their target is built.
"""

from workers.targets.base import Delivery, Target, TargetError, arn, event_log_body
from workers.targets.config import (
    ALL_CONFIG_CLASSES,
    CONFIG_CLASSES,
    AMQPConfig,
    AuditWebhookConfig,
    ConfigError,
    MySQLConfig,
    PostgresConfig,
    RedisConfig,
    TargetConfig,
    WebhookConfig,
    config_class,
    is_notification_target,
    listing_kvs,
    parse_config,
    redacted,
    secret_keys,
    to_kvs,
    valid_keys,
)
from workers.targets.config_help import all_help, subsystem_help
from workers.targets.environment import env_kvs, env_var_names, from_env
from workers.targets.factory import make_target

__all__ = [
    "ALL_CONFIG_CLASSES",
    "CONFIG_CLASSES",
    "AMQPConfig",
    "AuditWebhookConfig",
    "ConfigError",
    "Delivery",
    "MySQLConfig",
    "PostgresConfig",
    "RedisConfig",
    "Target",
    "TargetConfig",
    "TargetError",
    "WebhookConfig",
    "all_help",
    "arn",
    "config_class",
    "env_kvs",
    "env_var_names",
    "event_log_body",
    "from_env",
    "is_notification_target",
    "listing_kvs",
    "make_target",
    "parse_config",
    "redacted",
    "secret_keys",
    "subsystem_help",
    "to_kvs",
    "valid_keys",
]

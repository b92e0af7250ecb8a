"""Help for the notification targets' (and ``audit_webhook``'s) config keys, in madmin's ``Help`` shape.

``mc admin config set ALIAS notify_redis`` with no keys asks the server
(``help-config-kv``) which keys exist and what they mean; so does
``chronicle admin config help``. The key list comes from the config dataclasses,
so a key added there shows up here; only the sentences live in this module.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from workers.targets.config import (
    ALL_CONFIG_CLASSES,
    ConfigError,
    TargetConfig,
    config_class,
    public_fields,
)

SUBSYSTEM_HELP = {
    "notify_redis": "publish bucket notifications to Redis datastores",
    "notify_postgres": "publish bucket notifications to Postgres databases",
    "notify_mysql": "publish bucket notifications to MySQL databases",
    "notify_amqp": "publish bucket notifications to AMQP endpoints",
    "notify_webhook": "publish bucket notifications to webhook endpoints",
    "audit_webhook": "send audit logs to webhook endpoints",
}

_COMMON = {
    "enable": "enable or disable this target (on|off)",
    "queue_dir": "accepted for MinIO compatibility and unused: Chronicle delivers from its event log, "
    "so nothing is spooled and nothing is dropped",
    "queue_limit": "accepted for MinIO compatibility and unused (see queue_dir)",
    "comment": "optionally add a comment to this setting",
    "key_encoding": "how s3.object.key is written: 'minio' (URL query escaping, '/' as %2F) or 'aws' (keeps '/')",
    "format": "'namespace' (one entry per object, the latest event) or 'access' (every event, append-only)",
    "table": "table to store events in, created if absent, e.g. 'bucketevents'",
    "max_open_connections": "accepted for MinIO compatibility; Chronicle uses one connection per target",
}

_KEYS = {
    "notify_redis": {
        "address": "Redis server's address, e.g. '127.0.0.1:6379'",
        "key": "Redis key to store/update events in, e.g. 'bucketevents'",
        "password": "Redis server password",
        "user": "Redis server user for the auth (Redis 6 ACLs)",
    },
    "notify_postgres": {
        "connection_string": "Postgres server connection string, e.g. "
        "'host=localhost port=5432 dbname=minio_events user=postgres password=secret sslmode=disable'",
    },
    "notify_mysql": {
        "dsn_string": "MySQL data source name (DSN), e.g. 'user:password@tcp(host:3306)/database'",
    },
    "notify_amqp": {
        "url": "AMQP server endpoint, e.g. 'amqp://guest:guest@localhost:5672'",
        "exchange": "name of the AMQP exchange",
        "exchange_type": "AMQP exchange type: direct, fanout, topic or headers",
        "routing_key": "routing key for publishing",
        "mandatory": "accepted; Chronicle always publishes mandatory and retries a returned message",
        "durable": "persist the exchange across broker restarts (needed to lose nothing)",
        "delivery_mode": "1 transient, 2 persistent (needed to lose nothing), 0 the broker's default",
        "publisher_confirms": "accepted; Chronicle always waits for the broker's confirms",
        "internal": "declare the exchange internal (used by other exchanges only)",
        "auto_deleted": "delete the exchange when no queue is bound",
        "no_wait": "declare without waiting for the broker's reply",
        "immediate": "accepted and ignored (RabbitMQ refuses it)",
    },
    "notify_webhook": {
        "endpoint": "webhook server endpoint, e.g. 'http://localhost:8080/minio/events'",
        "auth_token": "opaque string or JWT authorization token, sent as 'Bearer <token>' "
        "(a two-word value is sent as it is)",
        "client_cert": "client certificate (PEM file path) for mutual TLS",
        "client_key": "client certificate's key (PEM file path) for mutual TLS",
    },
    # MinIO's HelpWebhook (internal/logger/help.go), with what Chronicle does differently.
    "audit_webhook": {
        "endpoint": "HTTP(s) endpoint e.g. 'http://localhost:8080/minio/logs/audit'",
        "auth_token": "opaque string or JWT authorization token, sent as the Authorization header as it is",
        "client_cert": "mTLS certificate for webhook authentication (PEM file path)",
        "client_key": "mTLS certificate key for webhook authentication (PEM file path)",
        "batch_size": "number of audit entries per HTTP request (more than 1: newline-delimited JSON)",
        "queue_size": "accepted for MinIO compatibility: undelivered entries wait in the request audit table, "
        "however many, and none is dropped",
        "queue_dir": "accepted for MinIO compatibility and unused: the request audit table is the queue",
        "max_retry": "attempts before a failing batch is given up (0, the default: retry until delivered)",
        "retry_interval": "longest wait between retries, at most '1m' e.g. '10s' (the first waits are shorter)",
        "http_timeout": "the longest one HTTP request may take, at least '1s' e.g. '5s'",
    },
}


_DURATIONS = ("retry_interval", "http_timeout")


def _type_of(f: dataclasses.Field) -> str:
    if f.metadata.get("secret"):
        return "string"
    if f.name in _DURATIONS:
        return "duration"
    return {"bool": "on|off", "int": "number"}.get(str(f.type), "string")


def _key_help(cls: type[TargetConfig], f: dataclasses.Field) -> dict[str, Any]:
    text = _KEYS[cls.SUBSYSTEM].get(f.name) or _COMMON.get(f.name, "")
    return {
        "key": f.name,
        "description": text,
        "optional": f.name not in cls.REQUIRED,
        "type": _type_of(f),
        "multipleTargets": False,
    }


def subsystem_help(subsystem: str, key: str = "") -> dict[str, Any]:
    """madmin ``Help`` for one sub-system (``notify_redis``), or for one of its keys."""
    cls = config_class(subsystem)
    fields = public_fields(cls)
    keys = [_key_help(cls, f) for f in fields]
    if key:
        keys = [k for k in keys if k["key"] == key]
        if not keys:
            names = ", ".join(f.name for f in fields)
            raise ConfigError(f"{cls.SUBSYSTEM} has no key {key!r}; its keys: {names}")
    return {
        "subSys": cls.SUBSYSTEM,
        "description": SUBSYSTEM_HELP[cls.SUBSYSTEM],
        "multipleTargets": True,
        "keysHelp": keys,
    }


def all_help() -> dict[str, Any]:
    """madmin ``Help`` listing the sub-systems (``subSys`` empty), as MinIO answers then."""
    return {
        "subSys": "",
        "description": "",
        "multipleTargets": False,
        "keysHelp": [
            {
                "key": name,
                "description": SUBSYSTEM_HELP[name],
                "optional": True,
                "type": "",
                "multipleTargets": True,
            }
            for name in ALL_CONFIG_CLASSES
        ],
    }

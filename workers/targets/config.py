"""MinIO's per-target notification settings (``notify_redis``, ``notify_postgres``,
``notify_mysql``, ``notify_amqp``, ``notify_webhook``) as dataclasses.

- ``parse_config(subsystem, kvs)`` turns MinIO's key=value strings into a config and
  validates it; errors are ``ConfigError`` and say what to fix.
- ``to_kvs(config)`` goes back to strings; ``redacted(config)`` is the same with every
  secret masked (passwords, tokens, client keys, and the password inside DSNs,
  connection strings and AMQP URLs), for listings and logs. ``secret_keys(subsystem)``
  names the keys to seal before they are stored.
- ``listing_kvs(config)`` is what get-config-kv lists (MinIO's order, secrets left out).
- Values (on/off, host:port, DSNs, table names): ``workers.targets.values``; settings in
  the environment: ``workers.targets.environment``; building a Target:
  ``workers.targets.factory``.
- Stored (event-sourced) settings overlaid by the environment: ``workers.targets.store``.

``queue_dir``, ``queue_limit``, ``max_open_connections`` and ``comment`` are accepted
for compatibility and otherwise ignored: the log is the outbox, nothing is spooled.
"""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from workers.targets.values import (
    ConfigError,
    go_duration_seconds,
    parse_bool,
    parse_int,
    parse_mysql_dsn,
    split_host_port,
    validate_mysql_table,
    validate_postgres_table,
)

REDACTED = "*redacted*"
DEFAULT_ID = "_"

FORMATS = ("namespace", "access")
KEY_ENCODINGS = ("minio", "aws")


# -- secret markers --------------------------------------------------------------------


def _redact_whole(value: str) -> str:
    return REDACTED if value else value


def _redact_url_password(value: str) -> str:
    """``amqp://user:pass@host`` → ``amqp://user:*redacted*@host``."""
    try:
        parts = urllib.parse.urlsplit(value)
    except ValueError:
        return _redact_whole(value)
    if parts.password is None:
        return value
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:{REDACTED}@{host}"))


_CONNINFO_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)")


def _redact_conninfo(value: str) -> str:
    """lib/pq ``key=value`` (or URL) connection string with its password masked."""
    if "://" in value:
        return _redact_url_password(value)
    return _CONNINFO_PASSWORD.sub(lambda m: m.group(1) + REDACTED, value)


def _redact_mysql_dsn(value: str) -> str:
    """``user:pass@tcp(host:port)/db`` → ``user:*redacted*@tcp(host:port)/db``."""
    slash = value.rfind("/")
    head = value if slash < 0 else value[:slash]
    at = head.rfind("@")
    if at < 0:
        return value
    user, sep, _pw = head[:at].partition(":")
    if not sep:
        return value
    return user + ":" + REDACTED + value[at:]


def secret(redact: Callable[[str], str] = _redact_whole, **kw: Any) -> Any:
    """A dataclass field holding a secret (sealed at rest, redacted in listings)."""
    return field(metadata={"secret": True, "redact": redact}, **kw)


# -- dataclasses ------------------------------------------------------------------------


@dataclass
class TargetConfig:
    SUBSYSTEM: ClassVar[str] = ""  # "notify_redis"
    TYPE: ClassVar[str] = ""  # ARN type, "redis"
    ENV: ClassVar[str] = ""  # environment name, "REDIS"
    REQUIRED: ClassVar[tuple[str, ...]] = ()
    EXAMPLES: ClassVar[dict[str, str]] = {}
    ORDER: ClassVar[tuple[str, ...]] = ()  # MinIO's order of the keys, when it differs from the fields'

    enable: bool = True
    queue_dir: str = ""  # accepted, ignored: the log is the outbox
    queue_limit: int = 0  # accepted, ignored
    comment: str = ""
    # Chronicle's own: how s3.object.key is written. "minio" (url.QueryEscape, "/" as %2F,
    # MinIO's default) or "aws" ("/" kept, as AWS writes keys).
    key_encoding: str = "minio"

    def validate(self) -> None:
        if self.key_encoding not in KEY_ENCODINGS:
            raise ConfigError(
                f"{self.SUBSYSTEM}: key_encoding must be 'minio' (MinIO's escaping) or 'aws' "
                f"(keeps '/'), not {self.key_encoding!r}"
            )
        if not self.enable:
            return
        for name in self.REQUIRED:
            if not getattr(self, name):
                example = self.EXAMPLES.get(name)
                hint = f", e.g. {name}={example}" if example else ""
                raise ConfigError(f"{self.SUBSYSTEM}: '{name}' is required{hint}")
        if self.queue_dir and not self.queue_dir.startswith("/"):
            raise ConfigError(
                f"{self.SUBSYSTEM}: queue_dir must be an absolute path (it is accepted for "
                "MinIO compatibility and not used: Chronicle delivers from its log)"
            )


def _check_format(cfg: TargetConfig) -> None:
    fmt = getattr(cfg, "format", "")
    if fmt not in FORMATS:
        raise ConfigError(f"{cfg.SUBSYSTEM}: format must be 'namespace' or 'access', not {fmt!r}")


@dataclass
class RedisConfig(TargetConfig):
    SUBSYSTEM = "notify_redis"
    TYPE = "redis"
    ENV = "REDIS"
    REQUIRED = ("address", "key")
    EXAMPLES = {"address": "127.0.0.1:6379", "key": "bucketevents"}

    address: str = ""
    key: str = ""
    format: str = "namespace"
    password: str = secret(default="")
    user: str = ""

    def validate(self) -> None:
        super().validate()
        _check_format(self)
        if self.enable:
            split_host_port(self.address, 6379, what=f"{self.SUBSYSTEM}: address")


@dataclass
class PostgresConfig(TargetConfig):
    SUBSYSTEM = "notify_postgres"
    TYPE = "postgresql"
    ENV = "POSTGRES"
    REQUIRED = ("connection_string", "table")
    EXAMPLES = {
        "connection_string": "'host=127.0.0.1 port=5432 dbname=minio_events user=postgres "
        "password=secret sslmode=disable'",
        "table": "bucketevents",
    }

    connection_string: str = secret(_redact_conninfo, default="")
    table: str = ""
    format: str = "namespace"
    max_open_connections: int = 2  # accepted, ignored (one connection per target)

    def validate(self) -> None:
        super().validate()
        _check_format(self)
        if self.enable:
            validate_postgres_table(self.table)


@dataclass
class MySQLConfig(TargetConfig):
    SUBSYSTEM = "notify_mysql"
    TYPE = "mysql"
    ENV = "MYSQL"
    REQUIRED = ("dsn_string", "table")
    EXAMPLES = {
        "dsn_string": "'user:password@tcp(127.0.0.1:3306)/miniodb'",
        "table": "bucketevents",
    }

    dsn_string: str = secret(_redact_mysql_dsn, default="")
    table: str = ""
    format: str = "namespace"
    max_open_connections: int = 2  # accepted, ignored

    def validate(self) -> None:
        super().validate()
        _check_format(self)
        if self.enable:
            validate_mysql_table(self.table)
            parse_mysql_dsn(self.dsn_string)


@dataclass
class AMQPConfig(TargetConfig):
    SUBSYSTEM = "notify_amqp"
    TYPE = "amqp"
    ENV = "AMQP"
    REQUIRED = ("url",)
    EXAMPLES = {"url": "amqp://guest:guest@127.0.0.1:5672"}

    url: str = secret(_redact_url_password, default="")
    exchange: str = ""
    exchange_type: str = ""
    routing_key: str = ""
    mandatory: bool = False  # Chronicle always publishes mandatory (a return is a failure)
    durable: bool = False
    delivery_mode: int = 0  # 0 = broker default, 1 = transient, 2 = persistent
    publisher_confirms: bool = False  # Chronicle always waits for confirms
    internal: bool = False
    auto_deleted: bool = False
    no_wait: bool = False
    immediate: bool = False  # in MinIO's code; RabbitMQ refuses it, so it is ignored

    def validate(self) -> None:
        super().validate()
        if self.delivery_mode not in (0, 1, 2):
            raise ConfigError(
                f"{self.SUBSYSTEM}: delivery_mode must be 0 (broker default), 1 (transient) "
                f"or 2 (persistent), not {self.delivery_mode}"
            )
        if self.enable:
            parts = urllib.parse.urlsplit(self.url)
            if parts.scheme not in ("amqp", "amqps") or not parts.hostname:
                raise ConfigError(
                    f"{self.SUBSYSTEM}: url must look like amqp://user:password@host:5672 "
                    f"(or amqps://), not {_redact_url_password(self.url)!r}"
                )
            if self.exchange and not self.exchange_type:
                raise ConfigError(
                    f"{self.SUBSYSTEM}: exchange '{self.exchange}' needs an exchange_type "
                    "(direct, fanout, topic or headers)"
                )


@dataclass
class WebhookConfig(TargetConfig):
    SUBSYSTEM = "notify_webhook"
    TYPE = "webhook"
    ENV = "WEBHOOK"
    REQUIRED = ("endpoint",)
    EXAMPLES = {"endpoint": "http://127.0.0.1:8080/minio/events"}

    endpoint: str = ""
    auth_token: str = secret(default="")
    client_cert: str = ""
    client_key: str = secret(default="")
    # Chronicle extension, not a MinIO key: requests in flight at once. 1 (the default)
    # keeps arrival order; more is faster but the receiver may see records reordered.
    window: int = field(default=1, metadata={"internal": True})
    # Requests in flight on the one ordered connection once the receiver answered
    # keep-alive (workers/targets/http_pipeline.py); 1 turns pipelining off. Set for every
    # webhook target by CHRONICLE_NOTIFY_HTTP_PIPELINE.
    pipeline: int = field(default=32, metadata={"internal": True})

    def validate(self) -> None:
        super().validate()
        if not self.enable:
            return
        parts = urllib.parse.urlsplit(self.endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"{self.SUBSYSTEM}: endpoint must be an http:// or https:// URL with a host, not {self.endpoint!r}"
            )
        if bool(self.client_cert) != bool(self.client_key):
            raise ConfigError(
                f"{self.SUBSYSTEM}: client_cert and client_key must be set together "
                "(both PEM file paths) for mutual TLS"
            )
        if self.window < 1:
            raise ConfigError(f"{self.SUBSYSTEM}: window must be at least 1")
        if self.pipeline < 1:
            raise ConfigError(f"{self.SUBSYSTEM}: pipeline must be at least 1")


@dataclass
class AuditWebhookConfig(TargetConfig):
    """MinIO's ``audit_webhook`` (internal/logger/config.go: lookupAuditWebhookConfig): where
    the request audit goes. Not a notification target: it has no ARN and receives the
    ``request_audit`` table's entries (workers.audit_delivery), not events. Its keys and
    defaults are MinIO's DefaultAuditWebhookKVS; ``queue_limit`` and ``key_encoding``
    (notification keys) are not among them."""

    SUBSYSTEM = "audit_webhook"
    TYPE = ""  # no ARN: bucket rules cannot name it
    ENV = ""  # not read from the environment
    REQUIRED = ("endpoint",)
    EXAMPLES = {"endpoint": "http://127.0.0.1:8080/minio/logs/audit"}
    ORDER = (
        "enable", "endpoint", "auth_token", "client_cert", "client_key", "batch_size", "queue_size",
        "queue_dir", "max_retry", "retry_interval", "http_timeout", "comment",
    )  # fmt: skip

    queue_limit: int = field(default=0, metadata={"internal": True})
    key_encoding: str = field(default="minio", metadata={"internal": True})
    endpoint: str = ""
    auth_token: str = secret(default="")
    client_cert: str = ""
    client_key: str = ""
    batch_size: int = 1
    queue_size: int = 100000
    max_retry: int = 0
    retry_interval: str = "3s"
    http_timeout: str = "5s"

    def validate(self) -> None:
        super().validate()
        # MinIO's checks, in its words where it has some (lookupAuditWebhookConfig).
        if self.batch_size <= 0:
            raise ConfigError(f"{self.SUBSYSTEM}: invalid batch_size value {self.batch_size}: use 1 or more")
        if self.queue_size <= 0:
            raise ConfigError(f"{self.SUBSYSTEM}: invalid queue_size value {self.queue_size}: use 1 or more")
        if self.max_retry < 0:
            raise ConfigError(f"{self.SUBSYSTEM}: invalid {self.max_retry} max_retry: use 0 (retry forever) or more")
        if self.retry_seconds > 60:
            raise ConfigError(
                f"{self.SUBSYSTEM}: maximum allowed value for retry_interval is '1m': {self.retry_interval}"
            )
        if self.timeout_seconds < 1:
            raise ConfigError(f"{self.SUBSYSTEM}: minimum value allowed for http_timeout is '1s': {self.http_timeout}")
        if not self.enable:
            return
        parts = urllib.parse.urlsplit(self.endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"{self.SUBSYSTEM}: endpoint must be an http:// or https:// URL with a host, not {self.endpoint!r}"
            )
        if bool(self.client_cert) != bool(self.client_key):
            raise ConfigError(
                f"{self.SUBSYSTEM}: client_cert and client_key must be set together "
                "(both PEM file paths) for mutual TLS"
            )

    @property
    def retry_seconds(self) -> float:
        return go_duration_seconds(self.retry_interval, f"{self.SUBSYSTEM}: retry_interval")

    @property
    def timeout_seconds(self) -> float:
        return go_duration_seconds(self.http_timeout, f"{self.SUBSYSTEM}: http_timeout")


CONFIG_CLASSES: dict[str, type[TargetConfig]] = {
    c.SUBSYSTEM: c for c in (RedisConfig, PostgresConfig, MySQLConfig, AMQPConfig, WebhookConfig)
}
# Configured the same way (config set/get/del, sealed secrets) but not notification targets.
AUDIT_CONFIG_CLASSES: dict[str, type[TargetConfig]] = {AuditWebhookConfig.SUBSYSTEM: AuditWebhookConfig}
ALL_CONFIG_CLASSES: dict[str, type[TargetConfig]] = {**CONFIG_CLASSES, **AUDIT_CONFIG_CLASSES}
_BY_TYPE = {c.TYPE: c for c in CONFIG_CLASSES.values()}
UNSUPPORTED = ("kafka", "mqtt", "nats", "nsq", "elasticsearch")


def is_notification_target(subsystem: str) -> bool:
    """``notify_*`` sub-systems feed bucket notifications (they have ARNs); ``audit_webhook``
    is configured alongside them but receives the request audit."""
    return subsystem in CONFIG_CLASSES


def config_class(subsystem: str) -> type[TargetConfig]:
    """The config class for ``notify_redis`` (or ``redis``, ``postgresql``, ...) or ``audit_webhook``."""
    name = subsystem.strip().lower()
    cls = ALL_CONFIG_CLASSES.get(name) or CONFIG_CLASSES.get("notify_" + name) or _BY_TYPE.get(name)
    if cls is None:
        if name == "audit_kafka":
            raise ConfigError("audit_kafka is not supported by Chronicle; send the request audit to an audit_webhook")
        bare = name.removeprefix("notify_")
        if bare in UNSUPPORTED:
            raise ConfigError(
                f"notify_{bare} is not supported by Chronicle; supported targets: " + ", ".join(CONFIG_CLASSES)
            )
        kind = "notification subsystem" if name.startswith("notify_") else "sub-system"
        raise ConfigError(f"unknown {kind} {subsystem!r}; use one of " + ", ".join(ALL_CONFIG_CLASSES))
    return cls


def public_fields(cls: type[TargetConfig]) -> list[dataclasses.Field]:
    fields = [f for f in dataclasses.fields(cls) if not f.metadata.get("internal")]
    if cls.ORDER:
        return sorted(fields, key=lambda f: cls.ORDER.index(f.name))
    # MinIO's keys in MinIO's order; Chronicle's own (key_encoding) after them.
    return sorted(fields, key=lambda f: f.name == "key_encoding")


def valid_keys(subsystem: str) -> list[str]:
    return [f.name for f in public_fields(config_class(subsystem))]


def secret_keys(subsystem: str) -> list[str]:
    """Keys whose values are secrets: seal them before storing, redact them when shown."""
    return [f.name for f in dataclasses.fields(config_class(subsystem)) if f.metadata.get("secret")]


def parse_config(subsystem: str, kvs: Mapping[str, str]) -> TargetConfig:
    """MinIO ``key=value`` settings for one target → a validated config."""
    cls = config_class(subsystem)
    fields = {f.name: f for f in public_fields(cls)}
    values: dict[str, Any] = {}
    for raw_key, raw_value in kvs.items():
        key = raw_key.strip().lower()
        f = fields.get(key)
        if f is None:
            raise ConfigError(f"{cls.SUBSYSTEM}: unknown key {raw_key!r}; valid keys: " + ", ".join(fields))
        value = "" if raw_value is None else str(raw_value)
        what = f"{cls.SUBSYSTEM}: {key}"
        if f.type in (bool, "bool"):
            values[key] = parse_bool(value, what)
        elif f.type in (int, "int"):
            values[key] = parse_int(value, what)
        else:
            values[key] = value.strip() if key not in ("password", "auth_token") else value
    if "format" in values:
        values["format"] = values["format"].lower() or "namespace"
    cfg = cls(**values)
    cfg.validate()
    return cfg


def _to_str(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def to_kvs(cfg: TargetConfig) -> dict[str, str]:
    """The config as MinIO ``key=value`` strings (secrets included)."""
    return {f.name: _to_str(getattr(cfg, f.name)) for f in public_fields(type(cfg))}


def redacted(cfg: TargetConfig) -> dict[str, str]:
    """``to_kvs`` with every secret masked: safe for listings and logs."""
    out = {}
    for f in public_fields(type(cfg)):
        value = _to_str(getattr(cfg, f.name))
        if f.metadata.get("secret"):
            value = f.metadata["redact"](value)
        out[f.name] = value
    return out


_BASE_KEYS = ("queue_dir", "queue_limit", "comment")


def listing_kvs(cfg: TargetConfig) -> list[tuple[str, str]]:
    """The settings as MinIO's get-config-kv lists them: ``enable`` first, the target's own
    keys, then queue_dir, queue_limit and comment. A secret that is a whole value
    (password, auth_token, client_key) is left out when set, as MinIO leaves secrets out;
    a password inside a connection string, DSN or URL is masked."""
    fields = public_fields(type(cfg))
    ordered = fields
    if not type(cfg).ORDER:
        ordered = (
            [f for f in fields if f.name == "enable"]
            + [f for f in fields if f.name != "enable" and f.name not in _BASE_KEYS]
            + [f for f in fields if f.name in _BASE_KEYS]
        )
    out = []
    for f in ordered:
        value = _to_str(getattr(cfg, f.name))
        if f.metadata.get("secret") and value:
            if f.metadata["redact"] is _redact_whole:
                continue
            value = f.metadata["redact"](value)
        out.append((f.name, value))
    return out

"""MinIO's per-target notification settings (``notify_redis``, ``notify_postgres``,
``notify_mysql``, ``notify_amqp``, ``notify_webhook``) as dataclasses.

- ``parse_config(subsystem, kvs)`` turns MinIO's key=value strings into a config and
  validates it; errors are ``ConfigError`` and say what to fix.
- ``to_kvs(config)`` goes back to strings; ``redacted(config)`` is the same with every
  secret masked (passwords, tokens, client keys, and the password inside DSNs,
  connection strings and AMQP URLs), for listings and logs. ``secret_keys(subsystem)``
  names the keys to seal before they are stored.
- ``env_kvs`` / ``from_env`` read ``CHRONICLE_NOTIFY_REDIS_ENABLE_1=on``,
  ``CHRONICLE_NOTIFY_REDIS_ADDRESS_1=...`` (no suffix = the default target id ``_``),
  named as MinIO's ``MINIO_NOTIFY_*`` are.
- ``listing_kvs(config)`` is what get-config-kv lists (MinIO's order, secrets left out);
  ``env_var_names`` names a target's variables.
- ``make_target(subsystem, id, config)`` builds the Target.
- Stored (event-sourced) settings overlaid by the environment: ``workers.targets.store``.

``queue_dir``, ``queue_limit``, ``max_open_connections`` and ``comment`` are accepted
for compatibility and otherwise ignored: the log is the outbox, nothing is spooled.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

REDACTED = "*redacted*"
DEFAULT_ID = "_"

FORMATS = ("namespace", "access")
KEY_ENCODINGS = ("minio", "aws")


class ConfigError(ValueError):
    """A notification target setting is missing or malformed."""


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


CONFIG_CLASSES: dict[str, type[TargetConfig]] = {
    c.SUBSYSTEM: c for c in (RedisConfig, PostgresConfig, MySQLConfig, AMQPConfig, WebhookConfig)
}
_BY_TYPE = {c.TYPE: c for c in CONFIG_CLASSES.values()}
_UNSUPPORTED = ("kafka", "mqtt", "nats", "nsq", "elasticsearch")


def config_class(subsystem: str) -> type[TargetConfig]:
    """The config class for ``notify_redis`` (or ``redis``, ``postgresql``, ...)."""
    name = subsystem.strip().lower()
    cls = CONFIG_CLASSES.get(name) or CONFIG_CLASSES.get("notify_" + name) or _BY_TYPE.get(name)
    if cls is None:
        bare = name.removeprefix("notify_")
        if bare in _UNSUPPORTED:
            raise ConfigError(
                f"notify_{bare} is not supported by Chronicle; supported targets: " + ", ".join(CONFIG_CLASSES)
            )
        raise ConfigError(f"unknown notification subsystem {subsystem!r}; use one of " + ", ".join(CONFIG_CLASSES))
    return cls


def public_fields(cls: type[TargetConfig]) -> list[dataclasses.Field]:
    fields = [f for f in dataclasses.fields(cls) if not f.metadata.get("internal")]
    # MinIO's keys in MinIO's order; Chronicle's own (key_encoding) after them.
    return sorted(fields, key=lambda f: f.name == "key_encoding")


def valid_keys(subsystem: str) -> list[str]:
    return [f.name for f in public_fields(config_class(subsystem))]


def secret_keys(subsystem: str) -> list[str]:
    """Keys whose values are secrets: seal them before storing, redact them when shown."""
    return [f.name for f in dataclasses.fields(config_class(subsystem)) if f.metadata.get("secret")]


# -- values ---------------------------------------------------------------------------

_TRUE = {"on", "true", "yes", "1", "enable", "enabled", "t", "y"}
_FALSE = {"off", "false", "no", "0", "disable", "disabled", "f", "n", ""}


def parse_bool(value: str, what: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise ConfigError(f"{what} must be 'on' or 'off', not {value!r}")


def _parse_int(value: str, what: str) -> int:
    try:
        return int(value.strip() or "0")
    except ValueError:
        raise ConfigError(f"{what} must be a whole number, not {value!r}") from None


def split_host_port(address: str, default_port: int, *, what: str) -> tuple[str, int]:
    """``host:port``, ``host`` or ``[v6]:port`` → (host, port)."""
    a = address.strip()
    if not a:
        raise ConfigError(f"{what} is empty; use host:port, e.g. 127.0.0.1:{default_port}")
    if a.startswith("["):
        host, _, rest = a[1:].partition("]")
        port_s = rest[1:] if rest.startswith(":") else ""
        if rest and not rest.startswith(":"):
            raise ConfigError(f"{what} {address!r} is not host:port")
    elif a.count(":") == 1:
        host, port_s = a.split(":")
    elif ":" in a:  # bare IPv6
        host, port_s = a, ""
    else:
        host, port_s = a, ""
    if not host:
        raise ConfigError(f"{what} {address!r} has no host; use host:port")
    if not port_s:
        return host, default_port
    if not port_s.isdigit() or not 0 < int(port_s) < 65536:
        raise ConfigError(f"{what} {address!r} has an invalid port; use host:port")
    return host, int(port_s)


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
            values[key] = _parse_int(value, what)
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


def env_var_names(subsystem: str, target_id: str, prefix: str = "CHRONICLE_NOTIFY_") -> dict[str, list[str]]:
    """Each key's environment variable name(s) for one target (aliases included)."""
    cls = config_class(subsystem)
    suffix = "" if target_id == DEFAULT_ID else "_" + target_id
    out: dict[str, list[str]] = {}
    for env_key, key in _env_key_names(cls):
        out.setdefault(key, []).append(f"{prefix}{cls.ENV}_{env_key}{suffix}")
    return out


def validate_postgres_table(name: str) -> None:
    """As MinIO: a quoted identifier (no quote inside), or a letter/underscore followed by
    letters, digits, ``_`` or ``$``."""
    if re.fullmatch(r'"[^"]+"', name):
        return
    cleaned = []
    for ch in name:
        if ch in "_$":
            cleaned.append(ch)
        elif ch.isdigit():
            cleaned.append("0")
        elif unicodedata.category(ch).startswith("L"):
            cleaned.append("a")
        else:
            cleaned = None
            break
    if cleaned is None or not re.fullmatch(r"[a_][a0_$]*", "".join(cleaned)):
        raise ConfigError(
            f"notify_postgres: invalid PostgreSQL table {name!r}: use letters, digits, _ and $ "
            'starting with a letter or _, or a "quoted identifier"'
        )


@dataclass
class MySQLDSN:
    user: str = ""
    password: str = ""
    net: str = "tcp"  # tcp | unix
    host: str = "127.0.0.1"
    port: int = 3306
    unix_socket: str = ""
    database: str = ""
    params: dict[str, str] = field(default_factory=dict)


def go_duration_seconds(value: str, what: str) -> float:
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    total, pos = 0.0, 0
    for m in re.finditer(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", value):
        if m.start() != pos:
            break
        total += float(m.group(1)) * units[m.group(2)]
        pos = m.end()
    if pos != len(value) or not value:
        raise ConfigError(f"notify_mysql: dsn_string {what}={value!r} is not a Go duration like 5s")
    return total


def parse_mysql_dsn(dsn: str) -> MySQLDSN:
    """go-sql-driver DSN: ``[user[:password]@][net[(addr)]]/dbname[?param=value&...]``."""
    out = MySQLDSN()
    slash = dsn.rfind("/")
    if slash < 0:
        raise ConfigError(
            "notify_mysql: dsn_string must look like user:password@tcp(host:3306)/database "
            "(the /database part is missing)"
        )
    head, tail = dsn[:slash], dsn[slash + 1 :]
    dbname, _, query = tail.partition("?")
    out.database = urllib.parse.unquote(dbname)
    for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True):
        out.params[k] = v
    at = head.rfind("@")
    userinfo, netaddr = (head[:at], head[at + 1 :]) if at >= 0 else ("", head)
    out.user, _, out.password = userinfo.partition(":")
    if netaddr:
        m = re.fullmatch(r"([a-z0-9]+)(?:\((.*)\))?", netaddr)
        if not m:
            raise ConfigError(
                f"notify_mysql: dsn_string network part {netaddr!r} must be tcp(host:port) or unix(/path/to/socket)"
            )
        out.net, addr = m.group(1), m.group(2) or ""
        if out.net == "unix":
            out.unix_socket = addr or "/tmp/mysql.sock"
        elif out.net in ("tcp", "tcp4", "tcp6"):
            out.net = "tcp"
            if addr:
                out.host, out.port = split_host_port(addr, 3306, what="notify_mysql: dsn_string address")
        else:
            raise ConfigError(f"notify_mysql: dsn_string network {out.net!r} is not supported; use tcp or unix")
    for go_key in ("timeout", "readTimeout", "writeTimeout"):
        if go_key in out.params:
            go_duration_seconds(out.params[go_key], go_key)
    tls = out.params.get("tls", "false").lower()
    if tls not in ("true", "false", "1", "0", "skip-verify", "preferred"):
        raise ConfigError(f"notify_mysql: dsn_string tls={tls!r}: use true, false, skip-verify or preferred")
    return out


def validate_mysql_table(name: str) -> None:
    """A (database-qualified) table: each part plain letters/digits/_/$ or `backquoted`."""
    part = r"(?:[A-Za-z0-9_$\u0080-\uffff]+|`[^`]+`)"
    if not re.fullmatch(rf"{part}(?:\.{part})?", name):
        raise ConfigError(
            f"notify_mysql: invalid MySQL table {name!r}: use letters, digits, _ and $, or a `backquoted` name"
        )


# -- environment ----------------------------------------------------------------------

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
        for bare in _UNSUPPORTED:
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


def parse_bool_lenient(value: str) -> bool:
    return value.strip().lower() in _TRUE


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


# -- targets --------------------------------------------------------------------------


def make_target(subsystem: str, target_id: str, cfg: TargetConfig | Mapping[str, str]):
    """Build the Target for one configured target (a config or raw key=value settings)."""
    cls = config_class(subsystem)
    if not isinstance(cfg, TargetConfig):
        cfg = parse_config(cls.SUBSYSTEM, cfg)
    elif not isinstance(cfg, cls):
        raise ConfigError(f"{cls.SUBSYSTEM}: got a {type(cfg).__name__}")
    else:
        cfg.validate()
    if cls is RedisConfig:
        from workers.targets.redis import RedisTarget

        return RedisTarget(target_id, cfg)
    if cls is PostgresConfig:
        from workers.targets.postgres import PostgresTarget

        return PostgresTarget(target_id, cfg)
    if cls is MySQLConfig:
        from workers.targets.mysql import MySQLTarget

        return MySQLTarget(target_id, cfg)
    if cls is AMQPConfig:
        from workers.targets.amqp import AMQPTarget

        return AMQPTarget(target_id, cfg)
    from workers.targets.webhook import WebhookTarget

    return WebhookTarget(target_id, cfg)

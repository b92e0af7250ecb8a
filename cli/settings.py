"""Every `CHRONICLE_*` setting, read from the environment once at start-up.

`main()` takes one snapshot of the environment, parses it into `ChronicleSettings` and
hands that object to the command it runs; nothing else in the product reads the
environment. Each field names its variable, its default and one line of documentation;
the README's settings tables are checked against these fields by a test. Notification
targets (`CHRONICLE_NOTIFY_<TYPE>_<KEY>[_<ID>]`, named as MinIO's) are too many to be
fields: the target configuration code parses them from `notify_environ`, the part of the
same snapshot that starts with `CHRONICLE_NOTIFY_`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cli.config_errors import ConfigurationError

NOTIFY_PREFIX = "CHRONICLE_NOTIFY_"
DEFAULT_ADMIN_ENDPOINT = "http://127.0.0.1:9000"
DEFAULT_CLIENT_REGION = "us-east-1"
# The defaults the modules using them declare (a unit test keeps them equal); not imported
# from there so that every command, `chronicle --help` included, starts without loading them.
SIGN_EVERY_EVENTS = 10_000  # projections.chain.linker
SIGN_EVERY_SECONDS = 60.0  # projections.chain.linker
BACKOFF_MAX = 30.0  # workers.delivery


def _text(name: str, text: str, default: Any) -> str:
    return text


def _optional_text(name: str, text: str, default: Any) -> str | None:
    return text or None


def _number(kind: type, what: str) -> Callable[[str, str, Any], Any]:
    def parse(name: str, text: str, default: Any) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not value > 0 or value == float("inf"):
            raise ConfigurationError(f"{name}={text!r}: give {what} greater than 0 (default {default:g})")
        return value

    return parse


_seconds = _number(float, "a number of seconds")
_count = _number(int, "a whole number")


def _seconds_or_zero(name: str, text: str, default: Any) -> float:
    """Seconds, where 0 means "not at all" (e.g. no history retention)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise ConfigurationError(f"{name}={text!r}: give a number of seconds, 0 or more (default {default:g})")
    return value


def _connections(name: str, text: str, default: Any) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ConfigurationError(f"{name}={text!r}: give a whole number of connections, at least 1 (default 1024)")
    return int(text)


def _pipeline_depth(name: str, text: str, default: Any) -> int:
    depth = int(text) if text.lstrip("-").isdigit() else 0
    if depth < 1:
        raise ConfigurationError(
            f"notification targets: {name} must be a whole number of at least 1 (1 turns pipelining off), not {text!r}"
        )
    return depth


def setting(env: str, default: Any, doc: str, parse: Callable[[str, str, Any], Any] = _text) -> Any:
    """A field read from the variable `env`; unset or empty gives `default`."""
    return field(default=default, metadata={"env": env, "doc": doc, "parse": parse})


@dataclass(frozen=True)
class ChronicleSettings:
    # -- identity, storage, addressing -----------------------------------------------------
    root_user: str = setting("CHRONICLE_ROOT_USER", "", "access key of the root user")
    root_password: str = setting("CHRONICLE_ROOT_PASSWORD", "", "secret key of the root user")
    database_url: str | None = setting(
        "CHRONICLE_DATABASE_URL", None, "PostgreSQL event store URL (unset: SQLite in the data dir)", _optional_text
    )
    master_key: str = setting("CHRONICLE_MASTER_KEY", "", "64 hex characters; encrypts secrets at rest")
    domain: str | None = setting(
        "CHRONICLE_DOMAIN", None, "base domain for virtual-host-style requests", _optional_text
    )
    region: str = setting(
        "CHRONICLE_REGION", "", "region reported to clients (us-east-1 when unset) and of target ARNs (none)"
    )
    # -- processes and the PostgreSQL store ------------------------------------------------
    workers: int = setting("CHRONICLE_WORKERS", 1, "processes accepting on one port (PostgreSQL)", _count)
    pg_pool_size: int = setting("CHRONICLE_PG_POOL_SIZE", 4, "PostgreSQL connections kept per process", _count)
    pg_max_overflow: int = setting(
        "CHRONICLE_PG_MAX_OVERFLOW", 12, "PostgreSQL connections opened under load per process", _count
    )
    pg_pool_timeout: float = setting(
        "CHRONICLE_PG_POOL_TIMEOUT", 5.0, "seconds a request waits for a pooled connection", _seconds
    )
    commit_threads: int = setting("CHRONICLE_COMMIT_THREADS", 2, "group committers per process (PostgreSQL)", _count)
    append_connections: int = setting(
        "CHRONICLE_APPEND_CONNECTIONS", 1, "batches of plain PUTs in flight per process (PostgreSQL)", _count
    )
    # Given to the store when it opens (cli.store.store_options), with the pool settings above.
    fast_path: str = setting("CHRONICLE_FAST_PATH", "on", "`off` appends every batch plan by plan (PostgreSQL)")
    # -- connections and requests ----------------------------------------------------------
    body_timeout: float = setting(
        "CHRONICLE_BODY_TIMEOUT", 20.0, "seconds a request or response body may stall", _seconds
    )
    header_timeout: float = setting(
        "CHRONICLE_HEADER_TIMEOUT", 30.0, "seconds a client has to send a request head", _seconds
    )
    idle_timeout: float = setting(
        "CHRONICLE_IDLE_TIMEOUT", 30.0, "seconds a kept-alive connection may stay idle", _seconds
    )
    max_connections: int | None = setting(
        "CHRONICLE_MAX_CONNECTIONS", None, "connections one process serves at once (1024)", _connections
    )
    min_part_size: int = setting(
        "CHRONICLE_MIN_PART_SIZE", 5 * 1024 * 1024, "smallest multipart part but the last", _count
    )
    # -- background work -------------------------------------------------------------------
    gc_interval: float = setting("CHRONICLE_GC_INTERVAL", 3600.0, "seconds between background GC passes", _seconds)
    gc_grace: float = setting("CHRONICLE_GC_GRACE", 3600.0, "minimum age in seconds of a blob GC removes", _seconds)
    history_retention: float = setting(
        "CHRONICLE_HISTORY_RETENTION",
        7 * 86400.0,
        "seconds superseded and deleted object data stays readable as of the past",
        _seconds_or_zero,
    )
    log_level: str = setting("CHRONICLE_LOG_LEVEL", "INFO", "logging level")
    audit_requests: str = setting(
        "CHRONICLE_AUDIT_REQUESTS", "off", "requests recorded in the request audit: off, on, or bucket names", _text
    )
    # -- notifications and metrics ---------------------------------------------------------
    notify_backoff_max: float = setting(
        "CHRONICLE_NOTIFY_BACKOFF_MAX", BACKOFF_MAX, "longest wait between retries of a target", _seconds
    )
    notify_http_pipeline: int | None = setting(
        "CHRONICLE_NOTIFY_HTTP_PIPELINE", None, "webhook requests in flight per connection (32)", _pipeline_depth
    )
    prometheus_auth_type: str = setting(
        "CHRONICLE_PROMETHEUS_AUTH_TYPE", "jwt", "`public` serves the metrics without a token"
    )
    # -- the hash chain --------------------------------------------------------------------
    chain_publish: str = setting("CHRONICLE_CHAIN_PUBLISH", "", "where signed checkpoints are published")
    chain_publish_s3_endpoint: str = setting("CHRONICLE_CHAIN_PUBLISH_S3_ENDPOINT", "", "S3 endpoint for s3://")
    chain_publish_s3_access_key: str = setting("CHRONICLE_CHAIN_PUBLISH_S3_ACCESS_KEY", "", "its access key")
    chain_publish_s3_secret_key: str = setting("CHRONICLE_CHAIN_PUBLISH_S3_SECRET_KEY", "", "its secret key")
    chain_publish_s3_region: str = setting("CHRONICLE_CHAIN_PUBLISH_S3_REGION", "", "its region")
    chain_checkpoint_events: int = setting(
        "CHRONICLE_CHAIN_CHECKPOINT_EVENTS", SIGN_EVERY_EVENTS, "events between signed checkpoints at most", _count
    )
    chain_checkpoint_seconds: float = setting(
        "CHRONICLE_CHAIN_CHECKPOINT_SECONDS", SIGN_EVERY_SECONDS, "seconds between signed checkpoints at most", _seconds
    )
    # -- `chronicle admin` and `chronicle share` (clients of a running server) -------------
    admin_endpoint: str = setting("CHRONICLE_ADMIN_ENDPOINT", DEFAULT_ADMIN_ENDPOINT, "server the admin CLI calls")
    admin_access_key: str = setting("CHRONICLE_ADMIN_ACCESS_KEY", "", "access key the admin CLI signs with")
    admin_secret_key: str = setting("CHRONICLE_ADMIN_SECRET_KEY", "", "its secret key")
    # -- tests only ------------------------------------------------------------------------
    test_clock_file: str | None = setting(
        "CHRONICLE_TEST_CLOCK_FILE",
        None,
        "tests only: the clock is wall time plus the seconds in this file (off by default; warned at start)",
        _optional_text,
    )
    # The CHRONICLE_NOTIFY_* part of the snapshot, for the notification target settings.
    notify_environ: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ChronicleSettings:
        """Parse one snapshot of the environment (raises ConfigurationError naming the
        first malformed variable)."""
        values: dict[str, Any] = {}
        for f in documented_fields():
            text = environ.get(f.metadata["env"], "").strip()
            if text:
                values[f.name] = f.metadata["parse"](f.metadata["env"], text, f.default)
        notify = {k: v for k, v in environ.items() if k.startswith(NOTIFY_PREFIX)}
        return cls(**values, notify_environ=notify)

    @property
    def client_region(self) -> str:
        """The region reported to clients and signed for by the CLI's own requests."""
        return self.region or DEFAULT_CLIENT_REGION

    @property
    def max_connections_chosen(self) -> bool:
        return self.max_connections is not None


def documented_fields() -> Iterator[dataclasses.Field[Any]]:
    """The fields read from a variable of their own, in declaration order."""
    return (f for f in dataclasses.fields(ChronicleSettings) if "env" in f.metadata)

"""Notification target settings: MinIO's keys, validation messages, the environment
(CHRONICLE_NOTIFY_*), redaction of secrets, and building targets."""

from __future__ import annotations

import pytest

from workers.targets import (
    AMQPConfig,
    ConfigError,
    MySQLConfig,
    PostgresConfig,
    RedisConfig,
    Target,
    WebhookConfig,
    arn,
    env_kvs,
    from_env,
    make_target,
    parse_config,
    redacted,
    secret_keys,
    to_kvs,
)
from workers.targets.base import go_json_string
from workers.targets.config import (
    REDACTED,
    parse_mysql_dsn,
    split_host_port,
    validate_mysql_table,
    validate_postgres_table,
)

# -- parsing --------------------------------------------------------------------------


def test_redis_keys_and_defaults():
    cfg = parse_config(
        "notify_redis",
        {"address": "127.0.0.1:6379", "key": "bucketevents", "password": "pw", "user": "u"},
    )
    assert cfg == RedisConfig(address="127.0.0.1:6379", key="bucketevents", format="namespace", password="pw", user="u")
    assert parse_config("redis", {"address": "h", "key": "k", "format": "ACCESS"}).format == "access"


def test_amqp_keys_and_defaults():
    cfg = parse_config(
        "notify_amqp",
        {
            "url": "amqp://guest:guest@127.0.0.1:5672",
            "exchange": "bucketevents",
            "exchange_type": "fanout",
            "routing_key": "bucketlogs",
            "mandatory": "on",
            "durable": "true",
            "delivery_mode": "2",
            "publisher_confirms": "on",
            "internal": "off",
            "auto_deleted": "off",
            "no_wait": "off",
            "queue_dir": "/tmp/q",
            "queue_limit": "10000",
            "comment": "hello",
        },
    )
    assert isinstance(cfg, AMQPConfig)
    assert (cfg.exchange, cfg.exchange_type, cfg.routing_key) == (
        "bucketevents",
        "fanout",
        "bucketlogs",
    )
    assert cfg.mandatory and cfg.durable and cfg.publisher_confirms
    assert not (cfg.internal or cfg.auto_deleted or cfg.no_wait)
    assert (cfg.delivery_mode, cfg.queue_dir, cfg.queue_limit, cfg.comment) == (
        2,
        "/tmp/q",
        10000,
        "hello",
    )
    d = parse_config("notify_amqp", {"url": "amqp://h"})
    assert (d.delivery_mode, d.durable, d.mandatory, d.exchange) == (0, False, False, "")


def test_postgres_mysql_webhook_keys():
    pg = parse_config(
        "notify_postgres",
        {
            "connection_string": "host=h port=5432 dbname=d user=u password=p sslmode=disable",
            "table": "bucketevents",
            "format": "access",
            "max_open_connections": "4",
        },
    )
    assert isinstance(pg, PostgresConfig) and pg.format == "access" and pg.max_open_connections == 4
    my = parse_config("notify_mysql", {"dsn_string": "u:p@tcp(h:3306)/db", "table": "t"})
    assert isinstance(my, MySQLConfig) and my.format == "namespace"
    wh = parse_config(
        "notify_webhook",
        {
            "endpoint": "https://example.test/hook",
            "auth_token": "tok",
            "client_cert": "/c.pem",
            "client_key": "/k.pem",
        },
    )
    assert isinstance(wh, WebhookConfig) and wh.client_key == "/k.pem"


@pytest.mark.parametrize(
    "subsystem,kvs,message",
    [
        ("notify_redis", {"key": "k"}, "'address' is required, e.g. address=127.0.0.1:6379"),
        ("notify_redis", {"address": "h:6379"}, "'key' is required"),
        (
            "notify_redis",
            {"address": "h", "key": "k", "format": "json"},
            "format must be 'namespace' or 'access'",
        ),
        ("notify_redis", {"address": "h:port", "key": "k"}, "invalid port"),
        ("notify_redis", {"adress": "h", "key": "k"}, "unknown key 'adress'; valid keys: "),
        (
            "notify_redis",
            {"address": "h", "key": "k", "queue_dir": "rel"},
            "queue_dir must be an absolute path",
        ),
        (
            "notify_postgres",
            {"connection_string": "host=h", "table": "bad-name"},
            "invalid PostgreSQL table",
        ),
        ("notify_postgres", {"table": "t"}, "'connection_string' is required"),
        (
            "notify_mysql",
            {"dsn_string": "u:p@tcp(h:3306)", "table": "t"},
            "/database part is missing",
        ),
        (
            "notify_mysql",
            {"dsn_string": "u:p@udp(h)/db", "table": "t"},
            "network 'udp' is not supported",
        ),
        ("notify_mysql", {"dsn_string": "u:p@tcp(h)/db", "table": "t;drop"}, "invalid MySQL table"),
        ("notify_mysql", {"dsn_string": "u:p@tcp(h)/db?timeout=soon", "table": "t"}, "Go duration"),
        ("notify_amqp", {"url": "http://h"}, "url must look like amqp://"),
        (
            "notify_amqp",
            {"url": "amqp://u:secret@h", "delivery_mode": "3"},
            "delivery_mode must be 0",
        ),
        ("notify_amqp", {"url": "amqp://h", "durable": "maybe"}, "durable must be 'on' or 'off'"),
        ("notify_amqp", {"url": "amqp://h", "exchange": "x"}, "needs an exchange_type"),
        ("notify_amqp", {"url": "amqp://h", "delivery_mode": "two"}, "must be a whole number"),
        ("notify_webhook", {"endpoint": "ftp://h"}, "endpoint must be an http:// or https:// URL"),
        (
            "notify_webhook",
            {"endpoint": "http://h", "client_cert": "/c"},
            "client_cert and client_key must be set together",
        ),
        ("notify_kafka", {}, "notify_kafka is not supported"),
        ("notify_nope", {}, "unknown notification subsystem"),
    ],
)
def test_validation_errors_say_what_to_fix(subsystem, kvs, message):
    with pytest.raises(ConfigError, match=_re(message)):
        parse_config(subsystem, kvs)


def _re(text: str) -> str:
    import re

    return re.escape(text)


def test_disabled_target_needs_no_required_keys():
    cfg = parse_config("notify_redis", {"enable": "off"})
    assert cfg.enable is False


def test_validation_errors_do_not_leak_secrets():
    with pytest.raises(ConfigError) as info:
        parse_config("notify_amqp", {"url": "ftp://user:topsecret@h"})
    assert "topsecret" not in str(info.value)


def test_table_names():
    for ok in ("bucketevents", "_t$1", "événements", '"My Table"'):
        validate_postgres_table(ok)
    for bad in ("1t", "a-b", "a b", '"a"b"', "", "t;drop table x"):
        with pytest.raises(ConfigError):
            validate_postgres_table(bad)
    for ok in ("bucketevents", "db.events", "`odd name`", "1t"):
        validate_mysql_table(ok)
    for bad in ("a-b", "t;drop", "", "`a`b`"):
        with pytest.raises(ConfigError):
            validate_mysql_table(bad)


def test_mysql_dsn_forms():
    d = parse_mysql_dsn("user:p@ss:w/rd@tcp(db.example:3307)/minio?tls=skip-verify&timeout=5s")
    assert (d.user, d.password, d.host, d.port, d.database) == (
        "user",
        "p@ss:w/rd",
        "db.example",
        3307,
        "minio",
    )
    assert d.params == {"tls": "skip-verify", "timeout": "5s"}
    d = parse_mysql_dsn("root@unix(/run/mysqld/mysqld.sock)/events")
    assert (d.user, d.password, d.net, d.unix_socket) == (
        "root",
        "",
        "unix",
        "/run/mysqld/mysqld.sock",
    )
    d = parse_mysql_dsn("/events")
    assert (d.user, d.host, d.port, d.database) == ("", "127.0.0.1", 3306, "events")
    assert parse_mysql_dsn("u@tcp(h)/x").port == 3306
    assert parse_mysql_dsn("u@tcp([::1]:3308)/x").host == "::1"


def test_split_host_port():
    what = "address"
    assert split_host_port("h", 6379, what=what) == ("h", 6379)
    assert split_host_port("h:1", 6379, what=what) == ("h", 1)
    assert split_host_port("[::1]:7000", 6379, what=what) == ("::1", 7000)
    assert split_host_port("::1", 6379, what=what) == ("::1", 6379)
    with pytest.raises(ConfigError):
        split_host_port(":6379", 6379, what=what)


# -- round trip and redaction ---------------------------------------------------------


def test_to_kvs_round_trips():
    cfg = parse_config("notify_amqp", {"url": "amqp://h", "durable": "on", "delivery_mode": "2"})
    kvs = to_kvs(cfg)
    assert kvs["durable"] == "on" and kvs["mandatory"] == "off" and kvs["delivery_mode"] == "2"
    assert "window" not in to_kvs(parse_config("notify_webhook", {"endpoint": "http://h"}))
    assert parse_config("notify_amqp", kvs) == cfg


def test_secret_keys():
    assert secret_keys("notify_redis") == ["password"]
    assert secret_keys("notify_postgres") == ["connection_string"]
    assert secret_keys("notify_mysql") == ["dsn_string"]
    assert secret_keys("notify_amqp") == ["url"]
    assert secret_keys("notify_webhook") == ["auth_token", "client_key"]


def test_redacted_masks_every_secret():
    r = redacted(parse_config("notify_redis", {"address": "h", "key": "k", "password": "hunter2"}))
    assert r["password"] == REDACTED and r["address"] == "h"
    assert redacted(parse_config("notify_redis", {"address": "h", "key": "k"}))["password"] == ""

    pg = parse_config(
        "notify_postgres",
        {
            "connection_string": "host=h user=u password='it\\'s secret' dbname=d sslmode=disable",
            "table": "t",
        },
    )
    cs = redacted(pg)["connection_string"]
    assert "secret" not in cs and f"password={REDACTED}" in cs and "host=h" in cs and "dbname=d" in cs
    pg_url = parse_config("notify_postgres", {"connection_string": "postgres://u:hunter2@h/d", "table": "t"})
    assert redacted(pg_url)["connection_string"] == f"postgres://u:{REDACTED}@h/d"

    my = parse_config("notify_mysql", {"dsn_string": "u:hun@ter2@tcp(h:3306)/db", "table": "t"})
    assert redacted(my)["dsn_string"] == f"u:{REDACTED}@tcp(h:3306)/db"
    my_nopw = parse_config("notify_mysql", {"dsn_string": "u@tcp(h:3306)/db", "table": "t"})
    assert redacted(my_nopw)["dsn_string"] == "u@tcp(h:3306)/db"

    amqp = parse_config("notify_amqp", {"url": "amqp://guest:hunter2@rabbit:5672/vh"})
    assert redacted(amqp)["url"] == f"amqp://guest:{REDACTED}@rabbit:5672/vh"

    wh = parse_config(
        "notify_webhook",
        {"endpoint": "http://h", "auth_token": "Bearer x", "client_cert": "/c", "client_key": "/k"},
    )
    r = redacted(wh)
    assert (r["auth_token"], r["client_key"], r["client_cert"]) == (REDACTED, REDACTED, "/c")
    for cfg in (pg, pg_url, my, amqp, wh):
        assert "hunter2" not in str(redacted(cfg)) and "secret" not in str(redacted(cfg))


# -- environment ----------------------------------------------------------------------


def test_from_env_reads_suffixed_and_default_targets():
    env = {
        "CHRONICLE_NOTIFY_REDIS_ENABLE_1": "on",
        "CHRONICLE_NOTIFY_REDIS_ADDRESS_1": "127.0.0.1:6379",
        "CHRONICLE_NOTIFY_REDIS_KEY_1": "bucketevents",
        "CHRONICLE_NOTIFY_REDIS_FORMAT_1": "access",
        "CHRONICLE_NOTIFY_REDIS_QUEUE_DIR_1": "/var/q",
        "CHRONICLE_NOTIFY_WEBHOOK_ENABLE": "on",
        "CHRONICLE_NOTIFY_WEBHOOK_ENDPOINT": "http://127.0.0.1:9000/hook",
        "CHRONICLE_NOTIFY_WEBHOOK_AUTH_TOKEN": "tok",
        "CHRONICLE_NOTIFY_AMQP_ENABLE_PRIMARY": "on",
        "CHRONICLE_NOTIFY_AMQP_URL_PRIMARY": "amqp://h",
        "CHRONICLE_NOTIFY_AMQP_EXCHANGE_PRIMARY": "x",
        "CHRONICLE_NOTIFY_AMQP_EXCHANGE_TYPE_PRIMARY": "topic",
        "CHRONICLE_NOTIFY_AMQP_PUBLISHING_CONFIRMS_PRIMARY": "on",
        "CHRONICLE_NOTIFY_POSTGRES_ENABLE_2": "off",
        "CHRONICLE_NOTIFY_MYSQL_DSN_STRING_3": "u:p@tcp(h)/d",  # no ENABLE: only in env_kvs
        "CHRONICLE_ROOT_USER": "ignored",
        "PATH": "/bin",
    }
    got = from_env(env)
    assert set(got) == {
        ("notify_redis", "1"),
        ("notify_webhook", "_"),
        ("notify_amqp", "PRIMARY"),
        ("notify_postgres", "2"),
    }
    r = got[("notify_redis", "1")]
    assert (r.address, r.key, r.format, r.queue_dir) == (
        "127.0.0.1:6379",
        "bucketevents",
        "access",
        "/var/q",
    )
    a = got[("notify_amqp", "PRIMARY")]
    assert (a.exchange, a.exchange_type, a.publisher_confirms) == ("x", "topic", True)
    assert got[("notify_webhook", "_")].auth_token == "tok"
    assert got[("notify_postgres", "2")].enable is False
    assert env_kvs(env)[("notify_mysql", "3")] == {"dsn_string": "u:p@tcp(h)/d"}


def test_env_overlays_stored_settings_key_by_key():
    stored = {"address": "10.0.0.1:6379", "key": "events", "format": "namespace"}
    env = env_kvs({"CHRONICLE_NOTIFY_REDIS_ADDRESS_1": "10.0.0.2:6379"})[("notify_redis", "1")]
    cfg = parse_config("notify_redis", {**stored, **env})
    assert (cfg.address, cfg.key) == ("10.0.0.2:6379", "events")


def test_env_custom_prefix():
    got = from_env(
        {
            "MINIO_NOTIFY_REDIS_ENABLE": "on",
            "MINIO_NOTIFY_REDIS_ADDRESS": "h",
            "MINIO_NOTIFY_REDIS_KEY": "k",
        },
        prefix="MINIO_NOTIFY_",
    )
    assert list(got) == [("notify_redis", "_")]


def test_env_errors_name_the_variable():
    with pytest.raises(ConfigError, match="CHRONICLE_NOTIFY_REDIS_ADRESS_1: unknown setting"):
        env_kvs({"CHRONICLE_NOTIFY_REDIS_ADRESS_1": "h"})
    with pytest.raises(ConfigError, match=r"'key' is required.*CHRONICLE_NOTIFY_REDIS_\*_1"):
        from_env({"CHRONICLE_NOTIFY_REDIS_ENABLE_1": "on", "CHRONICLE_NOTIFY_REDIS_ADDRESS_1": "h"})
    with pytest.raises(ConfigError, match="notify_kafka is not supported"):
        from_env({"CHRONICLE_NOTIFY_KAFKA_ENABLE_1": "on"})
    with pytest.raises(ConfigError, match="must be 'on' or 'off'"):
        from_env({"CHRONICLE_NOTIFY_WEBHOOK_ENABLE": "sometimes"})


# -- targets --------------------------------------------------------------------------


def test_make_target_builds_each_type():
    cases = {
        "notify_redis": ({"address": "h", "key": "k"}, "redis"),
        "notify_postgres": ({"connection_string": "host=h dbname=d", "table": "t"}, "postgresql"),
        "notify_mysql": ({"dsn_string": "u@tcp(h)/d", "table": "t"}, "mysql"),
        "notify_amqp": ({"url": "amqp://h"}, "amqp"),
        "notify_webhook": ({"endpoint": "http://h"}, "webhook"),
    }
    for sub, (kvs, typ) in cases.items():
        t = make_target(sub, "7", kvs)
        assert isinstance(t, Target)
        assert (t.id, t.type) == ("7", typ)
        assert arn(t.id, t.type) == f"arn:minio:sqs::7:{typ}"
    assert make_target("notify_redis", "1", RedisConfig(address="h", key="k")).type == "redis"
    with pytest.raises(ConfigError):
        make_target("notify_redis", "1", RedisConfig(address="h"))  # validated
    with pytest.raises(ConfigError):
        make_target("notify_redis", "1", WebhookConfig(endpoint="http://h"))


def test_postgres_connection_string_follows_lib_pq():
    from psycopg.conninfo import conninfo_to_dict

    from workers.targets.postgres import libpq_conninfo

    p = conninfo_to_dict(libpq_conninfo("host=h port=5433 dbname=d user=u password='a b'"))
    assert p["sslmode"] == "require"  # lib/pq's default
    assert (p["host"], p["port"], p["dbname"], p["password"]) == ("h", "5433", "d", "a b")
    p = conninfo_to_dict(libpq_conninfo("host=h sslmode=disable search_path=events"))
    assert p["sslmode"] == "disable" and p["options"] == "-c search_path=events"
    p = conninfo_to_dict(libpq_conninfo(r"host = h password='x \' y' application_name=a\ b"))
    assert (p["password"], p["application_name"]) == ("x ' y", "a b")
    p = conninfo_to_dict(libpq_conninfo("postgres://u:pw@h:5/d?sslmode=disable"))
    assert (p["user"], p["password"], p["port"], p["sslmode"]) == ("u", "pw", "5", "disable")
    with pytest.raises(ConfigError, match="unterminated quote"):
        libpq_conninfo("host='h")


def test_go_json_strings():
    assert go_json_string('a"b\\c') == b'"a\\"b\\\\c"'
    assert go_json_string("<&>") == b'"\\u003c\\u0026\\u003e"'
    assert go_json_string("\u2028\u2029") == b'"\\u2028\\u2029"'
    assert go_json_string("\n\r\t\b\f\x00\x1f") == b'"\\n\\r\\t\\b\\f\\u0000\\u001f"'
    assert go_json_string("é😀") == '"é😀"'.encode()


def test_key_encoding_is_validated_and_rewrites_only_the_object_key():
    from workers.delivery import rekey
    from workers.targets import ConfigError, parse_config

    cfg = parse_config("notify_webhook", {"endpoint": "http://127.0.0.1:1/", "key_encoding": "aws"})
    assert cfg.key_encoding == "aws"
    with pytest.raises(ConfigError, match="key_encoding"):
        parse_config("notify_webhook", {"endpoint": "http://127.0.0.1:1/", "key_encoding": "url"})
    record = '{"s3":{"object":{"key":"a%2Fb+c","userMetadata":{"x":"\\"object\\":{\\"key\\":\\"a%2Fb+c\\""}}}}'
    assert rekey(record, "a/b c", "aws") == record.replace('"key":"a%2Fb+c"', '"key":"a/b+c"', 1)
    assert rekey(record, "a/b c", "minio") == record


def test_http_pipeline_switch_from_the_environment():
    from workers.targets import ConfigError, WebhookConfig
    from workers.targets.environment import http_pipeline

    assert http_pipeline({}) is None
    assert http_pipeline({"CHRONICLE_NOTIFY_HTTP_PIPELINE": "1"}) == 1
    assert http_pipeline({"CHRONICLE_NOTIFY_HTTP_PIPELINE": " 64 "}) == 64
    for bad in ("0", "-3", "off", "1.5"):
        with pytest.raises(ConfigError, match="CHRONICLE_NOTIFY_HTTP_PIPELINE"):
            http_pipeline({"CHRONICLE_NOTIFY_HTTP_PIPELINE": bad})
    with pytest.raises(ConfigError, match="pipeline must be at least 1"):
        WebhookConfig(endpoint="http://127.0.0.1:1/", pipeline=0).validate()

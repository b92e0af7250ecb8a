"""MinIO config KV text for notification targets, and the effective configuration (the
stored settings overlaid by the environment) a delivery supervisor loads."""

from __future__ import annotations

import os
import sqlite3

import orjson
import pytest

from api.auth.sealing import Sealer
from api.notify.config import ConfigSyntaxError, _tokens, parse_kv_line
from domain.notify_target import seal_settings
from projections.eventstore.sql import Dialect
from projections.notifications.targets_schema import notify_targets_ddl
from workers.targets import config as schema
from workers.targets.store import (
    effective_kvs,
    load_effective_configs,
    parse_target_name,
    target_name,
    targets_generation,
)


def test_tokens_strip_quotes_like_minio():
    assert _tokens("notify_redis:1 comment=\"two words\" key='k v' address=a:1") == [
        "notify_redis:1",
        "comment=two words",
        "key=k v",
        "address=a:1",
    ]
    assert _tokens('dsn_string=u:p"w@tcp(h:3306)/db') == ['dsn_string=u:p"w@tcp(h:3306)/db']


def test_parse_kv_line():
    sub, tid, kvs = parse_kv_line(schema, "notify_postgres:pg connection_string=host=h port=5432 password=x table=t")
    assert (sub, tid) == ("notify_postgres", "pg")
    assert kvs == {"connection_string": "host=h port=5432 password=x", "table": "t"}
    assert parse_kv_line(schema, "notify_redis address=h:1")[:2] == ("notify_redis", "_")
    assert parse_kv_line(schema, "notify_redis: address=h:1")[:2] == ("notify_redis", "_")
    for text, words in (
        ("notify_redis:1 adress=h", "unknown key 'adress'"),
        ("notify_redis:1 address=h oops", "'oops' is not key=value"),
        ("notify_redis:a/b address=h", "invalid target id"),
        ("notify_nats:1 address=h", "not supported"),
        ("api requests_max=1", "unknown sub-system"),
        ("", "cannot be empty"),
    ):
        with pytest.raises(ConfigSyntaxError, match=words):
            parse_kv_line(schema, text)


def test_target_names():
    assert target_name("notify_redis", "1") == "notify_redis:1"
    assert parse_target_name("notify_redis:1") == ("notify_redis", "1")
    assert parse_target_name("notify_redis") == ("notify_redis", "_")


def test_environment_wins_key_by_key():
    stored = {("notify_redis", "1"): {"address": "h:1", "key": "stored", "format": "access"}}
    env = {
        "CHRONICLE_NOTIFY_REDIS_KEY_1": "from-env",
        "CHRONICLE_NOTIFY_REDIS_ADDRESS_2": "h:2",  # no ENABLE_2: not a target of its own
        "CHRONICLE_NOTIFY_WEBHOOK_ENABLE": "on",
        "CHRONICLE_NOTIFY_WEBHOOK_ENDPOINT": "http://h/",
    }
    assert effective_kvs(stored, env) == {
        ("notify_redis", "1"): {"address": "h:1", "key": "from-env", "format": "access"},
        ("notify_webhook", "_"): {"enable": "on", "endpoint": "http://h/"},
    }


def _db(rows: list[tuple[str, str, dict[str, str]]], sealer: Sealer) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.row_factory = sqlite3.Row
    for statement in notify_targets_ddl(Dialect()):
        conn.execute(statement)
    for position, (sub, tid, settings) in enumerate(rows, 1):
        sealed = seal_settings(sub, tid, settings, schema.secret_keys(sub), sealer.seal)
        conn.execute(
            "INSERT INTO notify_targets VALUES (?, ?, ?, ?, 'admin', ?)",
            (
                sub,
                tid,
                orjson.dumps(sealed).decode(),
                int(settings.get("enable") != "off"),
                position,
            ),
        )
        conn.execute("INSERT OR REPLACE INTO notify_targets_generation VALUES (1, ?)", (position,))
    return conn


def test_load_effective_configs_unseals_overlays_and_skips_disabled():
    sealer = Sealer(os.urandom(32))
    conn = _db(
        [
            ("notify_redis", "1", {"enable": "on", "address": "h:1", "key": "k", "password": "pw"}),
            ("notify_webhook", "off", {"enable": "off", "endpoint": ""}),
            ("notify_redis", "2", {"enable": "on", "address": "h:1", "key": "k"}),
        ],
        sealer,
    )
    stored = conn.execute("SELECT settings FROM notify_targets WHERE target_id = '1'").fetchone()[0]
    assert '"pw"' not in stored  # sealed at rest
    env = {"CHRONICLE_NOTIFY_REDIS_FORMAT_1": "access", "CHRONICLE_NOTIFY_REDIS_FORMAT_2": "xml"}
    configs = load_effective_configs(conn, sealer.unseal, env)
    assert list(configs) == [("notify_redis", "1")]  # disabled and invalid ones left out
    cfg = configs[("notify_redis", "1")]
    assert (cfg.password, cfg.format, cfg.address) == ("pw", "access", "h:1")
    everything = load_effective_configs(conn, sealer.unseal, env, enabled_only=False)
    assert set(everything) == {("notify_redis", "1"), ("notify_webhook", "off")}
    assert targets_generation(conn) == 3
    assert targets_generation(_db([], sealer)) == 0

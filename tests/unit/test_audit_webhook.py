"""audit_webhook: MinIO's keys, defaults and checks, the body and headers MinIO's HTTP
logger sends (one JSON line per entry, Content-Type only for single entries, the token as
it is), and which request audit rows may be sent while seq has holes."""

from __future__ import annotations

import json

import pytest

from workers.audit_gaps import SeqGaps
from workers.targets import AuditWebhookConfig, ConfigError, listing_kvs, make_target, parse_config, secret_keys
from workers.targets.audit_webhook import AuditWebhookSender, audit_body

URL = "http://127.0.0.1:8080/minio/logs/audit"


def test_keys_defaults_and_the_token_is_the_one_secret():
    cfg = parse_config("audit_webhook", {"endpoint": URL, "auth_token": "Bearer abc"})
    assert isinstance(cfg, AuditWebhookConfig)
    assert (cfg.batch_size, cfg.queue_size, cfg.max_retry) == (1, 100000, 0)
    assert (cfg.retry_seconds, cfg.timeout_seconds) == (3.0, 5.0)
    assert secret_keys("audit_webhook") == ["auth_token"]
    listed = dict(listing_kvs(cfg))
    assert "auth_token" not in listed and listed["endpoint"] == URL
    assert list(listed)[:3] == ["enable", "endpoint", "client_cert"]


@pytest.mark.parametrize(
    ("kvs", "words"),
    [
        ({"batch_size": "0"}, "invalid batch_size"),
        ({"queue_size": "-1"}, "invalid queue_size"),
        ({"max_retry": "-2"}, "max_retry"),
        ({"retry_interval": "90s"}, "maximum allowed value for retry_interval is '1m'"),
        ({"http_timeout": "900ms"}, "minimum value allowed for http_timeout is '1s'"),
        ({"http_timeout": "soon"}, "is not a Go duration"),
        ({"client_cert": "/c.pem"}, "client_cert and client_key must be set together"),
        ({"queue_limit": "5"}, "unknown key 'queue_limit'"),
    ],
)
def test_minio_checks(kvs, words):
    with pytest.raises(ConfigError, match=words):
        parse_config("audit_webhook", {"endpoint": URL, **kvs})


def test_not_a_notification_target():
    with pytest.raises(ConfigError, match="receives the request audit"):
        make_target("audit_webhook", "1", {"endpoint": URL})
    with pytest.raises(ConfigError, match="audit_kafka is not supported"):
        parse_config("audit_kafka", {})


def entry(n: int) -> str:
    return json.dumps({"version": "1", "deploymentid": "dep-1", "requestID": f"R{n}"})


def test_body_and_headers_as_minio_sends_them():
    one = AuditWebhookSender("1", parse_config("audit_webhook", {"endpoint": URL, "auth_token": "tok"}))
    assert audit_body([entry(1)]) == entry(1).encode() + b"\n"
    assert one.headers([entry(1)]) == {
        "Content-Type": "application/json",
        "Authorization": "tok",
        "X-Minio-Webhook-Payload-Count": "1",
        "X-Minio-Deployment-Id": "dep-1",
    }
    many = AuditWebhookSender("2", parse_config("audit_webhook", {"endpoint": URL, "batch_size": "200"}))
    assert audit_body([entry(1), entry(2)]).split(b"\n") == [entry(1).encode(), entry(2).encode(), b""]
    assert many.headers([entry(1), entry(2)]) == {
        "X-Minio-Webhook-Payload-Count": "2",
        "X-Minio-Deployment-Id": "dep-1",
    }
    assert (one.window, many.window) == (16, 4)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_hole_holds_back_what_follows_until_it_settles_then_is_watched():
    clock = Clock()
    gaps = SeqGaps("audit_webhook:1", settle=10, late_window=60, clock=clock)
    assert gaps.ready(5, [6, 7, 8]) == 3  # no hole
    assert gaps.ready(8, [9, 11, 12]) == 1  # 10 is in an open transaction, perhaps
    clock.now += 5
    assert gaps.ready(9, [11, 12]) == 0  # still young
    clock.now += 5
    assert gaps.ready(9, [11, 12]) == 2  # ten seconds: a rollback, passed over
    assert [(h.first, h.last) for h in gaps.watched()] == [(10, 10)]
    assert gaps.ready(9, [11, 12]) == 2  # passed once, not waited for again
    clock.now += 61
    assert gaps.watched() == []


def test_a_hole_that_fills_costs_nothing_more():
    clock = Clock()
    gaps = SeqGaps("audit_webhook:1", settle=10, clock=clock)
    assert gaps.ready(0, [1, 3]) == 1
    clock.now += 1
    assert gaps.ready(1, [2, 3]) == 2  # 2 committed
    gaps.delivered_through(3)
    clock.now += 20
    assert gaps.ready(3, [5]) == 0  # a new hole gets its own time, not the old one's
    assert gaps.watched() == []

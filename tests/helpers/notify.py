"""What the notification end-to-end and fault tests share: a webhook receiver process,
the services' admin connections, MinIO golden records, and reading what each target got.

The golden records are built here from MinIO's struct order (internal/event/event.go,
cmd/event-notification.go ``ToEvent``; see /work/shared/reference/minio-formats.md), not
from Chronicle's record code, so a drift in either shows up as a diff.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.helpers.server import REPO_ROOT, free_port
from tests.helpers.services import AMQP_URL, MYSQL_DSN, PG_DSN, REDIS_URL, service_missing


def uid() -> str:
    return uuid.uuid4().hex[:10]


def wait_until(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll CHECK until it returns something truthy; fail with WHAT after TIMEOUT."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})"[:2000])


# -- webhook receiver process ---------------------------------------------------------


class PortProcess:
    """A helper process listening on a fixed port: SIGKILL it, start it again on the same
    port (as a crashed downstream service comes back)."""

    def __init__(self, args: list[str], port: int) -> None:
        self.args = args
        self.port = port
        self.proc: subprocess.Popen | None = None

    def start(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", *self.args],
            cwd=str(REPO_ROOT),
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        import socket

        def listening() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.args[0]} exited with {self.proc.returncode}")
            with socket.socket() as s:
                s.settimeout(0.2)
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        wait_until(listening, 15, f"{self.args[0]} to listen on {self.port}")
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None


class WebhookProcess(PortProcess):
    """tests/helpers/webhook_receiver.py in a subprocess; reads what it received, in
    arrival order. ``style`` is how it speaks HTTP (see that module: aiohttp, http10,
    close, http11)."""

    def __init__(self, directory: Path, port: int | None = None, style: str = "aiohttp") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        port = port or free_port()
        self.style = style
        self.out = directory / f"webhook-{port}.jsonl"
        self.out.touch()
        super().__init__(
            [
                "tests.helpers.webhook_receiver",
                "--port",
                str(port),
                "--out",
                str(self.out),
                "--style",
                style,
            ],
            port,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/minio/events"

    def requests(self) -> list[dict[str, Any]]:
        text = self.out.read_text(encoding="utf-8")
        # The receiver may be mid-write (or was killed mid-write): only whole lines count.
        lines = text[: text.rfind("\n") + 1].splitlines()
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line cut short by a SIGKILL, followed by later ones
        return out

    def bodies(self) -> list[bytes]:
        return [r["body"].encode() for r in self.requests()]


class TCPProxy(PortProcess):
    """tests/helpers/tcp_proxy.py: a forwarder to TARGET that tests can kill."""

    def __init__(self, target: str, port: int | None = None) -> None:
        port = port or free_port()
        super().__init__(["tests.helpers.tcp_proxy", "--listen", str(port), "--to", target], port)


# -- services -------------------------------------------------------------------------


def redis_client():
    import redis

    u = urllib.parse.urlsplit(REDIS_URL)
    db = int((u.path or "/0").strip("/") or 0)
    client = redis.Redis(host=u.hostname or "127.0.0.1", port=u.port or 6379, db=db, socket_connect_timeout=5)
    try:
        client.ping()
    except Exception as e:  # noqa: BLE001
        service_missing(f"Redis at {REDIS_URL}", e)
    return client


def redis_address() -> str:
    u = urllib.parse.urlsplit(REDIS_URL)
    return f"{u.hostname or '127.0.0.1'}:{u.port or 6379}"


def pg_admin():
    from tests.helpers.services import pg_connect

    try:
        return pg_connect()
    except Exception as e:  # noqa: BLE001
        service_missing(f"PostgreSQL at {PG_DSN}", e)


def pg_connection_string() -> str:
    """lib/pq key=value form of the test PostgreSQL (sslmode=disable, as MinIO users write)."""
    from psycopg.conninfo import conninfo_to_dict

    params = {**conninfo_to_dict(PG_DSN), "sslmode": "disable"}
    return " ".join(f"{k}={v}" for k, v in params.items())


def mysql_admin() -> tuple[Any, dict[str, Any]]:
    """A pymysql connection (autocommit) and its parameters; where root may log in only
    through the unix socket, a TCP user is created through it first."""
    import pymysql

    u = urllib.parse.urlsplit(MYSQL_DSN)
    p = {
        "host": u.hostname or "127.0.0.1",
        "port": u.port or 3306,
        "user": urllib.parse.unquote(u.username or "root"),
        "password": urllib.parse.unquote(u.password or ""),
    }
    try:
        return pymysql.connect(**p, autocommit=True, connect_timeout=5), p
    except pymysql.err.OperationalError as e:
        if e.args[0] != 1045:
            service_missing(f"MariaDB/MySQL at {p['host']}:{p['port']}", e)
    user, password = "chronicle", "chronicle-test-pw"
    sql = (
        f"CREATE USER IF NOT EXISTS '{user}'@'127.0.0.1' IDENTIFIED BY '{password}'; "
        f"CREATE USER IF NOT EXISTS '{user}'@'localhost' IDENTIFIED BY '{password}'; "
        f"GRANT ALL ON *.* TO '{user}'@'127.0.0.1'; GRANT ALL ON *.* TO '{user}'@'localhost';"
    )
    try:
        subprocess.run(["mariadb", "-u", "root", "-e", sql], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        service_missing("MariaDB/MySQL (root over the unix socket)", e)
    p = {**p, "user": user, "password": password}
    try:
        return pymysql.connect(**p, autocommit=True, connect_timeout=5), p
    except pymysql.MySQLError as e:
        service_missing(f"MariaDB/MySQL at {p['host']}:{p['port']}", e)


def mysql_rows(conn, sql: str) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql)
        return list(cur.fetchall())


def amqp_channel():
    import pika

    try:
        conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    except Exception as e:  # noqa: BLE001
        service_missing(f"RabbitMQ at {AMQP_URL}", e)
    return conn, conn.channel()


def amqp_drain(channel, queue: str) -> list[tuple[Any, bytes]]:
    out = []
    while True:
        method, props, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            return out
        out.append((props, body))


# -- MinIO golden records ---------------------------------------------------------------

_GO_HTML = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def go_json(value: Any) -> bytes:
    """VALUE as Go's encoding/json writes it: compact, raw UTF-8, HTML characters escaped.
    Dict order is kept (struct order); pass Go maps already sorted."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for raw, esc in _GO_HTML:
        text = text.replace(raw, esc)
    return text.encode()


def query_escape(key: str) -> str:
    """Go's url.QueryEscape."""
    return urllib.parse.quote_plus(key, safe="")


REMOVED = (
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRemoved:NoOP",
)

# Placeholders for what differs per run or deployment (see normalize()).
T, SEQ, UA, NODE, DEPLOYMENT, ENDPOINT = (
    "<time>",
    "<seq>",
    "<ua>",
    "<node>",
    "<deployment>",
    "<endpoint>",
)


def minio_record(
    event_name: str,
    bucket: str,
    key: str,
    *,
    principal: str,
    request_id: str,
    size: int = 0,
    etag: str = "",
    content_type: str = "",
    user_metadata: dict[str, str] | None = None,
    version_id: str = "",
    content_length: str | None = None,
    source_ip: str = "127.0.0.1",
    region: str = "",
) -> dict[str, Any]:
    """The record MinIO's ToEvent(escape=true) builds, in struct field order."""
    resp = {
        "x-amz-id-2": NODE,
        "x-amz-request-id": request_id,
        "x-minio-deployment-id": DEPLOYMENT,
        "x-minio-origin-endpoint": ENDPOINT,
    }
    if content_length is not None:
        resp["content-length"] = content_length
    obj: dict[str, Any] = {"key": query_escape(key)}
    if event_name not in REMOVED:
        if size:
            obj["size"] = size  # omitempty
        if etag:
            obj["eTag"] = etag
        if content_type:
            obj["contentType"] = content_type
        if user_metadata:
            obj["userMetadata"] = dict(sorted(user_metadata.items()))
    if version_id:
        obj["versionId"] = version_id
    obj["sequencer"] = SEQ
    return {
        "eventVersion": "2.0",
        "eventSource": "minio:s3",
        "awsRegion": region,
        "eventTime": T,
        "eventName": event_name,
        "userIdentity": {"principalId": principal},
        "requestParameters": {
            "principalId": principal,
            "region": region,
            "sourceIPAddress": source_ip,
        },
        "responseElements": dict(sorted(resp.items())),
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "Config",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": principal},
                "arn": "arn:aws:s3:::" + bucket,
            },
            "object": obj,
        },
        "source": {"host": source_ip, "port": "", "userAgent": UA},
    }


def event_log(record: dict[str, Any], bucket: str, key: str) -> dict[str, Any]:
    """MinIO's event.Log (webhook and AMQP body): EventName, Key (raw), Records."""
    return {"EventName": record["eventName"], "Key": f"{bucket}/{key}", "Records": [record]}


_TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class Normalized:
    """Turns delivered records into golden form, checking on the way what it hides:
    eventTime's layout, a 16-digit hex sequencer (collected, to check monotonicity), a
    boto3 userAgent."""

    def __init__(self) -> None:
        self.sequencers: list[int] = []
        self.times: list[str] = []
        self.deployments: set[str] = set()

    def record(self, rec: dict[str, Any]) -> dict[str, Any]:
        rec = json.loads(json.dumps(rec))
        assert _TIME_RE.match(rec["eventTime"]), rec["eventTime"]
        self.times.append(rec["eventTime"])
        rec["eventTime"] = T
        seq = rec["s3"]["object"]["sequencer"]
        assert re.fullmatch(r"[0-9A-F]{16}", seq), seq
        self.sequencers.append(int(seq, 16))
        rec["s3"]["object"]["sequencer"] = SEQ
        assert rec["source"]["userAgent"].startswith("Boto3/"), rec["source"]["userAgent"]
        rec["source"]["userAgent"] = UA
        resp = rec["responseElements"]
        # The node that served the request and the deployment, in MinIO's forms: the hex
        # SHA-256 of the node's host:port, its endpoint URL, a UUID.
        origin = resp["x-minio-origin-endpoint"]
        assert re.fullmatch(r"https?://127\.0\.0\.1:\d+", origin), resp
        host_port = origin.split("://", 1)[1]
        assert resp["x-amz-id-2"] == hashlib.sha256(host_port.encode()).hexdigest(), resp
        assert re.fullmatch(
            r"[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", resp["x-minio-deployment-id"]
        ), resp
        self.deployments.add(resp["x-minio-deployment-id"])
        for name, placeholder in (
            ("x-amz-id-2", NODE),
            ("x-minio-deployment-id", DEPLOYMENT),
            ("x-minio-origin-endpoint", ENDPOINT),
        ):
            resp[name] = placeholder
        return rec

    def log(self, body: bytes) -> dict[str, Any]:
        """An event.Log body, byte-checked for Go's field order, then normalized."""
        doc = json.loads(body)
        assert list(doc) == ["EventName", "Key", "Records"], body[:200]
        assert body == go_json(doc), "not serialised as Go does"
        doc["Records"] = [self.record(r) for r in doc["Records"]]
        return doc

    def records_value(self, value: bytes | str | dict) -> dict[str, Any]:
        """{"Records":[record]} (namespace values, SQL rows)."""
        doc = json.loads(value) if isinstance(value, (bytes, str)) else value
        assert list(doc) == ["Records"]
        return {"Records": [self.record(r) for r in doc["Records"]]}


def assert_go_bytes(body: bytes) -> None:
    """BODY is exactly what Go would write for its own parse (key order kept)."""
    assert body == go_json(json.loads(body)), body[:300]


def assert_records(got: list[bytes], want: list[bytes]) -> None:
    """Equal lists of serialised records; on a difference, show the first one in full."""
    for i, (g, w) in enumerate(zip(got, want, strict=False)):
        if g != w:
            raise AssertionError(f"record {i} differs:\n got: {g.decode()}\nwant: {w.decode()}")
    assert len(got) == len(want), f"{len(got)} records arrived, {len(want)} expected"

"""Notification delivery benchmark: latency from PUT response to arrival, and catch-up speed.

    python -m bench.notify                  # full run (~3-4 min on 2 cores)
    python -m bench.notify --quick          # shorter windows, fewer events
    python -m bench.notify --only catchup --events 20000

(i) Live: `chronicle serve` on PostgreSQL (delivery inside serve) with a Redis (access
format, read with BLPOP) and a webhook target. Finds the max PUT rate (1 KiB, 32
connections), samples the delivery lag during it (log head - follower position and
view head - checkpoint, per target) to show it does not grow, then PUTs at half that
rate and reports latency = arrival at the target - PUT response (p50, p99).

(ii) Catch-up: `serve --no-delivery`, N events written, then `chronicle worker` with
no target (the follower alone), then with one target at a time; events/s = the view
rows delivered / time from the worker's claim to its checkpoint reaching the head.

Writes JSON to /tmp/chronicle-bench/notify.json. The machine may be shared: compare
figures from one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench.loadgen import RawClient, percentiles, spawn
from bench.run import NCPU, PG_ADMIN_URL, CpuWindow, free_port, log, with_children
from bench.sigv4 import Signer

ROOT = Path(__file__).resolve().parent.parent
REDIS = os.environ.get("CHRONICLE_TEST_REDIS_ADDRESS", "127.0.0.1:6379")
AMQP_URL = os.environ.get("CHRONICLE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
MYSQL = os.environ.get("BENCH_MYSQL", "root@tcp(127.0.0.1:3306)")
BODY = b"x" * 1024
ARNS = {
    "redis": "arn:minio:sqs::1:redis",
    "webhook": "arn:minio:sqs::1:webhook",
    "postgres": "arn:minio:sqs::1:postgresql",
    "mysql": "arn:minio:sqs::1:mysql",
    "amqp": "arn:minio:sqs::1:amqp",
}


# ---------------------------------------------------------------- webhook receiver process


def receiver_main(port: int, out: str) -> None:
    """POST bodies → "<arrival time> <bucket/key>" lines (flushed once per request)."""
    from aiohttp import web

    f = open(out, "a")  # noqa: SIM115 - for the process's life

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        t = time.time()
        key = json.loads(body)["Key"]
        f.write(f"{t:.6f} {key}\n")
        f.flush()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


# ---------------------------------------------------------------- the system under test


class System:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workdir = Path(tempfile.mkdtemp(prefix="chronicle-bench-notify-"))
        self.dbname = f"chronicle_bench_{secrets.token_hex(4)}"
        self.tag = uuid.uuid4().hex[:8]
        self.user, self.password = "benchadmin", secrets.token_hex(16)
        self.procs: list[subprocess.Popen] = []
        self.receiver: subprocess.Popen | None = None
        self.worker_proc: subprocess.Popen | None = None
        self.hook_port = free_port()
        self.hook_out = self.workdir / "webhook.log"
        self.redis_key = f"chronicle-bench-{self.tag}"
        self.pg_table = f"chronicle_bench_{self.tag}"
        self.mysql_db = f"chronicle_bench_{self.tag}"
        self.exchange = self.queue = f"chronicle-bench-{self.tag}"
        self.port = free_port()
        self.env = dict(
            os.environ,
            CHRONICLE_ROOT_USER=self.user,
            CHRONICLE_ROOT_PASSWORD=self.password,
            CHRONICLE_DATABASE_URL=f"postgresql://root@127.0.0.1:5432/{self.dbname}",
            CHRONICLE_MASTER_KEY=secrets.token_hex(32),
            CHRONICLE_LOG_LEVEL="WARNING",
            CHRONICLE_GC_INTERVAL="86400",
        )

    # -- services ----------------------------------------------------------------------

    def _pg(self, sql: str, db: str | None = None) -> list[tuple]:
        import psycopg

        url = PG_ADMIN_URL if db is None else PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + db
        with psycopg.connect(url, autocommit=True) as conn:
            cur = conn.execute(sql)
            return cur.fetchall() if cur.description else []

    def target_env(self, only: list[str]) -> dict[str, str]:
        e: dict[str, str] = {}
        pg_cs = f"host=127.0.0.1 port=5432 user=root dbname={self.dbname} sslmode=disable"
        settings = {
            "redis": ("REDIS", {"ADDRESS": REDIS, "KEY": self.redis_key, "FORMAT": "access"}),
            "webhook": ("WEBHOOK", {"ENDPOINT": f"http://127.0.0.1:{self.hook_port}/events"}),
            "postgres": (
                "POSTGRES",
                {"CONNECTION_STRING": pg_cs, "TABLE": self.pg_table, "FORMAT": "access"},
            ),
            "mysql": (
                "MYSQL",
                {"DSN_STRING": f"{MYSQL}/{self.mysql_db}", "TABLE": "events", "FORMAT": "access"},
            ),
            "amqp": (
                "AMQP",
                {
                    "URL": AMQP_URL,
                    "EXCHANGE": self.exchange,
                    "EXCHANGE_TYPE": "direct",
                    "ROUTING_KEY": "bench",
                    "DURABLE": "on",
                    "DELIVERY_MODE": "2",
                },
            ),
        }
        for name, (sub, kv) in settings.items():
            e[f"CHRONICLE_NOTIFY_{sub}_ENABLE_1"] = "on" if name in only else "off"
            for k, v in kv.items():
                e[f"CHRONICLE_NOTIFY_{sub}_{k}_1"] = v
        return e

    def start_services(self, targets: list[str]) -> None:
        self._pg(f'CREATE DATABASE "{self.dbname}"')
        subprocess.run(
            [sys.executable, "-m", "cli.main", "migrate", "--data-dir", str(self.workdir / "data")],
            env=self.env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        if "webhook" in targets:
            self.receiver = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.notify",
                    "--receiver",
                    str(self.hook_port),
                    str(self.hook_out),
                ],
                cwd=ROOT,
            )
            self.procs.append(self.receiver)
        if "mysql" in targets:
            import pymysql

            user, rest = MYSQL.split("@", 1)
            name, _, pw = user.partition(":")
            host, _, port = rest.strip("tcp()").partition(":")
            with pymysql.connect(host=host, port=int(port), user=name, password=pw, autocommit=True) as c:
                c.cursor().execute(f"CREATE DATABASE {self.mysql_db}")
        if "amqp" in targets:
            import pika

            conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
            ch = conn.channel()
            ch.exchange_declare(self.exchange, "direct", durable=True)
            ch.queue_declare(self.queue, durable=True)
            ch.queue_bind(self.queue, self.exchange, routing_key="bench")
            conn.close()

    def serve(self, targets: list[str], delivery: bool) -> None:
        self.server_log = open(self.workdir / "serve.log", "ab")  # noqa: SIM115
        self.server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli.main",
                "serve",
                "--address",
                f"127.0.0.1:{self.port}",
                "--data-dir",
                str(self.workdir / "data"),
                *([] if delivery else ["--no-delivery"]),
            ],
            env={**self.env, **self.target_env(targets)},
            cwd=ROOT,
            stdout=self.server_log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(self.server)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/minio/health/ready", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"chronicle serve did not start; see {self.workdir}")

    def worker(self, targets: list[str]) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "worker"],
            env={**self.env, **self.target_env(targets)},
            cwd=ROOT,
            stdout=self.server_log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        self.worker_proc = proc
        return proc

    def cpu_window(self, loadgen: list[int]) -> CpuWindow:
        """CPU (cores) of serve, the delivery worker, the load generator, the webhook
        receiver, our database's PostgreSQL backends and the rest of the machine (`other`:
        other people's jobs on a shared machine)."""
        groups = {
            "server": with_children(self.server.pid),  # serve --workers N forks
            "worker": [self.worker_proc.pid] if self.worker_proc else [],
            "loadgen": loadgen,
            "receiver": [self.receiver.pid] if self.receiver else [],
        }
        return CpuWindow(groups, self.dbname)

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        try:
            self._pg(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
        except Exception as e:  # noqa: BLE001
            log(f"could not drop {self.dbname}: {e}")
        try:
            import redis

            host, port = REDIS.split(":")
            redis.Redis(host=host, port=int(port)).delete(self.redis_key)
        except Exception:  # noqa: BLE001
            pass
        try:
            import pymysql

            user, rest = MYSQL.split("@", 1)
            name, _, pw = user.partition(":")
            host, _, port = rest.strip("tcp()").partition(":")
            with pymysql.connect(host=host, port=int(port), user=name, password=pw, autocommit=True) as c:
                c.cursor().execute(f"DROP DATABASE IF EXISTS {self.mysql_db}")
        except Exception:  # noqa: BLE001
            pass
        try:
            import pika

            conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
            ch = conn.channel()
            ch.queue_delete(self.queue)
            ch.exchange_delete(self.exchange)
            conn.close()
        except Exception:  # noqa: BLE001
            pass

    # -- S3 --------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def s3_setup(self, bucket: str, targets: list[str]) -> None:
        signer = Signer(self.user, self.password, "us-east-1")
        events = "".join(f"<Event>{e}</Event>" for e in ("s3:ObjectCreated:*",))
        queues = "".join(f"<QueueConfiguration>{events}<Queue>{ARNS[t]}</Queue></QueueConfiguration>" for t in targets)
        xml = f"<NotificationConfiguration>{queues}</NotificationConfiguration>".encode()

        async def go() -> None:
            from bench.run import s3

            status, body = await s3(self.host, signer, "PUT", f"/{bucket}")
            assert status == 200, body
            status, body = await s3(self.host, signer, "PUT", f"/{bucket}", [("notification", "")], xml)
            assert status == 200, body

        asyncio.run(go())

    def load(self, bucket: str, seconds: float, prefix: str) -> dict[str, Any]:
        def during(pids: list[int]) -> dict[str, float]:
            win = self.cpu_window(pids + [os.getpid()])  # we pop Redis and sample the lag
            time.sleep(max(0.0, spec["start_at"] + spec["warmup"] - time.time()))
            win.start()
            time.sleep(seconds)
            return win.stop()

        spec = {
            "host": self.host,
            "access_key": self.user,
            "secret_key": self.password,
            "op": "put",
            "bucket": bucket,
            "body_size": len(BODY),
            "concurrency": 32,
            "duration": seconds,
            "warmup": 1.0,
            "key_prefix": prefix,
            "start_at": time.time() + 1.0,
        }
        return spawn(spec, procs=2, during=during)

    # -- delivery state ----------------------------------------------------------------------

    def lag(self) -> dict[str, int]:
        rows = self._pg(
            "SELECT (SELECT COALESCE(MAX(notification_id), 0) FROM chronicle_events) AS head, "
            "(SELECT COALESCE(MAX(position), 0) FROM notify_tracking) AS follower",
            self.dbname,
        )
        head, follower = rows[0]
        out = {"follower": int(head) - int(follower)}
        for target, pending in self._pg(
            "SELECT v.target, COUNT(*) FROM notify_access_view v LEFT JOIN notify_checkpoints c "
            "ON c.target = v.target WHERE v.position > COALESCE(c.position, 0) GROUP BY v.target",
            self.dbname,
        ):
            out[target] = int(pending)
        return out


def fmt_cpu(cpu: dict[str, float]) -> str:
    order = ["server", "worker", "postgres", "loadgen", "receiver", "other"]
    return (
        "cpu(cores) "
        + " ".join(f"{k}={cpu[k]:.2f}" for k in order if k in cpu)
        + f" | machine busy {cpu['machine_busy']:.2f}/{NCPU}"
    )


# ---------------------------------------------------------------- (i) live latency


async def paced_puts(
    host: str, signer: Signer, bucket: str, rate: float, seconds: float, conns: int
) -> dict[str, float]:
    """PUT fresh keys at RATE per second for SECONDS (open loop, CONNS connections);
    returns key → wall time of the response."""
    done: dict[str, float] = {}
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    body_hash = __import__("hashlib").sha256(BODY).hexdigest()

    async def sender() -> None:
        client = RawClient(host)
        try:
            while (key := await queue.get()) is not None:
                path = f"/{bucket}/{key}"
                h = signer.headers("PUT", host, path, None, body_hash)
                head = (
                    f"PUT {quote(path, safe='/-_.~')} HTTP/1.1\r\nHost: {host}\r\nx-amz-date: {h['x-amz-date']}\r\n"
                    f"x-amz-content-sha256: {body_hash}\r\nAuthorization: {h['Authorization']}\r\n"
                    f"Content-Length: {len(BODY)}\r\n\r\n"
                )
                status, _, _ = await client.request(head, BODY, keep=True)
                if status == 200:
                    done[key] = time.time()
        finally:
            client.close()

    tasks = [asyncio.create_task(sender()) for _ in range(conns)]
    start = time.perf_counter()
    n = 0
    while (elapsed := time.perf_counter() - start) < seconds:
        due = int(elapsed * rate)
        while n < due:
            queue.put_nowait(f"lat/{n:08d}")
            n += 1
        await asyncio.sleep(0.002)
    for _ in tasks:
        queue.put_nowait(None)
    await asyncio.gather(*tasks)
    return done


def redis_arrivals(key: str, stop: threading.Event, out: dict[str, float]) -> None:
    """BLPOP the access-format list; record the arrival time of each object key."""
    import redis

    host, port = REDIS.split(":")
    r = redis.Redis(host=host, port=int(port))
    while not stop.is_set():
        item = r.blpop([key], timeout=0.5)
        if item is None:
            continue
        t = time.time()
        rec = json.loads(item[1])[0]["Event"][0]
        out[rec["s3"]["object"]["key"].replace("%2F", "/")] = t


def webhook_arrivals(path: Path, bucket: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in path.read_text().splitlines():
        t, key = line.split(" ", 1)
        b, _, k = key.partition("/")
        if b == bucket:
            out.setdefault(k, float(t))
    return out


def live(args: argparse.Namespace) -> dict[str, Any]:
    sysm = System(args)
    targets = ["redis", "webhook"]
    result: dict[str, Any] = {}
    try:
        sysm.start_services(targets)
        if args.separate_worker:
            # The production layout: the API node appends, a `chronicle worker` delivers
            # (woken by the event store's NOTIFY), each with a core of its own.
            sysm.serve(targets, delivery=False)
            sysm.worker(targets)
        else:
            sysm.serve(targets, delivery=True)
        result["layout"] = "serve + chronicle worker" if args.separate_worker else "delivery inside serve"
        # The max rate, with delivery running (it is part of the server's work).
        bucket = f"max-{sysm.tag}"
        sysm.s3_setup(bucket, targets)
        stop = threading.Event()
        popped: dict[str, float] = {}
        popper = threading.Thread(target=redis_arrivals, args=(sysm.redis_key, stop, popped), daemon=True)
        popper.start()
        samples: list[tuple[float, dict[str, int]]] = []
        sampling = threading.Event()

        def sample() -> None:
            t0 = time.time()
            while not sampling.is_set():
                samples.append((round(time.time() - t0, 1), sysm.lag()))
                time.sleep(1.0)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        seconds = 8.0 if args.quick else 15.0
        log(f"max PUT rate: 1 KiB, 32 connections, {seconds:.0f} s")
        res = sysm.load(bucket, seconds, "max/")
        ended = time.time()
        max_rate = res["req_per_s"]
        drained = None
        while time.time() - ended < 60:
            lag = sysm.lag()
            if all(v == 0 for v in lag.values()):
                drained = round(time.time() - ended, 2)
                break
            time.sleep(0.1)
        sampling.set()
        sampler.join()
        result["max"] = {
            "put_per_s": round(max_rate, 1),
            "errors": res.get("errors"),
            "lag_samples": samples,
            "drained_after_s": drained,
            "cpu": res["during"],
        }
        log(f"max {max_rate:.0f} PUT/s; lag samples {samples}; drained {drained}s after the load stopped")
        log(f"max: {fmt_cpu(res['during'])}")

        # Half that rate: latency from the PUT response to the arrival.
        rate = max_rate / 2
        seconds = 10.0 if args.quick else 20.0
        bucket = f"lat-{sysm.tag}"
        sysm.s3_setup(bucket, targets)
        popped.clear()
        log(f"latency at {rate:.0f} PUT/s for {seconds:.0f} s")
        signer = Signer(sysm.user, sysm.password, "us-east-1")
        win = sysm.cpu_window([os.getpid()])
        win.start()
        responses = asyncio.run(paced_puts(sysm.host, signer, bucket, rate, seconds, 32))
        result["half_cpu"] = cpu = win.stop()
        log(f"half rate: {fmt_cpu(cpu)}")
        time.sleep(2.0)
        stop.set()
        popper.join()
        hooks = webhook_arrivals(sysm.hook_out, bucket)
        for name, arrived in (("redis", popped), ("webhook", hooks)):
            lat = [(arrived[k] - t) * 1000 for k, t in responses.items() if k in arrived]
            missing = sum(1 for k in responses if k not in arrived)
            p = percentiles(lat, (50, 90, 99))
            result[f"latency_{name}"] = {
                "rate": round(rate, 1),
                "puts": len(responses),
                "missing": missing,
                **{k: round(v, 1) for k, v in p.items()},
            }
            log(f"{name}: {len(lat)} events, p50 {p['p50']:.1f} ms, p99 {p['p99']:.1f} ms, missing {missing}")
    finally:
        sysm.stop()
    return result


# ---------------------------------------------------------------- (ii) catch-up


def catchup(args: argparse.Namespace) -> dict[str, Any]:
    targets = args.targets.split(",")
    sysm = System(args)
    result: dict[str, Any] = {}
    try:
        sysm.start_services(targets)
        sysm.serve(targets, delivery=False)
        bucket = f"catch-{sysm.tag}"
        sysm.s3_setup(bucket, targets)
        log(f"writing {args.events} events with delivery off")
        keys = Path(sysm.workdir / "keys.txt")
        keys.write_text("\n".join(f"c/{i:08d}" for i in range(args.events)))
        spawn(
            {
                "host": sysm.host,
                "access_key": sysm.user,
                "secret_key": sysm.password,
                "op": "put",
                "bucket": bucket,
                "body_size": len(BODY),
                "concurrency": 32,
                "mode": "keys",
                "keys_file": str(keys),
            },
            procs=2,
        )
        # The follower alone (a worker with no target): log → per-target views.
        t0 = time.time()
        w = sysm.worker([])
        while sysm.lag()["follower"] > 0:
            time.sleep(0.05)
        follower_s = time.time() - t0
        w.send_signal(signal.SIGTERM)
        w.wait(15)
        views = len(targets) * args.events
        result["follower"] = {
            "events": args.events,
            "view_rows": views,
            "seconds_incl_start": round(follower_s, 2),
            "events_per_s": round(args.events / follower_s),
        }
        log(f"follower: {args.events} events → {views} view rows in {follower_s:.2f} s (incl. process start)")
        for target in targets:
            name = f"notify_{'postgres' if target == 'postgres' else target}:1"
            w = sysm.worker([target])
            claimed = None
            deadline = time.time() + 120
            while time.time() < deadline:
                rows = sysm._pg(f"SELECT position FROM notify_checkpoints WHERE target = '{name}'", sysm.dbname)
                now = time.time()
                if rows and claimed is None:
                    claimed = now
                if rows and sysm.lag().get(name, 0) == 0:
                    break
                time.sleep(0.02)
            done = time.time()
            w.send_signal(signal.SIGTERM)
            w.wait(15)
            secs = done - (claimed or done)
            rate = args.events / secs if secs else 0
            result[target] = {
                "events": args.events,
                "seconds": round(secs, 2),
                "events_per_s": round(rate),
            }
            log(f"{target}: {args.events} events in {secs:.2f} s = {rate:,.0f} events/s")
    finally:
        sysm.stop()
    return result


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--receiver":
        receiver_main(int(sys.argv[2]), sys.argv[3])
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=["live", "catchup"])
    parser.add_argument("--events", type=int, default=0, help="catch-up events (default 20,000; --quick 5,000)")
    parser.add_argument("--targets", default="redis,postgres,mysql,amqp,webhook")
    parser.add_argument(
        "--separate-worker",
        action="store_true",
        help="live: deliver from a `chronicle worker` process instead of inside serve",
    )
    parser.add_argument("--out", default="/tmp/chronicle-bench/notify.json")
    args = parser.parse_args()
    args.events = args.events or (5000 if args.quick else 20000)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the cleanup in `finally` runs
    out: dict[str, Any] = {"cpus": os.cpu_count(), "load_avg": os.getloadavg()}
    if args.only in (None, "live"):
        out["live"] = live(args)
    if args.only in (None, "catchup"):
        out["catchup"] = catchup(args)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

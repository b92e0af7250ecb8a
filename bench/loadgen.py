"""Signed S3 load generator: asyncio + aiohttp, one connection pool per process.

Each worker process runs ``concurrency`` request loops over one keep-alive pool and
signs every request with SigV4 (bench.sigv4: cached signing key, ~6 us per request).
Two modes:

* duration: warm up, then count the requests that start and finish inside a fixed
  window (PUT of fresh keys, or GET cycling over a list of keys);
* keys: PUT every key of a key file exactly once (this process takes every n-th key).

``spawn`` starts N worker processes (``python -m bench.loadgen SPEC_JSON``), lets the
caller sample CPU while they run, and sums their results.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from bench.sigv4 import EMPTY_SHA256, Signer


def percentiles(samples: list[float], points=(50, 90, 99)) -> dict[str, float]:
    if not samples:
        return {f"p{p}": 0.0 for p in points}
    s = sorted(samples)
    return {f"p{p}": s[min(len(s) - 1, int(len(s) * p / 100))] for p in points}


class _RawConnection(asyncio.BufferedProtocol):
    """One keep-alive HTTP/1.1 connection. Requests are written as bytes; the socket is read
    into one preallocated buffer (BufferedProtocol), the status line and headers are parsed
    by hand and a Content-Length body is only counted, never copied, unless ``keep``.
    Chunked (or length-less) responses go through httptools (llhttp, uvicorn's parser)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[None] | None = None
        self._buf = bytearray(1 << 20)
        self._mv = memoryview(self._buf)
        self._head = bytearray()
        self._remaining = -1  # -1: reading the head; >=0: Content-Length bytes still to come
        self._parser = None  # httptools parser for chunked responses
        self.status = 0
        self.nbytes = 0
        self.keep = False
        self.parts: list[bytes] = []
        self.closed = False
        self._close_after = False

    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._mv

    def buffer_updated(self, nbytes: int) -> None:
        try:
            self._feed(self._mv[:nbytes])
        except Exception as exc:  # noqa: BLE001 - surface as a failed request
            self._fail(ConnectionError(f"bad response: {exc!r}"))

    def _feed(self, data: memoryview) -> None:
        while len(data):
            if self._parser is not None:
                self._parser.feed_data(bytes(data))
                return
            if self._remaining < 0:
                # copy only the head: look for its end in at most the first 64 KiB
                old = len(self._head)
                self._head += data[:65536]
                end = self._head.find(b"\r\n\r\n", max(0, old - 3))
                if end < 0:
                    if len(data) > 65536:
                        raise ValueError("response head over 64 KiB")
                    return
                head = bytes(self._head[:end])
                rest = data[end + 4 - old :]
                self._head = bytearray()
                lines = head.split(b"\r\n")
                self.status = int(lines[0].split(b" ", 2)[1])
                length = None
                chunked = False
                self._close_after = False
                for line in lines[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"transfer-encoding" and b"chunked" in value.lower():
                        chunked = True
                    elif name == b"connection" and b"close" in value.lower():
                        self._close_after = True
                if chunked or length is None:
                    import httptools

                    self._parser = httptools.HttpResponseParser(self)
                    self._parser.feed_data(head + b"\r\n\r\n" + bytes(rest))
                    return
                self._remaining = length
                data = rest
                if length == 0:
                    self._complete()
                continue
            take = min(self._remaining, len(data))
            self.nbytes += take
            if self.keep:
                self.parts.append(bytes(data[:take]))
            self._remaining -= take
            data = data[take:]
            if self._remaining == 0:
                self._complete()

    # httptools callbacks (chunked responses)
    def on_body(self, body: bytes) -> None:
        self.nbytes += len(body)
        if self.keep:
            self.parts.append(body)

    def on_message_complete(self) -> None:
        if not self._parser.should_keep_alive():
            self._close_after = True
        self._parser = None
        self._complete()

    def _complete(self) -> None:
        self._remaining = -1
        if self._close_after:
            self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def connection_lost(self, exc) -> None:  # type: ignore[no-untyped-def]
        self._fail(ConnectionError("connection closed"))

    def _fail(self, exc: Exception) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    async def request(self, data: bytes, keep: bool) -> tuple[int, int, bytes]:
        self.nbytes = 0
        self.keep = keep
        self.parts = []
        self.waiter = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        self.transport.write(data)
        await self.waiter
        return self.status, self.nbytes, b"".join(self.parts)


class RawClient:
    """A minimal HTTP/1.1 client for the benchmark (one connection per request loop)."""

    def __init__(self, host: str):
        h, _, p = host.rpartition(":")
        self.addr = (h, int(p))
        self.conn: _RawConnection | None = None

    async def request(self, head: str, body: bytes, keep: bool) -> tuple[int, int, bytes]:
        if self.conn is None or self.conn.closed:
            if self.conn is not None and self.conn.transport is not None:
                self.conn.transport.close()
            loop = asyncio.get_running_loop()
            _, self.conn = await loop.create_connection(_RawConnection, *self.addr)
        return await self.conn.request(head.encode() + body if body else head.encode(), keep)

    def close(self) -> None:
        if self.conn is not None and self.conn.transport is not None:
            self.conn.transport.close()


async def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    import aiohttp
    from yarl import URL

    host = spec["host"]
    signer = Signer(spec["access_key"], spec["secret_key"], spec.get("region", "us-east-1"))
    op = spec["op"]
    bucket = spec["bucket"]
    body = b"x" * int(spec.get("body_size", 0)) if op == "put" else b""
    body_hash = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
    idx, nworkers = int(spec.get("idx", 0)), int(spec.get("nworkers", 1))
    concurrency = int(spec["concurrency"])
    mode = spec.get("mode", "duration")

    if mode == "keys":
        with open(spec["keys_file"]) as f:
            keys = [k for i, k in enumerate(f.read().split("\n")) if k and i % nworkers == idx]
        key_iter = iter(keys)
        start_at = time.time()
        window = (0.0, float("inf"))
    else:
        counter = iter(range(10**12))
        get_keys = spec.get("keys") or []
        start_at = float(spec.get("start_at", time.time()))
        w0 = start_at + float(spec.get("warmup", 1.0))
        window = (w0, w0 + float(spec["duration"]))

    def next_key() -> str | None:
        if mode == "keys":
            return next(key_iter, None)
        n = next(counter)
        if op == "get":
            return get_keys[n % len(get_keys)]
        return f"{spec.get('key_prefix', 'put/')}{idx}/{n:09d}"

    ok = 0
    nbytes = 0
    errors: Counter[str] = Counter()
    first_error: list[str] = []
    latencies: list[float] = []
    cpu: dict[str, float] = {}
    now = time.time
    perf = time.perf_counter

    client_kind = spec.get("client", "raw")
    method = op.upper()
    content_length = f"Content-Length: {len(body)}\r\n" if op == "put" else ""

    async def loop() -> None:
        nonlocal ok, nbytes
        raw = RawClient(host) if client_kind == "raw" else None
        try:
            while True:
                t = now()
                if t >= window[1]:
                    return
                key = next_key()
                if key is None:
                    return
                path = f"/{bucket}/{key}"
                headers = signer.headers(method, host, path, None, body_hash)
                t0 = perf()
                size = 0
                data = b""
                try:
                    if raw is not None:
                        head = (
                            f"{method} {quote(path, safe='/-_.~')} HTTP/1.1\r\nHost: {host}\r\n"
                            f"x-amz-date: {headers['x-amz-date']}\r\nx-amz-content-sha256: {body_hash}\r\n"
                            f"Authorization: {headers['Authorization']}\r\n{content_length}\r\n"
                        )
                        status, size, data = await raw.request(head, body, keep=op != "get")
                    elif op == "put":
                        headers["Content-Length"] = str(len(body))
                        async with session.put(
                            URL(f"http://{host}{quote(path, safe='/-_.~')}", encoded=True),
                            data=body,
                            headers=headers,
                        ) as resp:
                            data = await resp.read()
                            status = resp.status
                    else:
                        async with session.get(
                            URL(f"http://{host}{quote(path, safe='/-_.~')}", encoded=True),
                            headers=headers,
                        ) as resp:
                            status = resp.status
                            async for chunk in resp.content.iter_any():
                                size += len(chunk)
                except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                    status, data = -1, repr(exc).encode()
                t1 = now()
                if t >= window[0] and t1 <= window[1]:
                    if 200 <= status < 300:
                        ok += 1
                        nbytes += size if op == "get" else 0
                        latencies.append(perf() - t0)
                    else:
                        errors[str(status)] += 1
                        if not first_error:
                            first_error.append(f"{status} {path}: {data[:300]!r}")
                elif mode == "duration" and not (200 <= status < 300) and not first_error:
                    errors["warmup:" + str(status)] += 1
                    first_error.append(f"{status} {path}: {data[:300]!r}")
        finally:
            if raw is not None:
                raw.close()

    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=120)
    skip = ("User-Agent", "Accept-Encoding", "Content-Type", "Accept")
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, auto_decompress=False, skip_auto_headers=skip
    ) as session:

        async def cpu_sampler() -> None:
            if mode == "keys":
                cpu["start"] = time.process_time()
                return
            await asyncio.sleep(max(0.0, window[0] - now()))
            cpu["start"] = time.process_time()
            await asyncio.sleep(max(0.0, window[1] - now()))
            cpu["end"] = time.process_time()

        await asyncio.sleep(max(0.0, start_at - now()))
        t_begin = now()
        sampler = asyncio.create_task(cpu_sampler())
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        await sampler
        t_end = now()
    if mode == "keys":
        cpu["end"] = time.process_time()
        elapsed = t_end - t_begin
    else:
        elapsed = window[1] - window[0]
    return {
        "ok": ok,
        "bytes": nbytes,
        "errors": dict(errors),
        "first_error": first_error[0] if first_error else None,
        "elapsed": elapsed,
        "cpu_s": cpu.get("end", 0.0) - cpu.get("start", 0.0),
        "latencies": [round(x, 6) for x in latencies],
    }


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum worker results: rates are per-window sums; latency percentiles over all samples."""
    lat: list[float] = []
    errors: Counter[str] = Counter()
    for r in results:
        lat.extend(r["latencies"])
        errors.update(r["errors"])
    elapsed = max(r["elapsed"] for r in results)
    ok = sum(r["ok"] for r in results)
    return {
        "ok": ok,
        "elapsed_s": elapsed,
        "req_per_s": sum(r["ok"] / r["elapsed"] for r in results if r["elapsed"] > 0),
        "mib_per_s": sum(r["bytes"] / r["elapsed"] for r in results if r["elapsed"] > 0) / (1 << 20),
        "errors": dict(errors),
        "first_error": next((r["first_error"] for r in results if r["first_error"]), None),
        "loadgen_cpu_s": sum(r["cpu_s"] for r in results),
        "latency_ms": {k: v * 1000 for k, v in percentiles(lat).items()},
    }


def spawn(spec: dict[str, Any], procs: int, during: Callable[[list[int]], Any] | None = None) -> dict[str, Any]:
    """Run ``procs`` worker processes (concurrency split between them) and sum their results.

    ``during(pids)`` is called once the workers are started (it may block, e.g. to
    sample CPU over the measurement window); its return value lands under "during".
    """
    total = int(spec["concurrency"])
    procs = max(1, min(procs, total))
    children = []
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory(prefix="chronicle-loadgen-") as tmp:
        for i in range(procs):
            out = os.path.join(tmp, f"worker-{i}.json")
            s = dict(
                spec,
                idx=i,
                nworkers=procs,
                out=out,
                concurrency=total // procs + (1 if i < total % procs else 0),
            )
            children.append(
                (
                    subprocess.Popen([sys.executable, "-m", "bench.loadgen", json.dumps(s)], cwd=root),
                    out,
                )
            )
        extra = during([c.pid for c, _ in children]) if during else None
        results = []
        for c, out in children:
            if c.wait() != 0:
                raise RuntimeError(f"load generator worker failed (exit {c.returncode})")
            with open(out) as f:
                results.append(json.load(f))
    summary = summarise(results)
    summary["procs"] = procs
    summary["during"] = extra
    return summary


def main() -> None:
    spec = json.loads(sys.argv[1])
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    result = runner(run_worker(spec))
    with open(spec["out"], "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()

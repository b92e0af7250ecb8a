"""Cost of the S3 request metrics on the request path, alone (no server, no I/O):

    python -m bench.request_metrics

Times what ChronicleASGI._s3 adds per request: two perf_counter() calls, begin() (the
API name, in flight) and end() (counters, TTFB and duration buckets, traffic), for a GET
and a PUT without a query string and a ListObjectsV2 with one; and, for comparison, one
labelled prometheus-client Counter increment done the usual way. CPU time of this process
(time.process_time), so that other work on the machine weighs less on the figures.
"""

from __future__ import annotations

import timeit
from time import perf_counter, process_time

from prometheus_client import CollectorRegistry, Counter

from api.metrics.request_metrics import S3RequestMetrics
from api.request import S3Request
from api.response import Response


async def _receive() -> dict:
    return {"type": "http.request", "body": b"", "more_body": False}


def _request(method: str, key: str, query: dict[str, str]) -> S3Request:
    req = S3Request(method, f"/bucket/{key}", "", {"host": "x"}, _receive, "127.0.0.1", "id", "http")
    req.bucket, req.key, req.query = "bucket", key, query
    return req


def main() -> None:
    metrics = S3RequestMetrics()
    cases = {
        "GET object": (_request("GET", "k", {}), Response(200, {}, b"x" * 1024)),
        "PUT object": (_request("PUT", "k", {}), Response(200, {}, b"")),
        "ListObjectsV2": (
            _request("GET", "", {"list-type": "2", "prefix": "a/"}),
            Response(200, {}, b"<x/>"),
        ),
    }
    rounds = 200_000
    for name, (req, response) in cases.items():

        def one(req: S3Request = req, response: Response = response) -> None:
            started = perf_counter()
            api = metrics.begin(req)
            responded = perf_counter()
            metrics.end(api, req, response, started, responded)

        best = min(timeit.repeat(one, timer=process_time, number=rounds, repeat=5)) / rounds
        print(f"{name:>14}: {best * 1e6:.2f} µs CPU per request (best of 5 x {rounds})")
    counter = Counter("bench_requests", "x", ["api", "server"], registry=CollectorRegistry())
    best = min(timeit.repeat(lambda: counter.labels("getobject", "s").inc(), number=rounds, repeat=5)) / rounds
    print(f"{'for comparison':>14}: {best * 1e6:.2f} µs CPU for one prometheus-client labels().inc()")


if __name__ == "__main__":
    main()

"""S3 request metrics, as MinIO's v2 cluster metrics name them (cmd/metrics-v2.go):
requests, errors (4xx and 5xx), in flight, time to first byte by API name, and the S3
traffic in and out; plus ``chronicle_s3_request_duration_seconds``, the whole request
(MinIO v2 has no duration histogram).

The request path pays a few float additions in this worker's row of the shared cells
(api.metrics.slab) and two binary searches: no labels are looked up and nothing is
allocated. Labels are attached at scrape time.
"""

from __future__ import annotations

from bisect import bisect_left
from time import perf_counter

from api.metrics.exposition import Family
from api.metrics.s3_api_names import API_NAMES, api_index
from api.metrics.slab import SLAB, Slab
from api.request import S3Request
from api.response import Response

# MinIO's buckets for the TTFB distribution (httpRequestsDuration in cmd/metrics.go).
TTFB_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DURATION_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
)

# Cells per API name: counters, then the TTFB and duration buckets (the last one of each
# for values above every bound).
REQUESTS, ERRORS_4XX, ERRORS_5XX, INFLIGHT, DURATION_SUM = range(5)
TTFB = 5
DURATION = TTFB + len(TTFB_BUCKETS) + 1
STRIDE = DURATION + len(DURATION_BUCKETS) + 1

_APIS = SLAB.reserve(len(API_NAMES) * STRIDE)
_RECEIVED = SLAB.reserve(2)  # body bytes read from requests, then written in responses
_SENT = _RECEIVED + 1


class S3RequestMetrics:
    def __init__(self, slab: Slab = SLAB) -> None:
        self.slab = slab
        self.cells = slab.row()

    def begin(self, req: S3Request) -> int:
        """The request's API (an index in API_NAMES), now in flight; -1 for a request that
        is not an S3 call (then end() is not called)."""
        api = api_index(req)
        if api >= 0:
            self.cells[_APIS + api * STRIDE + INFLIGHT] += 1
        return api

    def end(self, api: int, req: S3Request, response: Response, started: float, responded: float) -> None:
        """The response was sent (or the client went away while it was): `started` when
        the request arrived, `responded` when its head was handed to the server."""
        finished = perf_counter()
        cells = self.cells
        base = _APIS + api * STRIDE
        cells[base + INFLIGHT] -= 1
        cells[base + REQUESTS] += 1
        status = response.status
        if status >= 400:  # MinIO's errors_total: these two together
            cells[base + (ERRORS_5XX if status >= 500 else ERRORS_4XX)] += 1
        cells[base + TTFB + bisect_left(TTFB_BUCKETS, responded - started)] += 1
        took = finished - started
        cells[base + DURATION + bisect_left(DURATION_BUCKETS, took)] += 1
        cells[base + DURATION_SUM] += took
        if req.body_bytes:
            cells[_RECEIVED] += req.body_bytes
        if req.method != "HEAD":
            body = response.body
            sent = len(body) if type(body) is bytes else (response.length or 0)
            if sent:
                cells[_SENT] += sent

    def abandoned(self, api: int) -> None:
        """The request was cancelled before it had a response (the server is stopping)."""
        base = _APIS + api * STRIDE
        self.cells[base + INFLIGHT] -= 1
        self.cells[base + REQUESTS] += 1

    def families(self, server: str) -> list[Family]:
        """MinIO's families, then Chronicle's, summed over the server's workers."""
        on = {"server": server}
        requests = Family("minio_s3_requests_total", "Total number of S3 requests", "counter")
        errors = Family(
            "minio_s3_requests_errors_total",
            "Total number of S3 requests with (4xx and 5xx) errors",
            "counter",
        )
        errors_4xx = Family(
            "minio_s3_requests_4xx_errors_total",
            "Total number of S3 requests with (4xx) errors",
            "counter",
        )
        errors_5xx = Family(
            "minio_s3_requests_5xx_errors_total",
            "Total number of S3 requests with (5xx) errors",
            "counter",
        )
        inflight = Family(
            "minio_s3_requests_inflight_total",
            "Total number of S3 requests currently in flight",
            "gauge",
        )
        # MinIO exports its TTFB histogram as a gauge per bucket (cumulative counts, le
        # written with three decimals), without _sum and _count.
        ttfb = Family(
            "minio_s3_requests_ttfb_seconds_distribution",
            "Distribution of time to first byte across API calls",
            "gauge",
        )
        duration = Family(
            "chronicle_s3_request_duration_seconds",
            "Time from a request's arrival until its response was sent",
            "histogram",
        )
        cells = self.slab.totals(_APIS, len(API_NAMES) * STRIDE)
        for i, name in enumerate(API_NAMES):
            base = i * STRIDE
            if not cells[base + REQUESTS] and not cells[base + INFLIGHT]:
                continue  # as MinIO: an API appears once it has been called
            labels = {"api": name, **on}
            requests.add(labels, cells[base + REQUESTS])
            inflight.add(labels, cells[base + INFLIGHT])
            if cells[base + ERRORS_4XX] or cells[base + ERRORS_5XX]:
                errors.add(labels, cells[base + ERRORS_4XX] + cells[base + ERRORS_5XX])
            if cells[base + ERRORS_4XX]:
                errors_4xx.add(labels, cells[base + ERRORS_4XX])
            if cells[base + ERRORS_5XX]:
                errors_5xx.add(labels, cells[base + ERRORS_5XX])
            cumulative = 0.0
            for bound, count in zip((*TTFB_BUCKETS, float("inf")), cells[base + TTFB : base + DURATION], strict=True):
                cumulative += count
                ttfb.add(
                    {**labels, "le": f"{bound:.3f}" if bound != float("inf") else "+Inf"},
                    cumulative,
                )
            duration.add_histogram(
                labels,
                DURATION_BUCKETS,
                cells[base + DURATION : base + STRIDE],
                cells[base + DURATION_SUM],
            )
        received, sent = self.slab.totals(_RECEIVED, 2)
        traffic_in = Family("minio_s3_traffic_received_bytes", "Total number of s3 bytes received", "counter")
        traffic_out = Family("minio_s3_traffic_sent_bytes", "Total number of s3 bytes sent", "counter")
        traffic_in.add(on, received)
        traffic_out.add(on, sent)
        return [
            requests,
            errors,
            errors_4xx,
            errors_5xx,
            inflight,
            ttfb,
            traffic_in,
            traffic_out,
            duration,
        ]

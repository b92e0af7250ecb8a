"""Prometheus metrics at ``/minio/v2/metrics/cluster`` (and ``/node``), under MinIO's v2
names, labels and types where MinIO has the metric, so that MinIO's Grafana dashboards
work; ``chronicle_*`` otherwise. Every family carries MinIO's ``server`` label: this
node's address as the scrape reached it.

- S3 requests (api.metrics.request_metrics): ``minio_s3_requests_*`` by API name,
  ``minio_s3_traffic_*``, ``chronicle_s3_request_duration_seconds``;
- the event store (api.metrics.store_metrics): append time and group-commit size, the log's
  head, the notification follower's position and lag;
- notification delivery per target, from the database (every node reports the same
  figures whichever worker delivers): MinIO's ``minio_notify_events_sent_total`` /
  ``minio_notify_events_errors_total`` (summed over targets) and
  ``minio_notify_target_total_events`` / ``minio_notify_target_failed_events`` /
  ``minio_notify_target_queue_length`` per target (labels ``target_id``, ``target_name``);
  ``chronicle_notify_target_*``: checkpoint, head, lag in seconds, up;
- the request audit's webhooks (api.metrics.audit_webhook_metrics): MinIO's
  ``minio_audit_total_messages`` / ``minio_audit_failed_messages`` /
  ``minio_audit_target_queue_length`` per ``audit_webhook`` target;
- the event stream (this worker's): ``chronicle_event_stream_waiting_subscribers`` and
  ``chronicle_event_stream_index_looks_total`` (one shared look per wake-up, whatever the
  number of subscribers, see api.events.index_watch), ``chronicle_event_stream_pages_read_total``;
- the process (api.metrics.process_metrics): prometheus-client's ``process_*``, ``python_gc_*``,
  ``python_info``.

The request and event-store figures are this node's (summed over its workers); the
others come from the database. MinIO's cluster endpoint also gathers its peers' figures:
scrape every Chronicle node.

Authentication as MinIO's: a bearer JWT (HS512, issuer "prometheus", subject an access
key, signed with its secret — `chronicle admin prometheus generate` prints one), or a
SigV4-signed request; ``CHRONICLE_PROMETHEUS_AUTH_TYPE=public`` opens the endpoint.
The caller needs admin:Prometheus (root has it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jwt
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from api.admin.targets import delivery_states
from api.auth.authenticate import authenticate_request
from api.auth.authz import authorize_admin
from api.errors import S3Error
from api.metrics.audit_webhook_metrics import audit_webhook_families
from api.metrics.exposition import Family, render
from api.metrics.process_metrics import ProcessMetrics
from api.metrics.prometheus_token import claimed_access_key, verify
from api.metrics.request_metrics import S3RequestMetrics
from api.metrics.store_metrics import StoreMetrics
from api.response import Response

if TYPE_CHECKING:
    from api.context import ServerContext
    from api.events.stream import EventStream
    from api.request import S3Request

METRICS_PATHS = ("/minio/v2/metrics/cluster", "/minio/v2/metrics/node")


class ServerMetrics:
    """This worker's instruments (made after the fork, see api.metrics.slab) and the
    metrics endpoint."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.s3 = S3RequestMetrics()
        self.store = StoreMetrics()
        self.store.install(ctx.committer)
        self.process = ProcessMetrics()
        self.event_stream: EventStream | None = None  # set by the app that serves it

    async def scrape(self, req: S3Request) -> Response:
        ctx = self.ctx
        if not ctx.settings.prometheus_public:
            await _authenticate(req, ctx)
        server = req.origin.partition("://")[2]
        families = self.s3.families(server)
        families += await self.store.families(ctx, server)
        families += notify_families(await delivery_states(ctx), server)
        families += await audit_webhook_families(ctx, server)
        if self.event_stream is not None:
            families += stream_families(self.event_stream, server)
        body = render(families) + self.process.render()
        return Response(200, {"content-type": CONTENT_TYPE_PLAIN_0_0_4}, body)


def stream_families(stream: EventStream, server: str) -> list[Family]:
    on, watch = {"server": server}, stream.watch
    waiting = Family(
        "chronicle_event_stream_waiting_subscribers", "Event-stream subscribers waiting for new events", "gauge"
    )
    waiting.add(on, watch.waiting)
    looks = Family(
        "chronicle_event_stream_index_looks_total",
        "Looks at how far the audit index reaches, shared by every waiting subscriber",
        "counter",
    )
    looks.add(on, watch.looks)
    pages = Family(
        "chronicle_event_stream_pages_read_total", "Pages of the audit index read for subscribers", "counter"
    )
    pages.add(on, stream.pages_read)
    return [waiting, looks, pages]


def notify_families(states: list[dict[str, Any]], server: str) -> list[Family]:
    on = {"server": server}
    sent = Family("minio_notify_events_sent_total", "Total number of events sent to the targets", "counter")
    errors = Family(
        "minio_notify_events_errors_total",
        "Events that were failed to be sent to the targets",
        "counter",
    )
    sent.add(on, sum(s["delivered"] for s in states))
    errors.add(on, sum(s["failed"] for s in states))
    per_target = {
        "total": Family(
            "minio_notify_target_total_events",
            "Total number of events sent (or) queued to the target",
            "counter",
        ),
        "failed": Family(
            "minio_notify_target_failed_events",
            "Number of events failed to be sent (or) queued to the target",
            "counter",
        ),
        "queue": Family(
            "minio_notify_target_queue_length",
            "Number of events not yet delivered to the target",
            "gauge",
        ),
        "checkpoint": Family("chronicle_notify_target_checkpoint", "Log position delivered up to", "gauge"),
        "head": Family(
            "chronicle_notify_target_head",
            "Newest log position with a record for the target",
            "gauge",
        ),
        "lag_seconds": Family("chronicle_notify_target_lag_seconds", "Age of the oldest undelivered event", "gauge"),
        "up": Family("chronicle_notify_target_up", "1 unless the last delivery attempt failed", "gauge"),
    }
    for s in states:
        subsystem, _, target_id = s["target"].partition(":")
        labels = {"target_id": target_id, "target_name": subsystem.removeprefix("notify_"), **on}
        per_target["total"].add(labels, s["delivered"])
        per_target["failed"].add(labels, s["failed"])
        per_target["queue"].add(labels, s["lag_events"])
        per_target["checkpoint"].add(labels, s["checkpoint"])
        per_target["head"].add(labels, s["head"])
        per_target["lag_seconds"].add(labels, s["lag_seconds"])
        per_target["up"].add(labels, 0 if s["state"] == "failing" else 1)
    return [sent, errors, *per_target.values()]


async def _authenticate(req: S3Request, ctx: ServerContext) -> None:
    bearer = req.headers.get("authorization", "")
    if bearer.lower().startswith("bearer "):
        identity = await _verify_jwt(bearer[7:].strip(), ctx)
        req.identity = identity
    else:
        await authenticate_request(req, ctx)
        if req.identity is None:
            raise S3Error("AccessDenied")
    await authorize_admin(req, ctx, "admin:Prometheus")


async def _verify_jwt(token: str, ctx: ServerContext) -> Any:
    try:
        access_key = claimed_access_key(token)
    except jwt.PyJWTError:
        raise S3Error("AccessDenied", "The bearer token is not a valid JWT.") from None
    secret, identity = await ctx.identities.resolve(access_key, None)
    if secret is None or identity is None:
        raise S3Error("AccessDenied", "The bearer token's key is unknown or disabled.")
    try:
        verify(token, secret)
    except jwt.PyJWTError as e:
        raise S3Error("AccessDenied", f"The bearer token is not valid: {e}.") from None
    return identity

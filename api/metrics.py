"""Prometheus metrics at ``/minio/v2/metrics/cluster`` (and ``/node``), with
prometheus-client. Notification delivery per target, from the database, so every node
reports the same figures whichever worker delivers:

- MinIO's ``minio_notify_events_sent_total`` / ``minio_notify_events_errors_total``
  (summed over targets) and ``minio_notify_target_total_events`` /
  ``minio_notify_target_failed_events`` / ``minio_notify_target_queue_length`` per
  target (labels ``target_id``, ``target_name`` as in MinIO's v3 metrics);
- ``chronicle_notify_target_*``: checkpoint, head, lag in events and seconds, up.

Authentication as MinIO's: a bearer JWT (HS512, issuer "prometheus", subject an access
key, signed with its secret — `chronicle admin prometheus generate` prints one), or a
SigV4-signed request; ``CHRONICLE_PROMETHEUS_AUTH_TYPE=public`` opens the endpoint.
The caller needs admin:Prometheus (root has it).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from api.errors import S3Error
from api.response import Response

if TYPE_CHECKING:
    from api.context import ServerContext
    from api.request import S3Request

METRICS_PATHS = ("/minio/v2/metrics/cluster", "/minio/v2/metrics/node")


class _Snapshot:
    """A collector over one reading of the delivery states."""

    def __init__(self, states: list[dict[str, Any]]) -> None:
        self.states = states

    def collect(self) -> Any:
        sent = CounterMetricFamily("minio_notify_events_sent", "Events delivered to targets")
        errors = CounterMetricFamily("minio_notify_events_errors", "Event deliveries that failed (retried)")
        sent.add_metric([], sum(s["delivered"] for s in self.states))
        errors.add_metric([], sum(s["failed"] for s in self.states))
        yield sent
        yield errors
        labels = ["target_id", "target_name"]
        per_target = {
            "total": CounterMetricFamily("minio_notify_target_total_events", "Events delivered", labels=labels),
            "failed": CounterMetricFamily("minio_notify_target_failed_events", "Failed deliveries", labels=labels),
            "queue": GaugeMetricFamily("minio_notify_target_queue_length", "Events not yet delivered", labels=labels),
            "checkpoint": GaugeMetricFamily(
                "chronicle_notify_target_checkpoint", "Log position delivered up to", labels=labels
            ),
            "head": GaugeMetricFamily(
                "chronicle_notify_target_head", "Newest log position with a record for the target", labels=labels
            ),
            "lag_seconds": GaugeMetricFamily(
                "chronicle_notify_target_lag_seconds", "Age of the oldest undelivered event", labels=labels
            ),
            "up": GaugeMetricFamily(
                "chronicle_notify_target_up", "1 unless the last delivery attempt failed", labels=labels
            ),
        }
        for s in self.states:
            subsystem, _, target_id = s["target"].partition(":")
            values = [target_id, subsystem.removeprefix("notify_")]
            per_target["total"].add_metric(values, s["delivered"])
            per_target["failed"].add_metric(values, s["failed"])
            per_target["queue"].add_metric(values, s["lag_events"])
            per_target["checkpoint"].add_metric(values, s["checkpoint"])
            per_target["head"].add_metric(values, s["head"])
            per_target["lag_seconds"].add_metric(values, s["lag_seconds"])
            per_target["up"].add_metric(values, 0 if s["state"] == "failing" else 1)
        yield from per_target.values()


async def metrics(req: S3Request, ctx: ServerContext) -> Response:
    if os.environ.get("CHRONICLE_PROMETHEUS_AUTH_TYPE", "jwt").lower() != "public":
        await _authenticate(req, ctx)
    from api.admin.targets import delivery_states

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(await delivery_states(ctx)))
    return Response(200, {"content-type": CONTENT_TYPE_LATEST}, generate_latest(registry))


async def _authenticate(req: S3Request, ctx: ServerContext) -> None:
    from api.authz import authorize_admin
    from api.router import authenticate_request

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
    import jwt

    try:
        claims = jwt.decode(token, options={"verify_signature": False})
        access_key = str(claims.get("sub") or claims.get("accessKey") or "")
    except jwt.PyJWTError:
        raise S3Error("AccessDenied", "The bearer token is not a valid JWT.") from None
    secret, identity = await ctx.identities.resolve(access_key, None)
    if secret is None or identity is None:
        raise S3Error("AccessDenied", "The bearer token's key is unknown or disabled.")
    try:
        jwt.decode(token, secret, algorithms=["HS512"], issuer="prometheus", options={"require": ["exp"]})
    except jwt.PyJWTError as e:
        raise S3Error("AccessDenied", f"The bearer token is not valid: {e}.") from None
    return identity


def prometheus_token(access_key: str, secret_key: str, *, days: int = 36500) -> str:
    """A bearer token as `mc admin prometheus generate` makes one."""
    import time

    import jwt

    now = int(time.time())
    return jwt.encode({"exp": now + days * 86400, "sub": access_key, "iss": "prometheus"}, secret_key, algorithm="HS512")

"""``GET /minio/admin/v3/chronicle/targets``: each notification target's delivery state
(Chronicle's own admin call; MinIO has none). What `chronicle admin targets` shows and
what /minio/v2/metrics/cluster exports."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from api.response import Response
from domain.notifications import parse_event_time
from projections.notifications.queries import target_states

if TYPE_CHECKING:
    from api.admin.call import AdminCall
    from api.context import ServerContext


async def delivery_states(ctx: ServerContext) -> list[dict[str, Any]]:
    """Configured targets and any target with delivery state, with lag in seconds."""
    configured = {f"{t['subsystem']}:{t['id']}": t for t in (await ctx.current_targets()).describe()}
    states = await ctx.read(target_states, tuple(configured))
    now = time.time()
    out = []
    for state in states:
        cfg = configured.get(state["target"])
        oldest = state["oldest_pending"]
        lag_seconds = 0.0
        if oldest:
            lag_seconds = max(0.0, now - parse_event_time(oldest).timestamp())
        failing = state["last_error_us"] > state["last_delivery_us"]
        out.append(
            {
                **state,
                "arn": cfg["arn"] if cfg else "",
                "enabled": bool(cfg and cfg["enabled"]),
                "lag_seconds": round(lag_seconds, 3),
                "state": "not configured" if cfg is None else "failing" if failing else "ok",
            }
        )
    return out


async def list_targets(call: AdminCall) -> Response:
    await call.authorize()
    return call.json({"targets": await delivery_states(call.ctx)})

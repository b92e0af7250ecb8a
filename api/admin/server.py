"""Admin API: server information."""

from __future__ import annotations

import time
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

from api.admin import shapes
from api.response import Response
from projections.chain.keys import current_public_key, public_pem
from projections.namespace.queries import list_buckets, namespace_usage

if TYPE_CHECKING:
    from api.admin.call import AdminCall


def _version() -> str:
    try:
        return version("chronicle-s3")
    except Exception:  # noqa: BLE001 - not installed as a distribution
        return "0.1.0"


async def server_info(call: AdminCall) -> Response:
    await call.authorize()
    buckets = await call.read(list_buckets)
    usage = await call.read(namespace_usage)
    host = call.req.headers.get("host", "")
    settings = call.ctx.settings
    return call.json(
        shapes.info_message(
            deployment_id=call.ctx.deployment_id,
            endpoint=host,
            version=_version(),
            uptime_seconds=int(time.monotonic() - call.ctx.started_monotonic),
            buckets=len(buckets),
            objects=usage["objects"],
            versions=usage["versions"],
            delete_markers=usage["delete_markers"],
            usage_bytes=usage["size"],
            region=settings.region,
            sqs_arns=(await call.ctx.current_targets()).arns(),
        )
        | await _chain_key(call)
    )


async def _chain_key(call: AdminCall) -> dict[str, Any]:
    """Chronicle's own field: the public key that verifies the chain's signed checkpoints (PEM),
    once the chain linker made it. madmin clients ignore fields they do not know."""
    key = await call.read(current_public_key)
    return {} if key is None else {"chainPublicKey": {"id": key[0], "pem": public_pem(key[1])}}

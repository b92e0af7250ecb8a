"""The deployment's id, as MinIO's x-minio-deployment-id: the same on every node and across
replays, different between deployments. It is derived from the master key's check value
(stored once in chronicle_settings), so it needs no event of its own."""

from __future__ import annotations

import hashlib
import uuid

from projections.eventstore.tx import Tx

KEY_CHECK_SETTING = "master-key-check"


def deployment_id_for(key_check: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"chronicle:deployment:{key_check}"))


def deployment_id(tx: Tx) -> str:
    """'' before the first start recorded the key (a store replayed by tools only)."""
    value = tx.scalar("SELECT value FROM chronicle_settings WHERE name = ?", (KEY_CHECK_SETTING,))
    return deployment_id_for(value) if value else ""


def node_id(origin_endpoint: str) -> str:
    """x-amz-id-2 of the node that served a request: MinIO sends the hex SHA-256 of the
    node's host:port."""
    if not origin_endpoint:
        return ""
    host_port = origin_endpoint.split("://", 1)[-1]
    return hashlib.sha256(host_port.encode()).hexdigest()

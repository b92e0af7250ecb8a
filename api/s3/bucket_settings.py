"""Bucket settings that authorization and several handlers read: the public access block
and ObjectOwnership (bucket configurations, read only on the paths that need them)."""

from __future__ import annotations

from typing import Any

from api.errors import S3Error
from domain.ownership import OWNERSHIP_MODES, PUBLIC_ACCESS_FIELDS
from projections.namespace.queries import bucket_config

PUBLIC_ACCESS_BLOCK = "publicAccessBlock"
OWNERSHIP_CONTROLS = "ownershipControls"


def public_access_settings(tx: Any, bucket: str) -> dict[str, bool]:
    """The bucket's four public access block settings (all False without a configuration)."""
    doc = bucket_config(tx, bucket, PUBLIC_ACCESS_BLOCK)
    return {f: bool(doc.get(f)) if isinstance(doc, dict) else False for f in PUBLIC_ACCESS_FIELDS}


def ownership(tx: Any, bucket: str) -> str | None:
    """The bucket's ObjectOwnership, or None without a configuration."""
    doc = bucket_config(tx, bucket, OWNERSHIP_CONTROLS)
    return doc.get("ObjectOwnership") if isinstance(doc, dict) else None


def check_ownership_mode(value: str) -> str:
    """An x-amz-object-ownership header's value, refused unless it names a mode."""
    if value not in OWNERSHIP_MODES:
        raise S3Error(
            "InvalidArgument",
            "Invalid x-amz-object-ownership header value",
            extra={"ArgumentName": "x-amz-object-ownership", "ArgumentValue": value},
        )
    return value

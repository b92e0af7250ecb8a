"""Read side of ACLs: a bucket's ACL document, an object version's ACL, and the users a
canonical ID may name."""

from __future__ import annotations

from typing import Any

import orjson

from projections.eventstore.tx import Tx
from projections.namespace.queries import bucket_config


def bucket_acl(tx: Tx, bucket: str) -> dict[str, Any] | None:
    """The bucket's ACL document; None when it has the default (owner FULL_CONTROL)."""
    doc = bucket_config(tx, bucket, "acl")
    return doc if isinstance(doc, dict) else None


def object_acl(tx: Tx, bucket: str, key: str, version_id: str | None) -> dict[str, Any] | None:
    """{"owner", "acl", "is_delete_marker", "version_id", "id"} of the addressed version (the
    latest without a version id); "acl" is None for a version without an explicit ACL."""
    if version_id is None:
        row = tx.one(
            "SELECT id, version_id, owner, acl, is_delete_marker FROM ns_versions "
            "WHERE bucket = ? AND key = ? AND is_latest",
            (bucket, key),
        )
    else:
        row = tx.one(
            "SELECT id, version_id, owner, acl, is_delete_marker FROM ns_versions "
            "WHERE bucket = ? AND key = ? AND version_id = ?",
            (bucket, key, version_id),
        )
    if row is None:
        return None
    row["is_delete_marker"] = bool(row["is_delete_marker"])
    row["acl"] = orjson.loads(row["acl"]) if row["acl"] else None
    return row


def user_names(tx: Tx) -> list[str]:
    """Every IAM user's name (root is not in the table)."""
    return [r["name"] for r in tx.all("SELECT name FROM iam_users ORDER BY name")]

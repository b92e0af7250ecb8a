"""Bucket quotas: MinIO's ``set-bucket-quota`` and ``get-bucket-quota`` (madmin-go
SetBucketQuota / GetBucketQuota, minio-py bucket_quota_set / get / clear, `mc quota`).

The body is madmin's BucketQuota as plain JSON: ``size`` (``quota``, its deprecated name,
which minio-py still sends), ``rate``, ``requests``, ``quotatype``; Chronicle adds
``objects``, the most versions (not delete markers) the bucket may hold. Only the hard
quota exists (MinIO removed "fifo"); a limit of 0 is none, so setting both to 0 clears the
quota, as ``mc quota clear`` does. Bandwidth and request rates MinIO accepts but never
enforces are refused rather than ignored. The quota is the Bucket's QuotaSet event; writes
check it under the store's lock (domain.preconditions.WithinQuota).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from api.admin.errors import AdminError, invalid_argument, malformed_json
from api.services import buckets
from projections.namespace.queries import get_bucket
from projections.namespace.usage import bucket_usage

if TYPE_CHECKING:
    from api.admin.call import AdminCall
    from api.response import Response
    from projections.eventstore.tx import Tx

HARD = "hard"
FIELDS = ("quota", "size", "rate", "requests", "quotatype", "objects")


def parse_quota(body: bytes) -> tuple[int, int]:
    """(max bytes, max objects) of a set-bucket-quota body; 0 is no limit."""
    try:
        doc = json.loads(body or b"{}")
    except ValueError as exc:
        raise malformed_json(str(exc)) from None
    if not isinstance(doc, dict):
        raise malformed_json("a JSON object is expected")
    unknown = sorted(set(doc) - set(FIELDS))
    if unknown:
        raise malformed_json(f"unknown field {unknown[0]!r}; the fields are {', '.join(FIELDS)}")
    numbers = {}
    for field in ("quota", "size", "rate", "requests", "objects"):
        value = doc.get(field, 0)
        if type(value) is not int or not 0 <= value < 1 << 63:
            raise malformed_json(f"{field} must be a whole number of 0 or more")
        numbers[field] = value
    if numbers["rate"] or numbers["requests"]:
        raise invalid_argument("Bandwidth (rate) and request quotas are not supported: set size and objects only.")
    max_bytes = numbers["size"] or numbers["quota"]
    max_objects = numbers["objects"]
    kind = doc.get("quotatype", "")
    if (max_bytes or max_objects) and kind != HARD:
        raise invalid_argument(f"Invalid quota type {kind!r}: only 'hard' quotas exist ('fifo' was removed).")
    return max_bytes, max_objects


def quota_document(row: dict[str, Any], usage: tuple[int, int] | None = None) -> dict[str, Any]:
    """madmin's BucketQuota (``quotatype`` only when a quota is set), with ``objects``;
    with usage, Chronicle's ``usage`` too (what the quota counts now)."""
    max_bytes, max_objects = int(row["quota_bytes"]), int(row["quota_objects"])
    doc: dict[str, Any] = {"quota": max_bytes, "size": max_bytes, "rate": 0, "requests": 0}
    if max_bytes or max_objects:
        doc["quotatype"] = HARD
    doc["objects"] = max_objects
    if usage is not None:
        doc["usage"] = {"size": usage[0], "objects": usage[1]}
    return doc


def no_such_bucket() -> AdminError:
    return AdminError("NoSuchBucket", "The specified bucket does not exist", 404)


async def set_bucket_quota(call: AdminCall) -> Response:
    await call.authorize()
    name = call.q("bucket")
    if not name or await call.read(get_bucket, name) is None:
        raise no_such_bucket()
    max_bytes, max_objects = parse_quota(await call.body())
    await buckets.change_bucket(
        call.ctx,
        name,
        call.actor(),
        lambda b, actor: b.set_quota(max_bytes=max_bytes, max_objects=max_objects, actor=actor),
    )
    return call.ok()


def _quota_and_usage(tx: Tx, name: str) -> tuple[dict[str, Any], tuple[int, int]] | None:
    row = get_bucket(tx, name)
    return None if row is None else (row, bucket_usage(tx, name))


async def get_bucket_quota(call: AdminCall) -> Response:
    await call.authorize()
    name = call.q("bucket")
    found = await call.read(_quota_and_usage, name) if name else None
    if found is None:
        raise no_such_bucket()
    row, usage = found
    return call.json(quota_document(row, usage))

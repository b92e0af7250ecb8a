"""The store's side of a write plan's preconditions: each is evaluated in the append
transaction, after the store's lock is taken, so it is atomic with the write. This module
reads the rows a precondition is about; the precondition (domain.preconditions) judges them
and raises Refused."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from domain.preconditions import (
    READS_ONLY_BUCKETS,
    AccessKeyIsUsers,
    BucketExists,
    BucketIsEmpty,
    BucketIsFree,
    HasNoPolicies,
    InlinePolicyExists,
    NameIsFree,
    ObjectMatches,
    PartsUnchanged,
    Precondition,
    ServiceAccountAllowed,
    UploadIsOpen,
    VersionMatches,
    VersionStillExists,
    WithinQuota,
)
from projections.eventstore.tx import Tx
from projections.iam import queries as iam
from projections.namespace import queries as ns
from projections.namespace.projection import NULL_VERSION
from projections.namespace.usage import bucket_usage


def verify(tx: Tx, preconditions: Iterable[Precondition]) -> None:
    """Raise the first precondition's refusal that does not hold."""
    for precondition in preconditions:
        _VERIFY[type(precondition)](tx, precondition)


def _bucket_exists(tx: Tx, p: BucketExists) -> None:
    if ns.get_bucket(tx, p.bucket) is None:
        raise p.refusal()


def has_quota(bucket_row: Mapping[str, Any] | None) -> bool:
    return bucket_row is not None and bool(bucket_row["quota_bytes"] or bucket_row["quota_objects"])


def _within_quota(tx: Tx, p: WithinQuota) -> None:
    row = ns.get_bucket(tx, p.bucket)
    if not has_quota(row):
        return  # (the bucket row is cached in the transaction: free for a bucket without quota)
    assert row is not None
    replaced = None
    if p.key is not None and row["versioning"] != "Enabled":
        replaced = tx.one(
            "SELECT size, is_delete_marker FROM ns_versions WHERE bucket = ? AND key = ? AND version_id = ?",
            (p.bucket, p.key, NULL_VERSION),
        )
    p.judge((int(row["quota_bytes"]), int(row["quota_objects"])), bucket_usage(tx, p.bucket), replaced)


def reads_only_bucket_rows(tx: Tx, preconditions: Iterable[Precondition]) -> bool:
    """The preconditions read nothing but bucket rows (those of their buckets, in this
    transaction): a plan holding no other may be checked before the create-only plans ahead
    of it in its batch are applied (projections.eventstore.fast_path)."""
    for p in preconditions:
        if type(p) is WithinQuota:
            if has_quota(ns.get_bucket(tx, p.bucket)):
                return False
        elif type(p) not in READS_ONLY_BUCKETS:
            return False
    return True


def _bucket_is_free(tx: Tx, p: BucketIsFree) -> None:
    p.judge(ns.get_bucket(tx, p.bucket))


def _bucket_is_empty(tx: Tx, p: BucketIsEmpty) -> None:
    if ns.bucket_has_versions(tx, p.bucket):
        raise p.refusal()


def _object_matches(tx: Tx, p: ObjectMatches) -> None:
    if p.if_match is not None or p.if_none_match is not None:
        p.judge(ns.live_object(tx, p.bucket, p.key))


def _version_matches(tx: Tx, p: VersionMatches) -> None:
    if p.etag is None and p.mtime_us is None and p.size is None:
        return
    if p.version_id:
        target = ns.version_by_id(tx, p.bucket, p.key, p.version_id)
    else:
        target = ns.newest_object_version(tx, p.bucket, p.key)
    p.judge(target)


def _version_still_exists(tx: Tx, p: VersionStillExists) -> None:
    if tx.one("SELECT id FROM ns_versions WHERE id = ?", (p.version_row_id,)) is None:
        raise p.refusal()


def _upload_is_open(tx: Tx, p: UploadIsOpen) -> None:
    if ns.get_upload(tx, p.upload_id) is None:
        raise p.refusal()


def _parts_unchanged(tx: Tx, p: PartsUnchanged) -> None:
    rows = tx.all("SELECT part_number, id FROM ns_parts WHERE upload_id = ?", (p.upload_id,))
    p.judge({int(r["part_number"]): r["id"] for r in rows})


def _name_is_free(tx: Tx, p: NameIsFree) -> None:
    p.judge(iam.stored_name(tx, p.kind, p.name))


def _access_key_is_users(tx: Tx, p: AccessKeyIsUsers) -> None:
    p.judge(iam.key(tx, p.name))


def _service_account_allowed(tx: Tx, p: ServiceAccountAllowed) -> None:
    parent_exists = p.parent_is_root or iam.user(tx, p.parent_user) is not None
    key_taken = iam.key(tx, p.access_key) is not None
    p.judge(parent_exists, key_taken, len(iam.keys_of(tx, p.parent_user)))


def _inline_policy_exists(tx: Tx, p: InlinePolicyExists) -> None:
    if iam.inline_policy(tx, p.owner_kind, p.owner, p.policy_name) is None:
        raise p.refusal()


def _has_no_policies(tx: Tx, p: HasNoPolicies) -> None:
    row = iam.group(tx, p.name) if p.kind == "group" else iam.role(tx, p.name)
    if p.kind == "group" and row is None:
        return
    p.judge(row, bool(iam.inline_policy_names(tx, p.kind, p.name)))


_VERIFY: dict[type, Callable[[Tx, Any], None]] = {
    BucketExists: _bucket_exists,
    WithinQuota: _within_quota,
    BucketIsFree: _bucket_is_free,
    BucketIsEmpty: _bucket_is_empty,
    ObjectMatches: _object_matches,
    VersionMatches: _version_matches,
    VersionStillExists: _version_still_exists,
    UploadIsOpen: _upload_is_open,
    PartsUnchanged: _parts_unchanged,
    NameIsFree: _name_is_free,
    AccessKeyIsUsers: _access_key_is_users,
    ServiceAccountAllowed: _service_account_allowed,
    InlinePolicyExists: _inline_policy_exists,
    HasNoPolicies: _has_no_policies,
}

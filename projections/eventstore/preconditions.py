"""The store's side of a write plan's preconditions: each is evaluated in the append
transaction, after the store's lock is taken, so it is atomic with the write. This module
reads the rows a precondition is about; the precondition (domain.preconditions) judges them
and raises Refused."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from domain.preconditions import (
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
)
from projections.eventstore.tx import Tx
from projections.iam import queries as iam
from projections.namespace import queries as ns


def verify(tx: Tx, preconditions: Iterable[Precondition]) -> None:
    """Raise the first precondition's refusal that does not hold."""
    for precondition in preconditions:
        _VERIFY[type(precondition)](tx, precondition)


def _bucket_exists(tx: Tx, p: BucketExists) -> None:
    if ns.get_bucket(tx, p.bucket) is None:
        raise p.refusal()


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

"""Preconditions of a write plan, as data.

A write plan (domain.write_plan) says what must hold for its events to be recorded: these
small frozen values. The event store evaluates them itself, in the append transaction and
under its lock, so a precondition is atomic with the write (projections.eventstore.
preconditions reads the rows; the judgement on a row, where there is one, is here). A
failed precondition raises Refused, which the api layer renders as the error it names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from domain.errors import DomainError


class Refused(DomainError):
    """A precondition that did not hold. status: for the IAM codes the S3 error table does
    not know; resource: the S3 error's Resource when it is not the request's path."""

    def __init__(
        self,
        code: str,
        message: str | None = None,
        *,
        status: int | None = None,
        resource: str | None = None,
        **extra: str,
    ) -> None:
        super().__init__(code, message, **extra)
        self.status = status
        self.resource = resource


def etag_matches(header_value: str, etag: str) -> bool:
    """An If-Match / If-None-Match list (quoted, weak or "*") names this entity tag."""
    for candidate in header_value.split(","):
        c = candidate.strip()
        if c.startswith("W/"):
            c = c[2:]
        if c == "*" or c.strip('"') == etag:
            return True
    return False


# -- the namespace ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BucketExists:
    bucket: str

    def refusal(self) -> Refused:
        return Refused("NoSuchBucket", resource=f"/{self.bucket}", BucketName=self.bucket)


@dataclass(frozen=True, slots=True)
class WithinQuota:
    """A write that stores a new version of `size` bytes under `key` (None: stores nothing
    yet, an uploaded part): the bucket stays within its hard quota (Bucket.set_quota)
    counted after the write, as MinIO counts usage: the bytes of every version, current or
    not, and the versions that are not delete markers. A version the write replaces (the
    null version, unless versioning is Enabled) frees its room. A write that frees room or
    adds none is never refused; MinIO's error otherwise."""

    bucket: str
    key: str | None
    size: int

    def judge(
        self,
        quota: tuple[int, int],
        usage: tuple[int, int],
        replaced: Mapping[str, Any] | None,
    ) -> None:
        max_bytes, max_objects = quota
        used_bytes, used_objects = usage
        add_bytes, add_objects = self.size, 0 if self.key is None else 1
        if replaced is not None and not replaced["is_delete_marker"]:
            add_bytes -= int(replaced["size"])
            add_objects -= 1
        over_bytes = max_bytes > 0 and add_bytes > 0 and used_bytes + add_bytes > max_bytes
        over_objects = max_objects > 0 and add_objects > 0 and used_objects + add_objects > max_objects
        if over_bytes or over_objects:
            raise Refused("XMinioAdminBucketQuotaExceeded", BucketName=self.bucket)


@dataclass(frozen=True, slots=True)
class BucketIsFree:
    """CreateBucket: no bucket of that name exists (whoever owns it)."""

    bucket: str
    owner: str

    def judge(self, row: Mapping[str, Any] | None) -> None:
        if row is not None:
            code = "BucketAlreadyOwnedByYou" if row["owner"] == self.owner else "BucketAlreadyExists"
            raise Refused(code, BucketName=self.bucket)


@dataclass(frozen=True, slots=True)
class BucketIsEmpty:
    bucket: str

    def refusal(self) -> Refused:
        return Refused("BucketNotEmpty", BucketName=self.bucket)


@dataclass(frozen=True, slots=True)
class ObjectMatches:
    """If-Match / If-None-Match of a write, against the key's live object (None: no object,
    or a delete marker on top)."""

    bucket: str
    key: str
    if_match: str | None = None
    if_none_match: str | None = None

    def judge(self, current: Mapping[str, Any] | None) -> None:
        if self.if_none_match is not None and current is not None and etag_matches(self.if_none_match, current["etag"]):
            raise Refused("PreconditionFailed", Condition="If-None-Match")
        if self.if_match is not None:
            if current is None:
                raise Refused("NoSuchKey", Key=self.key)
            if not etag_matches(self.if_match, current["etag"]):
                raise Refused("PreconditionFailed", Condition="If-Match")


@dataclass(frozen=True, slots=True)
class VersionMatches:
    """A conditional delete (If-Match, x-amz-if-match-last-modified-time, -size), against the
    addressed version, or the key's newest object version even under a delete marker (as
    RGW evaluates it); a missing target is no failure."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    mtime_us: int | None = None
    size: int | None = None

    def judge(self, target: Mapping[str, Any] | None) -> None:
        if target is None or target["is_delete_marker"]:
            return
        if self.etag is not None and not etag_matches(self.etag, target["etag"]):
            raise Refused("PreconditionFailed", Condition="If-Match")
        if self.mtime_us is not None and target["mtime_us"] // 1_000_000 != self.mtime_us // 1_000_000:
            raise Refused("PreconditionFailed", Condition="x-amz-if-match-last-modified-time")
        if self.size is not None and int(target["size"]) != self.size:
            raise Refused("PreconditionFailed", Condition="x-amz-if-match-size")


@dataclass(frozen=True, slots=True)
class VersionStillExists:
    """Anything that points at a source version's blobs (CopyObject, UploadPartCopy): the
    source row still exists, so it existed all along since it was read, and garbage
    collection saw its blobs referenced (workers.blob_gc)."""

    version_row_id: str
    key: str

    def refusal(self) -> Refused:
        return Refused("NoSuchKey", Key=self.key)


@dataclass(frozen=True, slots=True)
class UploadIsOpen:
    upload_id: str

    def refusal(self) -> Refused:
        return Refused("NoSuchUpload", UploadId=self.upload_id)


@dataclass(frozen=True, slots=True)
class PartsUnchanged:
    """Each part a completion chose is still the one uploaded under its number: a part
    uploaded again meanwhile would leave the chosen blob unreferenced, and garbage
    collection free to reclaim it (workers.blob_gc). parts: (part number, part row id)."""

    upload_id: str
    parts: tuple[tuple[int, str], ...]

    def judge(self, current: Mapping[int, str]) -> None:
        for number, part_id in self.parts:
            if current.get(number) != part_id:
                raise Refused("InvalidPart", UploadId=self.upload_id, PartNumber=str(number))


# -- IAM --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NameIsFree:
    """IAM names are unique regardless of case: creating "bob" while "Bob" exists conflicts."""

    kind: str  # "user", "role", "group"
    name: str

    def judge(self, stored_name: str | None) -> None:
        if stored_name is not None and stored_name != self.name:
            raise Refused(
                "EntityAlreadyExists", f"{self.kind.capitalize()} with name {self.name} already exists.", status=409
            )


@dataclass(frozen=True, slots=True)
class AccessKeyIsUsers:
    """A user's name is its access key: no service account or session holds it."""

    name: str

    def judge(self, key_row: Mapping[str, Any] | None) -> None:
        if key_row is not None and key_row["kind"] != "user":
            raise Refused("InvalidArgument", "An access key with that name already exists.")


@dataclass(frozen=True, slots=True)
class ServiceAccountAllowed:
    """A new service account: its parent exists (or is the root user), its key is unused,
    and the parent stays within its number of service accounts."""

    parent_user: str
    access_key: str
    parent_is_root: bool
    limit: int

    def judge(self, parent_exists: bool, key_taken: bool, accounts: int) -> None:
        if not self.parent_is_root and not parent_exists:
            raise Refused("NoSuchEntity", f"The user with name {self.parent_user} cannot be found.", status=404)
        if key_taken:
            raise Refused(
                "InvalidArgument", "The access key is already in use.", Code="XMinioAdminServiceAccountExists"
            )
        if accounts >= self.limit:
            raise Refused("InvalidArgument", f"A user may have at most {self.limit} service accounts.")


@dataclass(frozen=True, slots=True)
class InlinePolicyExists:
    owner_kind: str
    owner: str
    policy_name: str

    def refusal(self) -> Refused:
        return Refused(
            "NoSuchEntity", f"The {self.owner_kind} policy with name {self.policy_name} cannot be found.", status=404
        )


@dataclass(frozen=True, slots=True)
class HasNoPolicies:
    """DeleteRole / DeleteGroup: no attached or inline policy is left (and a group has no
    members left)."""

    kind: str  # "role" or "group"
    name: str

    def judge(self, row: Mapping[str, Any] | None, inline_policies: bool) -> None:
        if self.kind == "group":
            if row is None:
                return
            if row["members"]:
                raise Refused("DeleteConflict", "Cannot delete entity, must remove users from group first.", status=409)
        if inline_policies or (row is not None and row["policies"]):
            raise Refused("DeleteConflict", "Cannot delete entity, must delete policies first.", status=409)


Precondition = (
    BucketExists
    | WithinQuota
    | BucketIsFree
    | BucketIsEmpty
    | ObjectMatches
    | VersionMatches
    | VersionStillExists
    | UploadIsOpen
    | PartsUnchanged
    | NameIsFree
    | AccessKeyIsUsers
    | ServiceAccountAllowed
    | InlinePolicyExists
    | HasNoPolicies
)

# Preconditions that read nothing but bucket rows: a create-only plan holding no other may
# be checked before the plans ahead of it in its batch are applied (they cannot change a
# bucket row without being applied first, see projections.eventstore.fast_path).
READS_ONLY_BUCKETS: frozenset[type] = frozenset({BucketExists})
# WithinQuota reads only its bucket's row when the bucket has no quota, and the object rows
# (usage, the replaced version) when it has one (projections.eventstore.preconditions).

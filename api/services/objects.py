"""Object writes: a new version (PutObject, POST, CopyObject), a delete, tags, ACLs and
recorded reads. Each function takes parsed arguments, builds the write plan through the
domain aggregates and submits it; the handlers parse requests and render answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from api.context import ServerContext
from domain.actor import Actor
from domain.aggregates import DeleteMarker, ObjectAccess, ObjectVersion
from domain.created import created_event
from domain.preconditions import (
    BucketExists,
    ObjectMatches,
    Precondition,
    Refused,
    VersionMatches,
    VersionStillExists,
    WithinQuota,
)
from domain.write_plan import WritePlan
from projections.blobstore import StagedBlob


def write_preconditions(bucket: str, key: str, size: int, conditions: ObjectMatches | None) -> tuple[Precondition, ...]:
    """A new version of size bytes in bucket: the bucket exists, stays within its quota,
    and the request's If-Match / If-None-Match hold."""
    quota = WithinQuota(bucket, key, size)
    return (BucketExists(bucket), quota) if conditions is None else (BucketExists(bucket), quota, conditions)


async def put_version(
    ctx: ServerContext, fields: dict[str, Any], staged: StagedBlob, conditions: ObjectMatches | None
) -> str | None:
    """Record a new ObjectVersion (fields: ObjectVersion's) of a staged blob; returns the
    version id the bucket gave it ("null" unless versioning). The caller discards the blob
    when this raises."""
    # The first event alone: the aggregate is never needed (domain.created, part of the fast
    # path: CHRONICLE_FAST_PATH=off builds the aggregate, and tests compare the two).
    events = (
        [created_event(ObjectVersion, **fields)] if ctx.settings.fast_path else ObjectVersion(**fields).collect_events()
    )
    plan = WritePlan(
        events=events,
        preconditions=write_preconditions(fields["bucket"], fields["key"], fields["size"], conditions),
        blobs=staged.db_rows(),
        files_written_at=staged.file_written_at,
    )
    return (await ctx.submit(plan)).results[0]


async def copy_version(
    ctx: ServerContext, fields: dict[str, Any], source: Mapping[str, Any], conditions: ObjectMatches | None
) -> tuple[str | None, int]:
    """Record a new ObjectVersion pointing at a source version's blobs; returns its version
    id and its modification time (microseconds)."""
    still_there = VersionStillExists(source["id"], source["key"])
    plan = WritePlan.new(
        ObjectVersion(**fields),
        preconditions=(*write_preconditions(fields["bucket"], fields["key"], fields["size"], conditions), still_there),
    )
    committed = await ctx.submit(plan)
    return committed.results[0], int(committed.events[0].timestamp.timestamp() * 1_000_000)


@dataclass(frozen=True)
class Deleted:
    version_id: str | None  # the delete marker's, or the deleted version's
    delete_marker: bool  # a delete marker was created, or the deleted version was one


async def add_delete_marker(
    ctx: ServerContext, bucket: str, key: str, actor: Actor, conditions: VersionMatches
) -> Deleted:
    """DeleteObject without a version id: a delete marker (a "null" one unless versioning;
    none when the bucket never versioned and has no such key)."""
    plan = WritePlan.new(
        DeleteMarker(bucket=bucket, key=key, actor=actor), preconditions=(BucketExists(bucket), conditions)
    )
    version_id = (await ctx.submit(plan)).results[0]
    return Deleted(version_id, version_id is not None)


async def remove_version(ctx: ServerContext, row: Mapping[str, Any], actor: Actor, conditions: VersionMatches) -> None:
    """DeleteObject of a version (row: the version's namespace row)."""
    aggregate_id = UUID(row["id"])

    def load() -> list[Any]:
        aggregate: ObjectVersion | DeleteMarker = ctx.store.repository.get(aggregate_id)
        if aggregate.removed:
            return []
        aggregate.remove(actor=actor)
        return [aggregate]

    await ctx.submit(WritePlan.changing(load, preconditions=(conditions,)))


async def set_version_tags(
    ctx: ServerContext, version_row_id: str, key: str, tags: dict[str, str], actor: Actor
) -> None:
    def load() -> list[Any]:
        version: ObjectVersion = ctx.store.repository.get(UUID(version_row_id))
        if version.removed:
            raise Refused("NoSuchKey", Key=key)
        version.set_tags(tags=tags, actor=actor)
        return [version]

    await ctx.submit(WritePlan.changing(load))


async def set_version_acl(ctx: ServerContext, version_row_id: str, key: str, acl: dict[str, Any], actor: Actor) -> None:
    def load() -> list[Any]:
        version: ObjectVersion = ctx.store.repository.get(UUID(version_row_id))
        if version.removed:
            raise Refused("NoSuchKey", Key=key)
        version.set_acl(acl=acl, actor=actor)
        return [version]

    await ctx.submit(WritePlan.changing(load))


async def record_access(ctx: ServerContext, **fields: Any) -> None:
    """A GET or HEAD that a bucket rule or a listener wants (fields: ObjectAccess's)."""
    await ctx.submit(WritePlan.new(ObjectAccess(**fields)))

"""Multipart upload writes: create an upload, record a part (uploaded or copied), complete
and abort."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from api.context import ServerContext
from api.services.objects import write_preconditions
from domain.actor import Actor
from domain.aggregates import MultipartUpload, ObjectVersion, UploadedPart
from domain.preconditions import (
    BucketExists,
    ObjectMatches,
    PartsUnchanged,
    UploadIsOpen,
    VersionStillExists,
    WithinQuota,
)
from domain.write_plan import WritePlan
from projections.blobstore import StagedBlob


async def create_upload(ctx: ServerContext, fields: dict[str, Any]) -> str:
    """A new upload (fields: MultipartUpload's); returns its id."""
    plan = WritePlan.new(MultipartUpload(**fields), preconditions=(BucketExists(fields["bucket"]),))
    return (await ctx.submit(plan)).events[0].originator_id.hex


async def add_part(ctx: ServerContext, bucket: str, upload_id: str, fields: dict[str, Any], staged: StagedBlob) -> None:
    """An uploaded part (fields: UploadedPart's but upload_id) of a staged blob. The caller
    discards the blob when this raises. A part that alone would take the bucket over its
    quota is refused now, as MinIO does (the completion is what counts)."""
    plan = WritePlan.new(
        UploadedPart(upload_id=UUID(upload_id), **fields),
        preconditions=(UploadIsOpen(upload_id), WithinQuota(bucket, None, fields["size"])),
        blobs=staged.db_rows(),
        files_written_at=staged.file_written_at,
    )
    await ctx.submit(plan)


async def copy_part(
    ctx: ServerContext, bucket: str, upload_id: str, fields: dict[str, Any], source: Mapping[str, Any]
) -> int:
    """A part pointing at a source version's blobs; returns its modification time (us)."""
    plan = WritePlan.new(
        UploadedPart(upload_id=UUID(upload_id), **fields),
        preconditions=(
            UploadIsOpen(upload_id),
            VersionStillExists(source["id"], source["key"]),
            WithinQuota(bucket, None, fields["size"]),
        ),
    )
    committed = await ctx.submit(plan)
    return int(committed.events[0].timestamp.timestamp() * 1_000_000)


async def complete(
    ctx: ServerContext,
    upload_id: str,
    version: dict[str, Any],
    chosen: list[Mapping[str, Any]],
    conditions: ObjectMatches | None,
) -> str | None:
    """Complete an upload into a new ObjectVersion (version: its fields but the ACL, which
    the upload carries) made of the chosen parts; returns the version id."""
    actor = version["actor"]

    def load() -> list[Any]:
        upload: MultipartUpload = ctx.store.repository.get(UUID(upload_id))
        upload.refuse_unless_open(upload_id)
        created = ObjectVersion(**version, acl=getattr(upload, "acl", None))
        upload.complete(version_id=created.id, actor=actor)
        return [created, upload]

    unchanged = PartsUnchanged(upload_id, tuple((int(p["part_number"]), p["id"]) for p in chosen))
    plan = WritePlan.changing(
        load,
        preconditions=(
            UploadIsOpen(upload_id),
            unchanged,
            *write_preconditions(version["bucket"], version["key"], version["size"], conditions),
        ),
    )
    return (await ctx.submit(plan)).results[0]


async def abort(ctx: ServerContext, upload_id: str, actor: Actor) -> None:
    def load() -> list[Any]:
        upload: MultipartUpload = ctx.store.repository.get(UUID(upload_id))
        upload.refuse_unless_open(upload_id)
        upload.abort(actor=actor)
        return [upload]

    await ctx.submit(WritePlan.changing(load))

"""State as an earlier Chronicle could store it: aggregates appended to a server's event store
through the domain, in this process, bypassing the checks the API makes today (keys with
control characters, CR/LF in stored headers, a bucket named "minio"). They are appended as
the server appends (projections.eventstore.recorder append), so the inline projection applies
them in the same transaction."""

from __future__ import annotations

import hashlib
from typing import Any

from eventsourcing.domain import Aggregate

from domain.actor import SYSTEM_ACTOR
from domain.aggregates import Bucket, MultipartUpload, ObjectVersion
from domain.write_plan import WritePlan
from projections.eventstore.recorder import open_store


def append(server: Any, database_url: str | None, *aggregates: Aggregate) -> None:
    """Append new aggregates' events to the event store of `server` (its PostgreSQL database,
    or the SQLite file in its data directory when database_url is None). The server is
    stopped meanwhile: SQLite has one writer, and the server's followers would find the
    database locked."""
    server.stop()
    try:
        app = open_store(database_url, server.data_dir, create_table=False)
        try:
            for aggregate in aggregates:
                plan = WritePlan.new(aggregate)
                app.store.append([plan])
                if plan.error is not None or plan.conflict:
                    raise RuntimeError(f"append failed: {plan.error or 'conflict'}")
        finally:
            app.close()
    finally:
        server.start()


def empty_version(
    bucket: str,
    key: str,
    *,
    content_type: str = "binary/octet-stream",
    headers: dict[str, str] | None = None,
    metadata: dict[str, str] | None = None,
) -> ObjectVersion:
    """A zero-byte object version."""
    return ObjectVersion(
        bucket=bucket, key=key, size=0, etag=hashlib.md5(b"").hexdigest(),
        content_type=content_type, headers=headers or {}, metadata=metadata or {},
        blob={"segments": []}, checksum={}, tags={}, parts=[], operation="Put",
        actor=SYSTEM_ACTOR,
    )  # fmt: skip


def open_upload(bucket: str, key: str) -> MultipartUpload:
    """An open multipart upload (its upload id: .id.hex)."""
    return MultipartUpload(
        bucket=bucket, key=key, content_type="binary/octet-stream", headers={}, metadata={},
        tags={}, checksum_algorithm="", checksum_type="", actor=SYSTEM_ACTOR,
    )  # fmt: skip


def bucket(name: str, owner: str) -> Bucket:
    return Bucket(name=name, region="us-east-1", owner=owner, actor=SYSTEM_ACTOR, settings={})

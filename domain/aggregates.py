"""Aggregates of the object store. Pure: no I/O.

Every event class has an explicit, stable TOPIC, so renaming a module never breaks old
events. One aggregate per object *version* (create-only, a handful of events) keeps the
write cost independent of a key's history; which version is current is the projection's
business, never the superseded version's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor
from domain.cors import SUBRESOURCE as CORS
from domain.cors import CorsConfiguration
from domain.errors import DomainError
from domain.history_retention import check_retention
from domain.ids import random_uuid

JSON = dict[str, Any]


def bucket_id(name: str) -> UUID:
    """Deterministic id: the primary key of the event store enforces unique bucket names."""
    return uuid5(NAMESPACE_URL, f"chronicle:bucket:{name}")


class Bucket(Aggregate):
    TOPIC = "chronicle.Bucket"

    @staticmethod
    def create_id(name: str, **_: Any) -> UUID:
        return bucket_id(name)

    @event("Created", topic="chronicle.Bucket.Created")
    def __init__(self, name: str, region: str, owner: str, actor: Actor, settings: JSON) -> None:
        self.name = name
        self.region = region
        self.owner = owner
        self.settings = settings
        self.exists = True
        self.versioning = ""

    @event("Recreated", topic="chronicle.Bucket.Recreated")
    def recreate(self, name: str, region: str, owner: str, actor: Actor, settings: JSON) -> None:
        self.region = region
        self.owner = owner
        self.settings = settings
        self.exists = True
        self.versioning = ""

    @event("Deleted", topic="chronicle.Bucket.Deleted")
    def delete(self, actor: Actor) -> None:
        self.exists = False

    @event("VersioningChanged", topic="chronicle.Bucket.VersioningChanged")
    def set_versioning(self, status: str, actor: Actor) -> None:
        self.versioning = status

    @event("ConfigurationSet", topic="chronicle.Bucket.ConfigurationSet")
    def set_configuration(self, subresource: str, document: Any, actor: Actor) -> None:
        """A bucket subresource (tagging, policy, cors, ...) replaced as a whole."""

    @event("ConfigurationDeleted", topic="chronicle.Bucket.ConfigurationDeleted")
    def delete_configuration(self, subresource: str, actor: Actor) -> None:
        pass

    def set_cors(self, configuration: CorsConfiguration, actor: Actor) -> None:
        """PutBucketCors: rules within AWS's limits (domain.cors) become the bucket's `cors`
        configuration, recorded like its other S3 settings."""
        self.set_configuration(subresource=CORS, document=configuration.check().to_document(), actor=actor)

    @event("QuotaSet", topic="chronicle.Bucket.QuotaSet")
    def set_quota(self, max_bytes: int, max_objects: int, actor: Actor) -> None:
        """The bucket's hard quota (MinIO's set-bucket-quota; 0: no limit, both 0: cleared)."""

    def set_history_retention(self, seconds: int, actor: Actor) -> None:
        """How long the bucket's superseded data stays readable as of the past (whole
        seconds, 0 to domain.history_retention.MAX_SECONDS), instead of the server default."""
        self._history_retention_set(seconds=check_retention(seconds), actor=actor)

    @event("HistoryRetentionSet", topic="chronicle.Bucket.HistoryRetentionSet")
    def _history_retention_set(self, seconds: int, actor: Actor) -> None:
        pass

    @event("HistoryRetentionCleared", topic="chronicle.Bucket.HistoryRetentionCleared")
    def clear_history_retention(self, actor: Actor) -> None:
        """Back to the server default (CHRONICLE_HISTORY_RETENTION)."""


class ObjectVersion(Aggregate):
    """One stored version of one key. The version id is the aggregate id; the projection
    shows it as "null" when the bucket was not versioning at that log position."""

    TOPIC = "chronicle.ObjectVersion"

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return random_uuid()

    @event("Created", topic="chronicle.ObjectVersion.Created")
    def __init__(
        self,
        bucket: str,
        key: str,
        size: int,
        etag: str,
        content_type: str,
        headers: JSON,
        metadata: JSON,
        blob: JSON,
        checksum: JSON,
        tags: JSON,
        parts: list[JSON],
        operation: str,
        actor: Actor,
        acl: JSON | None = None,
        response_length: int | None = None,
    ) -> None:
        # response_length: the length of the XML answer of a Copy / CompleteMultipartUpload,
        # which MinIO's record carries as responseElements "content-length".
        self.bucket = bucket
        self.key = key
        self.tags = tags
        self.acl = acl  # None: private to the writer (events before ACLs have no field)
        self.removed = False

    @event("TagsSet", topic="chronicle.ObjectVersion.TagsSet")
    def set_tags(self, tags: JSON, actor: Actor) -> None:
        self.tags = tags

    @event("AclSet", topic="chronicle.ObjectVersion.AclSet")
    def set_acl(self, acl: JSON, actor: Actor) -> None:
        self.acl = acl

    @event("Removed", topic="chronicle.ObjectVersion.Removed")
    def remove(self, actor: Actor) -> None:
        self.removed = True


class DeleteMarker(Aggregate):
    TOPIC = "chronicle.DeleteMarker"

    @event("Created", topic="chronicle.DeleteMarker.Created")
    def __init__(self, bucket: str, key: str, actor: Actor) -> None:
        self.bucket = bucket
        self.key = key
        self.removed = False

    @event("Removed", topic="chronicle.DeleteMarker.Removed")
    def remove(self, actor: Actor) -> None:
        self.removed = True


class MultipartUpload(Aggregate):
    TOPIC = "chronicle.MultipartUpload"

    @event("Created", topic="chronicle.MultipartUpload.Created")
    def __init__(
        self,
        bucket: str,
        key: str,
        content_type: str,
        headers: JSON,
        metadata: JSON,
        tags: JSON,
        checksum_algorithm: str,
        checksum_type: str,
        actor: Actor,
        acl: JSON | None = None,
    ) -> None:
        self.bucket = bucket
        self.key = key
        self.acl = acl  # given to the version Complete creates
        self.state = "open"

    @staticmethod
    def chosen_parts(
        upload_id: str,
        requested: Sequence[tuple[int, str, Mapping[str, str]]],
        uploaded: Mapping[int, Mapping[str, Any]],
        min_part_size: int,
    ) -> list[Mapping[str, Any]]:
        """The uploaded parts a CompleteMultipartUpload names (requested: part number, entity
        tag, checksums given), in order. Refused: numbers not strictly ascending, a part not
        uploaded (or with another entity tag or checksum), a part but the last smaller than
        min_part_size."""
        numbers = [n for n, _, _ in requested]
        if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
            raise DomainError("InvalidPartOrder")
        chosen = []
        for i, (number, etag, sums) in enumerate(requested):
            stored = uploaded.get(number)
            if stored is None or stored["etag"] != etag:
                raise DomainError("InvalidPart", UploadId=upload_id, PartNumber=str(number), ETag=etag)
            for algorithm, value in sums.items():
                if stored["checksum"].get(algorithm) not in (None, value):
                    raise DomainError("InvalidPart", UploadId=upload_id, PartNumber=str(number))
            if i < len(requested) - 1 and stored["size"] < min_part_size:
                raise DomainError(
                    "EntityTooSmall",
                    ProposedSize=str(stored["size"]),
                    MinSizeAllowed=str(min_part_size),
                    PartNumber=str(number),
                    ETag=etag,
                )
            chosen.append(stored)
        return chosen

    def refuse_unless_open(self, upload_id: str) -> None:
        if self.state != "open":
            raise DomainError("NoSuchUpload", UploadId=upload_id)

    @event("Completed", topic="chronicle.MultipartUpload.Completed")
    def complete(self, version_id: UUID, actor: Actor) -> None:
        self.state = "completed"
        self.version_id = version_id

    @event("Aborted", topic="chronicle.MultipartUpload.Aborted")
    def abort(self, actor: Actor) -> None:
        self.state = "aborted"


class UploadedPart(Aggregate):
    """Create-only, one per UploadPart call, so parallel part uploads never collide."""

    TOPIC = "chronicle.UploadedPart"

    @event("Created", topic="chronicle.UploadedPart.Created")
    def __init__(
        self,
        upload_id: UUID,
        part_number: int,
        size: int,
        etag: str,
        blob: JSON,
        checksum: JSON,
        actor: Actor,
    ) -> None:
        self.upload_id = upload_id
        self.part_number = part_number


class ObjectAccess(Aggregate):
    """A read (GET/HEAD) of an object that a bucket rule or a listener subscribed to at
    the time: s3:ObjectAccessed:Get|Head. Create-only, one per read; other reads append
    nothing. Carries what the notification record needs, as it was read."""

    TOPIC = "chronicle.ObjectAccess"

    @event("Created", topic="chronicle.ObjectAccess.Created")
    def __init__(
        self,
        bucket: str,
        key: str,
        version_id: str,
        method: str,  # "Get" or "Head"
        size: int,
        etag: str,
        content_type: str,
        metadata: JSON,
        headers: JSON,
        range: str,
        content_length: str,
        actor: Actor,
    ) -> None:
        self.bucket = bucket
        self.key = key

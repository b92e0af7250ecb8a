"""MinIO's bucket event names (`internal/event/name.go`) and their wildcard expansion.

A name is handled as its string (`"s3:ObjectCreated:Put"`). Single names are listed in
MinIO's enum order, which also fixes each name's bit in `mask()`. Wildcards
(`s3:ObjectCreated:*`, ...) expand in the order MinIO's `Name.Expand` lists them.
`s3:BucketCreated:*` and `s3:BucketRemoved:*` are single names despite the `*`.
"""

from __future__ import annotations

from domain.errors import DomainError

# -- single names, in MinIO's enum order (bit i of the mask is SINGLE_NAMES[i]) ----------

OBJECT_ACCESSED_GET = "s3:ObjectAccessed:Get"
OBJECT_ACCESSED_GET_RETENTION = "s3:ObjectAccessed:GetRetention"
OBJECT_ACCESSED_GET_LEGAL_HOLD = "s3:ObjectAccessed:GetLegalHold"
OBJECT_ACCESSED_HEAD = "s3:ObjectAccessed:Head"
OBJECT_ACCESSED_ATTRIBUTES = "s3:ObjectAccessed:Attributes"
OBJECT_CREATED_COMPLETE_MULTIPART_UPLOAD = "s3:ObjectCreated:CompleteMultipartUpload"
OBJECT_CREATED_COPY = "s3:ObjectCreated:Copy"
OBJECT_CREATED_POST = "s3:ObjectCreated:Post"
OBJECT_CREATED_PUT = "s3:ObjectCreated:Put"
OBJECT_CREATED_PUT_RETENTION = "s3:ObjectCreated:PutRetention"
OBJECT_CREATED_PUT_LEGAL_HOLD = "s3:ObjectCreated:PutLegalHold"
OBJECT_CREATED_PUT_TAGGING = "s3:ObjectCreated:PutTagging"
OBJECT_CREATED_DELETE_TAGGING = "s3:ObjectCreated:DeleteTagging"
OBJECT_REMOVED_DELETE = "s3:ObjectRemoved:Delete"
OBJECT_REMOVED_DELETE_MARKER_CREATED = "s3:ObjectRemoved:DeleteMarkerCreated"
OBJECT_REMOVED_DELETE_ALL_VERSIONS = "s3:ObjectRemoved:DeleteAllVersions"
OBJECT_REMOVED_NOOP = "s3:ObjectRemoved:NoOP"
BUCKET_CREATED = "s3:BucketCreated:*"
BUCKET_REMOVED = "s3:BucketRemoved:*"
REPLICATION_FAILED = "s3:Replication:OperationFailedReplication"
REPLICATION_COMPLETE = "s3:Replication:OperationCompletedReplication"
REPLICATION_MISSED_THRESHOLD = "s3:Replication:OperationMissedThreshold"
REPLICATION_REPLICATED_AFTER_THRESHOLD = "s3:Replication:OperationReplicatedAfterThreshold"
REPLICATION_NOT_TRACKED = "s3:Replication:OperationNotTracked"
OBJECT_RESTORE_POST = "s3:ObjectRestore:Post"
OBJECT_RESTORE_COMPLETED = "s3:ObjectRestore:Completed"
OBJECT_TRANSITION_FAILED = "s3:ObjectTransition:Failed"
OBJECT_TRANSITION_COMPLETE = "s3:ObjectTransition:Complete"
SCANNER_MANY_VERSIONS = "s3:Scanner:ManyVersions"
SCANNER_LARGE_VERSIONS = "s3:Scanner:LargeVersions"
SCANNER_BIG_PREFIX = "s3:Scanner:BigPrefix"
LIFECYCLE_DEL_MARKER_EXPIRATION_DELETE = "s3:LifecycleDelMarkerExpiration:Delete"

SINGLE_NAMES: tuple[str, ...] = (
    OBJECT_ACCESSED_GET,
    OBJECT_ACCESSED_GET_RETENTION,
    OBJECT_ACCESSED_GET_LEGAL_HOLD,
    OBJECT_ACCESSED_HEAD,
    OBJECT_ACCESSED_ATTRIBUTES,
    OBJECT_CREATED_COMPLETE_MULTIPART_UPLOAD,
    OBJECT_CREATED_COPY,
    OBJECT_CREATED_POST,
    OBJECT_CREATED_PUT,
    OBJECT_CREATED_PUT_RETENTION,
    OBJECT_CREATED_PUT_LEGAL_HOLD,
    OBJECT_CREATED_PUT_TAGGING,
    OBJECT_CREATED_DELETE_TAGGING,
    OBJECT_REMOVED_DELETE,
    OBJECT_REMOVED_DELETE_MARKER_CREATED,
    OBJECT_REMOVED_DELETE_ALL_VERSIONS,
    OBJECT_REMOVED_NOOP,
    BUCKET_CREATED,
    BUCKET_REMOVED,
    REPLICATION_FAILED,
    REPLICATION_COMPLETE,
    REPLICATION_MISSED_THRESHOLD,
    REPLICATION_REPLICATED_AFTER_THRESHOLD,
    REPLICATION_NOT_TRACKED,
    OBJECT_RESTORE_POST,
    OBJECT_RESTORE_COMPLETED,
    OBJECT_TRANSITION_FAILED,
    OBJECT_TRANSITION_COMPLETE,
    SCANNER_MANY_VERSIONS,
    SCANNER_LARGE_VERSIONS,
    SCANNER_BIG_PREFIX,
    LIFECYCLE_DEL_MARKER_EXPIRATION_DELETE,
)

# -- wildcards (compound names) and their expansion, as Name.Expand lists them ----------

OBJECT_ACCESSED_ALL = "s3:ObjectAccessed:*"
OBJECT_CREATED_ALL = "s3:ObjectCreated:*"
OBJECT_REMOVED_ALL = "s3:ObjectRemoved:*"
REPLICATION_ALL = "s3:Replication:*"
OBJECT_RESTORE_ALL = "s3:ObjectRestore:*"
OBJECT_TRANSITION_ALL = "s3:ObjectTransition:*"

WILDCARDS: dict[str, tuple[str, ...]] = {
    OBJECT_ACCESSED_ALL: (
        OBJECT_ACCESSED_GET,
        OBJECT_ACCESSED_HEAD,
        OBJECT_ACCESSED_GET_RETENTION,
        OBJECT_ACCESSED_GET_LEGAL_HOLD,
        OBJECT_ACCESSED_ATTRIBUTES,
    ),
    OBJECT_CREATED_ALL: (
        OBJECT_CREATED_COMPLETE_MULTIPART_UPLOAD,
        OBJECT_CREATED_COPY,
        OBJECT_CREATED_POST,
        OBJECT_CREATED_PUT,
        OBJECT_CREATED_PUT_RETENTION,
        OBJECT_CREATED_PUT_LEGAL_HOLD,
        OBJECT_CREATED_PUT_TAGGING,
        OBJECT_CREATED_DELETE_TAGGING,
    ),
    OBJECT_REMOVED_ALL: (
        OBJECT_REMOVED_DELETE,
        OBJECT_REMOVED_DELETE_MARKER_CREATED,
        OBJECT_REMOVED_NOOP,
        OBJECT_REMOVED_DELETE_ALL_VERSIONS,
    ),
    REPLICATION_ALL: (
        REPLICATION_FAILED,
        REPLICATION_COMPLETE,
        REPLICATION_NOT_TRACKED,
        REPLICATION_MISSED_THRESHOLD,
        REPLICATION_REPLICATED_AFTER_THRESHOLD,
    ),
    OBJECT_RESTORE_ALL: (OBJECT_RESTORE_POST, OBJECT_RESTORE_COMPLETED),
    OBJECT_TRANSITION_ALL: (OBJECT_TRANSITION_FAILED, OBJECT_TRANSITION_COMPLETE),
}

# Every name a configuration, the listen API or an event may carry. MinIO's internal
# ObjectScannerAll / Everything have no string form and cannot be parsed.
ALL_NAMES: frozenset[str] = frozenset(SINGLE_NAMES) | frozenset(WILDCARDS)

# The removal events whose record leaves out size, eTag, contentType and userMetadata.
REMOVED_WITHOUT_OBJECT_INFO: frozenset[str] = frozenset(
    {OBJECT_REMOVED_DELETE, OBJECT_REMOVED_DELETE_MARKER_CREATED, OBJECT_REMOVED_NOOP}
)

_BIT = {name: 1 << i for i, name in enumerate(SINGLE_NAMES)}

EVENT_NOT_SUPPORTED = "A specified event is not supported for notifications."


class NotificationError(DomainError):
    """A DomainError carrying MinIO's S3 code and message, plus `reason`: the text of
    MinIO's internal `internal/event` error (what MinIO logs), for our own logs."""

    def __init__(self, code: str, message: str, reason: str = "") -> None:
        super().__init__(code, message)
        self.reason = reason


def parse_name(s: str) -> str:
    """The event name `s`, checked (`event.ParseName`): exact, case-sensitive match.
    Unknown names raise InvalidArgument "A specified event is not supported for
    notifications." (MinIO's ErrInvalidEventName → ErrEventNotification)."""
    if s in ALL_NAMES:
        return s
    raise NotificationError("InvalidArgument", EVENT_NOT_SUPPORTED, f"invalid event name '{s}'")


# MinIO parses these in a bucket's notification configuration too, but never fires them
# there: a bucket's rules cannot exist before it does, and MinIO drops them before it
# sends s3:BucketRemoved:* (cmd/bucket-handlers.go). They reach listen API subscribers
# only, so a configuration naming them is refused rather than accepted and ignored.
LISTEN_ONLY_NAMES: frozenset[str] = frozenset({BUCKET_CREATED, BUCKET_REMOVED})


# The single names Chronicle's log produces for bucket targets. MinIO's others belong to
# features Chronicle does not have (replication, restore, transition, the scanner,
# lifecycle, Object Lock) or to operations it does not report (GetObjectAttributes, a
# delete of nothing): a rule naming only such events would be accepted and never fire.
EMITTED_NAMES: frozenset[str] = frozenset(
    {
        OBJECT_ACCESSED_GET,
        OBJECT_ACCESSED_HEAD,
        OBJECT_CREATED_COMPLETE_MULTIPART_UPLOAD,
        OBJECT_CREATED_COPY,
        OBJECT_CREATED_POST,
        OBJECT_CREATED_PUT,
        OBJECT_CREATED_PUT_TAGGING,
        OBJECT_CREATED_DELETE_TAGGING,
        OBJECT_REMOVED_DELETE,
        OBJECT_REMOVED_DELETE_MARKER_CREATED,
    }
)


def parse_rule_name(s: str) -> str:
    """`parse_name` for an <Event> of a notification configuration. Bucket events, and names
    (or wildcards) none of whose events Chronicle ever sends, are refused with the error an
    unknown name gets (InvalidArgument, EVENT_NOT_SUPPORTED)."""
    name = parse_name(s)
    if name in LISTEN_ONLY_NAMES:
        raise NotificationError(
            "InvalidArgument",
            EVENT_NOT_SUPPORTED,
            f"event name '{s}' reaches listen API subscribers only, not bucket targets",
        )
    if not EMITTED_NAMES.intersection(expand(name)):
        raise NotificationError(
            "InvalidArgument",
            EVENT_NOT_SUPPORTED,
            f"event name '{s}' belongs to a feature Chronicle does not have: it would never fire",
        )
    return name


def is_wildcard(name: str) -> bool:
    return name in WILDCARDS


def expand(name: str) -> tuple[str, ...]:
    """`Name.Expand`: a wildcard's single names, or the name itself."""
    return WILDCARDS.get(name, (name,))


def expand_all(names: tuple[str, ...] | list[str] | frozenset[str]) -> frozenset[str]:
    """The single names a list of (possibly wildcard) names covers."""
    out: set[str] = set()
    for n in names:
        out.update(expand(n))
    return frozenset(out)


def mask(name: str) -> int:
    """`Name.Mask`: one bit per single name (MinIO's enum order), wildcards expanded."""
    bit = _BIT.get(name)
    if bit is not None:
        return bit
    m = 0
    for n in WILDCARDS.get(name, ()):
        m |= _BIT[n]
    return m

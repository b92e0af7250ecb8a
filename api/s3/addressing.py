"""What a request addresses: its level (service, bucket or object) and the subresource of
highest precedence that its query names. Unknown query parameters are ignored, as AWS
ignores them. The operation table (api.s3.operations) is keyed by these, with the method."""

from __future__ import annotations

from api.request import S3Request

# Subresources recognised at each level, in the order they take precedence.
BUCKET_SUBRESOURCES = (
    "uploads",
    "versions",
    "versioning",
    "location",
    "tagging",
    "delete",
    "acl",
    "policy",
    "policyStatus",
    "cors",
    "lifecycle",
    "encryption",
    "object-lock",
    "website",
    "replication",
    "publicAccessBlock",
    "ownershipControls",
    "logging",
    "notification",
    "requestPayment",
    "accelerate",
    "analytics",
    "metrics",
    "inventory",
    "intelligent-tiering",
    "events",
)
OBJECT_SUBRESOURCES = (
    "uploadId",
    "uploads",
    "tagging",
    "acl",
    "retention",
    "legal-hold",
    "attributes",
    "restore",
    "torrent",
    "select",
)


def select(req: S3Request) -> tuple[str, str]:
    """(level, subresource) of the request."""
    if not req.bucket:
        return ("service", "events") if "events" in req.query else ("service", "")
    if not req.key:
        for sub in BUCKET_SUBRESOURCES:
            if sub in req.query:
                return "bucket", sub
        return "bucket", ""
    for sub in OBJECT_SUBRESOURCES:
        if sub in req.query:
            return "object", sub
    return "object", ""

"""Who owns what, and what makes a bucket public: the rules authorization, the ACL handlers
and the IAM API share. Pure: no I/O.

- Every user is known to ACLs and bucket owners by a canonical id derived from its name.
- A bucket's ObjectOwnership decides who owns the objects written to it; with
  BucketOwnerEnforced, ACLs are off and only an owner-only ACL may still be set.
- A bucket is public through a bucket policy that allows everyone without a condition, or
  through an ACL grant to AllUsers / AuthenticatedUsers (domain.acl.is_public_acl).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from domain.acl import ALL_USERS, AUTHENTICATED_USERS

ACCOUNT = "000000000000"  # the one account every identity belongs to, as in MinIO

OBJECT_WRITER = "ObjectWriter"
BUCKET_OWNER_PREFERRED = "BucketOwnerPreferred"
BUCKET_OWNER_ENFORCED = "BucketOwnerEnforced"
OWNERSHIP_MODES = (BUCKET_OWNER_PREFERRED, OBJECT_WRITER, BUCKET_OWNER_ENFORCED)

PUBLIC_CANNED = frozenset({"public-read", "public-read-write", "authenticated-read"})
_GRANT_HEADERS = (
    "x-amz-grant-read",
    "x-amz-grant-write",
    "x-amz-grant-read-acp",
    "x-amz-grant-write-acp",
    "x-amz-grant-full-control",
)
PUBLIC_ACCESS_FIELDS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def canonical_id(owner: str) -> str:
    """The canonical id of a user (the id ACLs, owners and S3 clients know it by)."""
    return hashlib.sha256(f"chronicle-user:{owner}".encode()).hexdigest()


def acl_is_owner_only(acl: dict[str, Any] | None) -> bool:
    """Whether an ACL grants nothing beyond the owner's own FULL_CONTROL (private)."""
    if not acl:
        return True
    owner_id = (acl.get("owner") or {}).get("id")
    return all(g.get("type") == "CanonicalUser" and g.get("id") == owner_id for g in acl.get("grants") or ())


def is_public_policy(document: Any) -> bool:
    """AWS's notion, simplified: some Allow statement names every principal ("*") and has no
    Condition that could narrow who matches. `document`: the policy, or its JSON text."""
    try:
        doc = orjson.loads(document) if isinstance(document, str | bytes) else document
    except orjson.JSONDecodeError:
        return False
    statements = doc.get("Statement") if isinstance(doc, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    for st in statements or ():
        if not isinstance(st, dict) or st.get("Effect") != "Allow" or "Principal" not in st:
            continue
        principal = st["Principal"]
        everyone = principal == "*" or (
            isinstance(principal, dict)
            and any(v == "*" or (isinstance(v, list) and "*" in v) for v in principal.values())
        )
        if everyone and not st.get("Condition"):
            return True
    return False


def without_public_grants(acl: dict[str, Any] | None) -> dict[str, Any] | None:
    """IgnorePublicAcls: the ACL minus its grants to AllUsers and AuthenticatedUsers."""
    if not acl:
        return acl
    grants = [
        g
        for g in acl.get("grants") or ()
        if not (g.get("type") == "Group" and g.get("uri") in (ALL_USERS, AUTHENTICATED_USERS))
    ]
    return {**acl, "grants": grants}


def asks_public_acl(headers: Mapping[str, str]) -> bool:
    """Whether a request's headers ask for a public ACL (canned, or granted to AllUsers or
    AuthenticatedUsers): what BlockPublicAcls refuses."""
    if headers.get("x-amz-acl", "").strip().lower() in PUBLIC_CANNED:
        return True
    for name in _GRANT_HEADERS:  # (a loop, not any() over a generator: once per write)
        value = headers.get(name)
        if value and (ALL_USERS in value or AUTHENTICATED_USERS in value):
            return True
    return False

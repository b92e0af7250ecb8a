"""Access control lists (S3's legacy grants on buckets and objects). Pure: stdlib only.

An ACL is an owner and a list of grants; each grant gives one permission to a grantee (a
canonical user, or a group named by URI). Stored as a small JSON document:

    {"owner": {"id": "...", "name": "..."},
     "grants": [{"type": "CanonicalUser", "id": "...", "name": "...", "permission": "READ"},
                {"type": "Group", "uri": "http://acs.amazonaws.com/groups/global/AllUsers",
                 "permission": "READ"}]}

Here: the canned ACLs, the x-amz-grant-* headers, the AccessControlPolicy XML (parse and
serialize), the evaluation (`acl_allows`) and which permission each S3 action needs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

from domain.errors import DomainError

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
GROUPS = (ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY)

READ = "READ"
WRITE = "WRITE"
READ_ACP = "READ_ACP"
WRITE_ACP = "WRITE_ACP"
FULL_CONTROL = "FULL_CONTROL"
PERMISSIONS = (FULL_CONTROL, WRITE, WRITE_ACP, READ, READ_ACP)

CANNED = (
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
    "log-delivery-write",
)

GRANT_HEADERS = {
    "x-amz-grant-read": READ,
    "x-amz-grant-write": WRITE,
    "x-amz-grant-read-acp": READ_ACP,
    "x-amz-grant-write-acp": WRITE_ACP,
    "x-amz-grant-full-control": FULL_CONTROL,
}

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

JSON = dict[str, Any]
# Resolves a canonical ID to a display name; None when no such user exists.
Resolver = Callable[[str], "str | None"]


# -- building ACL documents ------------------------------------------------


def user_grant(cid: str, name: str, permission: str) -> JSON:
    return {"type": "CanonicalUser", "id": cid, "name": name, "permission": permission}


def group_grant(uri: str, permission: str) -> JSON:
    return {"type": "Group", "uri": uri, "permission": permission}


def make_acl(owner_id: str, owner_name: str, grants: list[JSON]) -> JSON:
    return {"owner": {"id": owner_id, "name": owner_name}, "grants": grants}


def private_acl(owner_id: str, owner_name: str) -> JSON:
    return make_acl(owner_id, owner_name, [user_grant(owner_id, owner_name, FULL_CONTROL)])


def canned_acl(
    name: str,
    owner_id: str,
    owner_name: str,
    *,
    bucket_owner_id: str | None = None,
    bucket_owner_name: str | None = None,
) -> JSON:
    """The ACL a canned x-amz-acl value stands for. InvalidArgument for an unknown name."""
    if name not in CANNED:
        raise DomainError("InvalidArgument", None, ArgumentName="x-amz-acl", ArgumentValue=name)
    grants = [user_grant(owner_id, owner_name, FULL_CONTROL)]
    if name == "public-read":
        grants.append(group_grant(ALL_USERS, READ))
    elif name == "public-read-write":
        grants += [group_grant(ALL_USERS, READ), group_grant(ALL_USERS, WRITE)]
    elif name == "authenticated-read":
        grants.append(group_grant(AUTHENTICATED_USERS, READ))
    elif name in ("bucket-owner-read", "bucket-owner-full-control"):
        if bucket_owner_id and bucket_owner_id != owner_id:
            perm = READ if name == "bucket-owner-read" else FULL_CONTROL
            grants.append(user_grant(bucket_owner_id, bucket_owner_name or "", perm))
    elif name == "log-delivery-write":
        grants += [group_grant(LOG_DELIVERY, WRITE), group_grant(LOG_DELIVERY, READ_ACP)]
    return make_acl(owner_id, owner_name, grants)


# -- x-amz-grant-* headers -------------------------------------------------

_GRANTEE = re.compile(r'\s*([A-Za-z]+)\s*=\s*(?:"([^"]*)"|([^,\s]*))\s*(?:,|$)')


def has_grant_headers(headers: Mapping[str, str]) -> bool:
    return not headers.keys().isdisjoint(GRANT_HEADERS)


def _grantee(kind: str, value: str, permission: str, resolve: Resolver) -> JSON:
    k = kind.lower()
    if k == "id":
        name = resolve(value)
        if name is None:
            raise DomainError("InvalidArgument", "Invalid id", ArgumentName="CanonicalUser/ID", ArgumentValue=value)
        return user_grant(value, name, permission)
    if k == "uri":
        if value not in GROUPS:
            raise DomainError("InvalidArgument", "Invalid group uri", ArgumentName="Group/URI", ArgumentValue=value)
        return group_grant(value, permission)
    if k == "emailaddress":
        raise DomainError(
            "UnresolvableGrantByEmailAddress",
            "The e-mail address you provided does not match any account on record.",
            EmailAddress=value,
        )
    raise DomainError("InvalidArgument", "Argument format not recognized", ArgumentName=kind, ArgumentValue=value)


def grants_from_headers(headers: Mapping[str, str], resolve: Resolver) -> list[JSON]:
    """The grants the x-amz-grant-* headers give (`id="..."`, `uri="..."`, `emailAddress="..."`,
    comma separated), in header order READ, WRITE, READ_ACP, WRITE_ACP, FULL_CONTROL."""
    grants: list[JSON] = []
    for header, permission in GRANT_HEADERS.items():
        value = headers.get(header)
        if value is None:
            continue
        pos = 0
        text = value.strip()
        if not text:
            raise DomainError(
                "InvalidArgument", "Argument format not recognized", ArgumentName=header, ArgumentValue=value
            )
        while pos < len(text):
            m = _GRANTEE.match(text, pos)
            if m is None or m.end() == pos:
                raise DomainError(
                    "InvalidArgument", "Argument format not recognized", ArgumentName=header, ArgumentValue=value
                )
            grants.append(
                _grantee(m.group(1), m.group(2) if m.group(2) is not None else m.group(3), permission, resolve)
            )
            pos = m.end()
    return grants


# -- AccessControlPolicy XML -----------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(e: ET.Element, name: str) -> ET.Element | None:
    for c in e:
        if _local(c.tag) == name:
            return c
    return None


def _text(e: ET.Element, name: str) -> str | None:
    c = _child(e, name)
    return None if c is None else (c.text or "").strip()


def _malformed() -> DomainError:
    return DomainError(
        "MalformedACLError",
        "The XML you provided was not well-formed or did not validate against our published schema",
    )


def parse_acl_xml(root: ET.Element, resolve: Resolver) -> tuple[str | None, list[JSON]]:
    """(owner canonical ID or None, grants) of an AccessControlPolicy document, parsed by the
    caller (the API's one XML parser, which refuses DTDs and entities)."""
    if _local(root.tag) != "AccessControlPolicy":
        raise _malformed()
    owner_el = _child(root, "Owner")
    owner_id = _text(owner_el, "ID") if owner_el is not None else None
    acl_el = _child(root, "AccessControlList")
    if acl_el is None:
        raise _malformed()
    grants: list[JSON] = []
    for grant_el in acl_el:
        if _local(grant_el.tag) != "Grant":
            raise _malformed()
        grantee = _child(grant_el, "Grantee")
        permission = _text(grant_el, "Permission")
        if grantee is None or permission is None:
            raise _malformed()
        if permission not in PERMISSIONS:
            raise _malformed()
        kind = grantee.get(f"{{{XSI_NS}}}type") or grantee.get("type") or ""
        if kind == "CanonicalUser" or (not kind and _child(grantee, "ID") is not None):
            cid = _text(grantee, "ID")
            if not cid:
                raise _malformed()
            grants.append(_grantee("id", cid, permission, resolve))
        elif kind == "Group" or (not kind and _child(grantee, "URI") is not None):
            uri = _text(grantee, "URI")
            if not uri:
                raise _malformed()
            grants.append(_grantee("uri", uri, permission, resolve))
        elif kind == "AmazonCustomerByEmail" or (not kind and _child(grantee, "EmailAddress") is not None):
            grants.append(_grantee("emailAddress", _text(grantee, "EmailAddress") or "", permission, resolve))
        else:
            raise _malformed()
    return owner_id, grants


def acl_xml(acl: Mapping[str, Any]) -> bytes:
    """The AccessControlPolicy document GetBucketAcl / GetObjectAcl answer."""
    owner = acl.get("owner") or {}
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<AccessControlPolicy xmlns="{S3_NS}">',
        f"<Owner><ID>{escape(owner.get('id', ''))}</ID>"
        f"<DisplayName>{escape(owner.get('name', ''))}</DisplayName></Owner>",
        "<AccessControlList>",
    ]
    grants = list(acl.get("grants") or ())
    # Groups first (stable otherwise): the order RGW answers in, which s3-tests expect.
    grants.sort(key=lambda g: g.get("type") != "Group")
    for g in grants:
        if g.get("type") == "Group":
            inner = f"<URI>{escape(g.get('uri', ''))}</URI>"
            kind = "Group"
        else:
            inner = f"<ID>{escape(g.get('id', ''))}</ID><DisplayName>{escape(g.get('name', ''))}</DisplayName>"
            kind = "CanonicalUser"
        parts.append(
            f'<Grant><Grantee xmlns:xsi={quoteattr(XSI_NS)} xsi:type="{kind}">{inner}</Grantee>'
            f"<Permission>{escape(g.get('permission', ''))}</Permission></Grant>"
        )
    parts.append("</AccessControlList></AccessControlPolicy>")
    return "".join(parts).encode()


# -- evaluation --------------------------------------------------------------


def is_public_acl(acl: Mapping[str, Any] | None) -> bool:
    """Whether the ACL grants anything to AllUsers or AuthenticatedUsers (AWS's "public")."""
    return any(
        g.get("type") == "Group" and g.get("uri") in (ALL_USERS, AUTHENTICATED_USERS)
        for g in (acl or {}).get("grants") or ()
    )


def acl_allows(
    acl: Mapping[str, Any] | None,
    *,
    principal_canonical_id: str | None,
    authenticated: bool,
    permission: str,
) -> bool:
    """Whether a grant of the ACL gives the caller `permission` (FULL_CONTROL gives all).
    Anonymous callers are AllUsers; authenticated ones are also AuthenticatedUsers."""
    if not acl:
        return False
    for g in acl.get("grants") or ():
        if g.get("permission") not in (permission, FULL_CONTROL):
            continue
        if g.get("type") == "Group":
            uri = g.get("uri")
            if uri == ALL_USERS or (authenticated and uri == AUTHENTICATED_USERS):
                return True
        elif principal_canonical_id is not None and g.get("id") == principal_canonical_id:
            return True
    return False


# Which ACL (the bucket's or the object's) an action is checked against, and for what.
BUCKET_ACL_PERMISSIONS: dict[str, str] = {
    "s3:ListBucket": READ,
    "s3:ListBucketVersions": READ,
    "s3:ListBucketMultipartUploads": READ,
    "s3:PutObject": WRITE,
    "s3:DeleteObject": WRITE,
    "s3:DeleteObjectVersion": WRITE,
    "s3:AbortMultipartUpload": WRITE,
    "s3:ListMultipartUploadParts": WRITE,
    "s3:GetBucketAcl": READ_ACP,
    "s3:PutBucketAcl": WRITE_ACP,
}
OBJECT_ACL_PERMISSIONS: dict[str, str] = {
    "s3:GetObject": READ,
    "s3:GetObjectVersion": READ,
    "s3:GetObjectTorrent": READ,
    "s3:GetObjectAcl": READ_ACP,
    "s3:GetObjectVersionAcl": READ_ACP,
    "s3:PutObjectAcl": WRITE_ACP,
    "s3:PutObjectVersionAcl": WRITE_ACP,
}


def acl_permission(action: str) -> tuple[str, str] | None:
    """("bucket" | "object", permission) an ACL must grant for `action`; None when no ACL
    permission covers the action (only policies or ownership can allow it)."""
    perm = BUCKET_ACL_PERMISSIONS.get(action)
    if perm is not None:
        return "bucket", perm
    perm = OBJECT_ACL_PERMISSIONS.get(action)
    if perm is not None:
        return "object", perm
    return None

"""Authorization: whether a request's identity may perform the IAM action its operation's
row names (api.s3.operations).

Root may do everything. Anyone else is decided by the policy engine (domain.policy) from the
identity's policies (its own and its groups', cached per process behind the IAM generation
number read with the credential, so never stale), the bucket policy, ownership, and session
policies (a service account's embedded policy, an STS session policy), which only narrow.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson

from api.auth.request_context import CONTEXT_VALUE, principal_arn, request_context, resource_of
from api.errors import S3Error
from api.s3.bucket_settings import ownership, public_access_settings
from domain.acl import acl_allows, acl_permission, private_acl
from domain.errors import DomainError
from domain.ownership import ACCOUNT, BUCKET_OWNER_ENFORCED, canonical_id, is_public_policy, without_public_grants
from domain.policy import Policy, Request, authorize_detail
from projections.iam import queries as iam_queries
from projections.namespace.acl_queries import bucket_acl, object_acl
from projections.namespace.queries import get_bucket, latest_version, version_by_id

if TYPE_CHECKING:
    from api.auth.identity import Identity
    from api.context import ServerContext
    from api.request import S3Request


@lru_cache(maxsize=4096)
def _canonical_id(user: str) -> str:
    return canonical_id(user)


_EXISTING_TAG_MENTIONS: dict[str, bool] = {}


def _mentions_existing_tags(text: str) -> bool:
    found = _EXISTING_TAG_MENTIONS.get(text)
    if found is None:
        if len(_EXISTING_TAG_MENTIONS) > 4096:
            _EXISTING_TAG_MENTIONS.clear()
        found = _EXISTING_TAG_MENTIONS[text] = "existingobjecttag" in text.lower()
    return found


def _existing_tags(tx: Any, bucket: str, key: str, version_id: str | None) -> dict[str, str]:
    row = version_by_id(tx, bucket, key, version_id) if version_id else latest_version(tx, bucket, key)
    return dict(row["tags"] or {}) if row is not None and not row["is_delete_marker"] else {}


async def _add_existing_tags(
    ctx: ServerContext,
    version_id: str | None,
    context: dict[str, Any],
    resource: str,
    bucket: str,
    policies: list[Policy],
) -> None:
    """s3:ExistingObjectTag/<key>: the addressed object's tags, read only when a policy asks."""
    prefix = f"arn:aws:s3:::{bucket}/"
    if not resource.startswith(prefix) or not any(_mentions_existing_tags(p.text) for p in policies):
        return
    tags = await ctx.read(_existing_tags, bucket, resource[len(prefix) :], version_id)
    for k, v in tags.items():
        context[f"s3:existingobjecttag/{k.lower()}"] = v


_ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["*"], "Resource": ["*"]}]}


async def _identity_policies(ctx: ServerContext, identity: Identity | None) -> list[Policy]:
    """The user's policies (its own and its groups'); for an assumed IAM role's session, the
    role's inline policies instead; root's own keys and sessions hold root's rights (their
    session policies still narrow them)."""
    if identity is None:
        return []
    if identity.role:
        role = await ctx.read(iam_queries.role, identity.role)
        return ctx.policies.for_role(role) if role else []
    if identity.user == ctx.settings.root_user:
        return [ctx.policies.parsed("identity", _ALLOW_ALL)]
    return await ctx.policies.for_user(ctx, identity.user, identity.gen)


def _bucket_facts(tx: Any, bucket: str) -> tuple[dict[str, Any] | None, str | None]:
    row = get_bucket(tx, bucket)
    policy = None
    if row is not None:
        policy = tx.scalar("SELECT document FROM ns_bucket_configs WHERE bucket = ? AND name = 'policy'", (bucket,))
    return row, policy


Facts = tuple[dict[str, Any] | None, str | None]  # a bucket row and its policy text
_REQUEST_VERSION: Any = object()  # decide(): the object version is the request's ?versionId


async def decide(
    ctx: ServerContext,
    req: S3Request,
    action: str,
    resource: str,
    bucket: str | None,
    *,
    extra: dict[str, str] | None = None,
    version_id: str | None = _REQUEST_VERSION,
) -> tuple[bool, str, dict[str, Any] | None]:
    """(allowed, reason, bucket row) for the request's identity; `extra`: condition keys that
    replace the request's own (e.g. s3:prefix when asking whether a key may be listed);
    `version_id`: the object version whose tags and ACL count (a copy's source), when it is
    not the request's own ?versionId."""
    identity: Identity | None = req.identity
    if version_id is _REQUEST_VERSION:
        version_id = req.query.get("versionId")
    row, bucket_doc = await _facts_of(ctx, req, bucket)
    if identity is not None and identity.is_root:
        return True, "root", row
    if extra is None:
        decided = _remembered(ctx, req, identity, action, resource, bucket, row, bucket_doc)
        if decided is not None and (decided[0] or decided[1] != "implicit-deny" or row is None):
            return decided[0], decided[1], row
    now = ctx.clock()
    identity_policies = await _identity_policies(ctx, identity)
    bucket_policy = await _bucket_policy_for(ctx, identity, bucket_doc, bucket or "")
    session = []
    if identity is not None and identity.session_policy:
        try:
            session.append(ctx.policies.parsed("session", identity.session_policy))
        except DomainError:
            return False, "session-policy", row
    reading = [*identity_policies, *([bucket_policy] if bucket_policy else [])]
    context = await _context_for(ctx, req, identity, now, extra, version_id, resource, bucket or "", reading)
    arn = principal_arn(identity)
    user = identity.user if identity is not None else None
    is_owner = identity is not None and row is not None and row["owner"] == user
    policies = (tuple(identity_policies), bucket_policy, tuple(session))
    memo = ctx.policies.decision_key(policies, action, resource, user, arn, is_owner, context)
    decided = ctx.policies.decisions.get(memo) if memo is not None else None
    request = None
    if decided is None:
        request = _request(action, resource, user, arn, context)
        decided = authorize_detail(
            identity_policies=identity_policies,
            bucket_policy=bucket_policy,
            acl_allows=False,
            session_policies=session,
            req=request,
            is_root=False,
            is_owner=is_owner,
        )
        if memo is not None:
            ctx.policies.remember_decision(memo, decided)
    allowed, reason = decided
    # Only when nothing else allowed it: the ACLs are read for this case alone.
    if (
        not allowed
        and reason == "implicit-deny"
        and row is not None
        and await _acl_allows(ctx, version_id, identity, action, resource, bucket or "")
    ):
        allowed, reason = authorize_detail(
            identity_policies=identity_policies,
            bucket_policy=bucket_policy,
            acl_allows=True,
            session_policies=session,
            req=request or _request(action, resource, user, arn, context),
            is_root=False,
            is_owner=is_owner,
        )
    return allowed, reason, row


async def _context_for(
    ctx: ServerContext,
    req: S3Request,
    identity: Identity | None,
    now: float,
    extra: dict[str, str] | None,
    version_id: str | None,
    resource: str,
    bucket: str,
    policies: list[Policy],
) -> dict[str, Any]:
    """The condition keys the policies are evaluated against: the request's, `extra` over
    them, and the addressed object's tags when a policy reads them."""
    context = request_context(req, identity, now)
    if extra:
        context.update(extra)
    await _add_existing_tags(ctx, version_id, context, resource, bucket, policies)
    return context


async def _facts_of(ctx: ServerContext, req: S3Request, bucket: str | None) -> Facts:
    """The bucket's row and policy text: read with the credential when authentication did."""
    if not bucket:
        return None, None
    prefetched = getattr(req, "bucket_facts", None)
    if prefetched is not None and prefetched[0] == bucket:
        return prefetched[1]
    return await ctx.query(_bucket_facts, bucket)


async def _bucket_policy_for(
    ctx: ServerContext, identity: Identity | None, bucket_doc: str | None, bucket: str
) -> Policy | None:
    """The bucket policy that applies to the caller (an invalid stored one applies to nobody)."""
    if bucket_doc is None:
        return None
    try:
        bucket_policy = ctx.policies.bucket_policy(bucket_doc, bucket)
    except DomainError:
        return None
    if identity is None and await _restricts_public_policy(ctx, bucket_doc, bucket):
        return None  # RestrictPublicBuckets: a public policy opens nothing to anonymous callers
    return bucket_policy


def _remembered(
    ctx: ServerContext,
    req: S3Request,
    identity: Identity | None,
    action: str,
    resource: str,
    bucket: str | None,
    row: dict[str, Any] | None,
    bucket_doc: str | None,
) -> tuple[bool, str] | None:
    """The memoized decision for a plain user's request, when its policies are cached and
    read only context keys of CONTEXT_VALUE; None sends decide() the long way (which
    memoizes under the same key)."""
    if identity is None or identity.role or identity.user == ctx.settings.root_user:
        return None
    identity_policies = ctx.policies.cached_user(identity.user, identity.gen)
    if identity_policies is None:
        return None
    try:
        bucket_policy = ctx.policies.bucket_policy(bucket_doc, bucket or "") if bucket_doc is not None else None
        session = (ctx.policies.parsed("session", identity.session_policy),) if identity.session_policy else ()
    except DomainError:
        return None
    policies = (tuple(identity_policies), bucket_policy, session)
    names = ctx.policies.names_read(policies)
    if names is None:
        return None
    context = {}
    for name in names:
        value = CONTEXT_VALUE.get(name)
        if value is None:
            return None
        context[name] = value(req, identity)
    is_owner = row is not None and row["owner"] == identity.user
    key = ctx.policies.decision_key(
        policies, action, resource, identity.user, principal_arn(identity), is_owner, context
    )
    return ctx.policies.decisions.get(key) if key is not None else None


def _request(action: str, resource: str, user: str | None, arn: str | None, context: dict[str, Any]) -> Request:
    return Request(
        action=action,
        resource=resource,
        principal=user,
        principal_arn=arn,
        account=ACCOUNT,
        context=context,
        canonical_id=_canonical_id(user) if user is not None else None,
    )


async def _restricts_public_policy(ctx: ServerContext, stored: str, bucket: str) -> bool:
    return (
        is_public_policy(orjson.loads(stored))
        and (await ctx.read(public_access_settings, bucket))["RestrictPublicBuckets"]
    )


async def _acl_allows(
    ctx: ServerContext, version_id: str | None, identity: Identity | None, action: str, resource: str, bucket: str
) -> bool:
    """Whether the bucket's ACL (bucket-level permissions) or the addressed object version's
    ACL (object-level ones) grants the caller what `action` needs. Anonymous callers are
    AllUsers; authenticated ones AuthenticatedUsers too."""
    needed = acl_permission(action)
    if needed is None:
        return False
    if await ctx.read(ownership, bucket) == BUCKET_OWNER_ENFORCED:
        return False  # ACLs are disabled: they grant nothing
    level, permission = needed
    caller = canonical_id(identity.user) if identity is not None else None
    if level == "bucket":
        acl = await ctx.read(bucket_acl, bucket)
    else:
        prefix = f"arn:aws:s3:::{bucket}/"
        if not resource.startswith(prefix):
            return False
        found = await ctx.read(object_acl, bucket, resource[len(prefix) :], version_id)
        if found is None or found["is_delete_marker"]:
            return False
        acl = found["acl"]
        if acl is None and found["owner"]:
            acl = private_acl(canonical_id(found["owner"]), found["owner"])
    if acl and any(g.get("type") == "Group" for g in acl.get("grants") or ()):
        if (await ctx.read(public_access_settings, bucket))["IgnorePublicAcls"]:
            acl = without_public_grants(acl)
    return acl_allows(acl, principal_canonical_id=caller, authenticated=identity is not None, permission=permission)


async def authorize_request(req: S3Request, ctx: ServerContext, level: str, sub: str, action: str) -> None:
    """`action`: the IAM action of the request's row in the operation table."""
    identity: Identity | None = req.identity
    if identity is not None and identity.is_root:
        return
    if level == "service":
        if identity is None:
            raise S3Error("AccessDenied")
        _allowed, reason, _row = await decide(ctx, req, action, "*", None)
        if reason.startswith("explicit-deny") or reason == "session-policy":
            raise S3Error("AccessDenied")
        return  # otherwise ListBuckets filters per bucket
    bucket = req.bucket
    allowed, _reason, row = await decide(ctx, req, action, resource_of(req, level), bucket)
    reading = level == "object" and sub == "" and req.method in ("GET", "HEAD") and row is not None
    if allowed:
        if reading and await _missing_key(ctx, req) and not await _may_list_key(ctx, req):
            # As S3: whether a key exists is only told to callers that may list it.
            raise S3Error("AccessDenied")
        return
    creating = req.method == "PUT" and level == "bucket" and sub == ""
    if row is None and not creating:
        raise S3Error("NoSuchBucket", extra={"BucketName": bucket})
    if reading and "versionId" not in req.query and await _missing_key(ctx, req) and await _may_list_key(ctx, req):
        raise S3Error("NoSuchKey", extra={"Key": req.key})  # nothing to read, and it may know that
    raise S3Error("AccessDenied")


async def authorize_copy_source(
    req: S3Request, ctx: ServerContext, bucket: str, key: str, version_id: str | None
) -> None:
    """CopyObject and UploadPartCopy read their source: the caller needs s3:GetObject (or
    s3:GetObjectVersion) on it, by the same policies and ACLs as a GET of it would."""
    identity: Identity | None = req.identity
    if identity is not None and identity.is_root:
        return
    action = "s3:GetObjectVersion" if version_id is not None else "s3:GetObject"
    allowed, _reason, row = await decide(
        ctx, req, action, f"arn:aws:s3:::{bucket}/{key}", bucket, version_id=version_id
    )
    if allowed:
        return
    if row is None:
        raise S3Error("NoSuchBucket", extra={"BucketName": bucket})
    raise S3Error("AccessDenied")


def _key_exists(tx: Any, bucket: str, key: str) -> bool:
    row = latest_version(tx, bucket, key)
    return row is not None and not row["is_delete_marker"]


async def _missing_key(ctx: ServerContext, req: S3Request) -> bool:
    """Whether the addressed key has no current object (read with the credential when it was)."""
    prefetched = req.prefetched_version
    if prefetched is not None and prefetched[0] == req.query.get("versionId"):
        kind, value = prefetched[1]
        return kind == "error" and value.code == "NoSuchKey"
    if "versionId" in req.query:
        return False
    return not await ctx.query(_key_exists, req.bucket, req.key)


async def _may_list_key(ctx: ServerContext, req: S3Request) -> bool:
    """s3:ListBucket on the bucket with s3:prefix = the key."""
    allowed, _r, _row = await decide(
        ctx, req, "s3:ListBucket", f"arn:aws:s3:::{req.bucket}", req.bucket, extra={"s3:prefix": req.key}
    )
    return allowed


async def authorize_admin(req: S3Request, ctx: ServerContext, action: str) -> None:
    """Admin API calls: root, or an identity policy allowing the admin: action."""
    identity: Identity | None = req.identity
    if identity is None:
        raise S3Error("AccessDenied")
    if identity.is_root:
        return
    allowed, _reason, _row = await decide(ctx, req, action, "*", None)
    if not allowed:
        raise S3Error("AccessDenied")


async def visible_buckets(req: S3Request, ctx: ServerContext, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ListBuckets shows a user the buckets its policies (or ownership) reach. A caller that
    reaches none and may not s3:ListAllMyBuckets is refused, as MinIO and AWS refuse it."""
    identity: Identity | None = req.identity
    if identity is None or identity.is_root:
        return rows
    out = []
    for row in rows:
        for action in ("s3:ListBucket", "s3:GetBucketLocation"):
            allowed, _r, _row = await decide(ctx, req, action, f"arn:aws:s3:::{row['name']}", row["name"])
            if allowed:
                out.append(row)
                break
    if not out and not (await decide(ctx, req, "s3:ListAllMyBuckets", "*", None))[0]:
        raise S3Error("AccessDenied")
    return out

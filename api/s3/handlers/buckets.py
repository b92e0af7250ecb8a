"""Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, location, versioning,
and the subresources that exist in S3 but are not configured here yet."""

from __future__ import annotations

from typing import Any

from api.auth.authz import visible_buckets
from api.context import ServerContext
from api.errors import S3Error
from api.request import S3Request
from api.response import Response, empty, xml
from api.s3.acl_request import create_bucket_acl
from api.s3.bucket_settings import OWNERSHIP_CONTROLS, check_ownership_mode
from api.s3.handlers.common import RESERVED_BUCKETS, bucket_must_exist, iso8601, valid_bucket_name
from api.s3.xml import X, parse, text
from api.services import buckets
from domain.ownership import BUCKET_OWNER_ENFORCED, acl_is_owner_only, canonical_id
from projections.namespace.queries import (
    get_bucket,
    list_buckets,
)


def owner_xml(x: X, owner: str) -> None:
    x.open("Owner").leaf("ID", canonical_id(owner)).leaf("DisplayName", owner).close("Owner")


async def list_all_buckets(req: S3Request, ctx: ServerContext) -> Response:
    prefix = req.query.get("prefix", "")
    after = req.query.get("continuation-token", "")
    raw_max = req.query.get("max-buckets")
    limit = 10000
    if raw_max is not None:
        if not raw_max.isdigit() or not 1 <= int(raw_max) <= 10000:
            raise S3Error(
                "InvalidArgument",
                "Argument max-buckets must be an integer between 1 and 10000",
                extra={"ArgumentName": "max-buckets", "ArgumentValue": raw_max},
            )
        limit = int(raw_max)
    rows = [r for r in await ctx.read(list_buckets) if r["name"].startswith(prefix) and r["name"] > after]
    rows = await visible_buckets(req, ctx, rows)
    page, truncated = rows[:limit], len(rows) > limit
    x = X().open("ListAllMyBucketsResult", xmlns=True)
    owner_xml(x, req.principal)
    x.open("Buckets")
    for row in page:
        x.open("Bucket").leaf("Name", row["name"]).leaf("CreationDate", iso8601(row["created_us"]))
        x.leaf("BucketRegion", row["region"]).close("Bucket")
    x.close("Buckets")
    if truncated:
        x.leaf("ContinuationToken", page[-1]["name"])
    if prefix:
        x.leaf("Prefix", prefix)
    x.close("ListAllMyBucketsResult")
    return xml(x.bytes())


async def create_bucket(req: S3Request, ctx: ServerContext) -> Response:
    name = req.bucket
    if name in RESERVED_BUCKETS:
        # MinIO's answer. Only creation is refused: a bucket made before keeps being served.
        raise S3Error("AllAccessDisabled", extra={"BucketName": name})
    if not valid_bucket_name(name):
        raise S3Error("InvalidBucketName", extra={"BucketName": name})
    region = ctx.settings.region
    body = await req.read_all()
    if body.strip():
        doc = parse(body, "CreateBucketConfiguration")
        constraint = text(doc, "LocationConstraint")
        if constraint is not None:
            if constraint == "" or constraint != ctx.settings.region:
                if constraint not in ("", ctx.settings.region):
                    raise S3Error(
                        "InvalidLocationConstraint" if constraint == "" else "IllegalLocationConstraintException",
                        "The specified location-constraint is not valid" if constraint == "" else None,
                    )
            region = constraint or region
    settings: dict[str, Any] = {}
    actor = req.actor()
    owner = req.principal
    acl = await create_bucket_acl(req, ctx, owner)
    if acl is not None:
        settings["acl"] = acl
    object_ownership = req.header("x-amz-object-ownership")
    if object_ownership is not None:
        settings[OWNERSHIP_CONTROLS] = {"ObjectOwnership": check_ownership_mode(object_ownership)}
        if object_ownership == BUCKET_OWNER_ENFORCED and not acl_is_owner_only(acl):
            raise S3Error("InvalidBucketAclWithObjectOwnership")

    await buckets.create_bucket(ctx, name, region=region, owner=owner, actor=actor, settings=settings)
    return empty(200, {"location": f"/{name}"})


async def head_bucket(req: S3Request, ctx: ServerContext) -> Response:
    row = await ctx.read(get_bucket, req.bucket)
    if row is None:
        raise S3Error("NoSuchBucket", extra={"BucketName": req.bucket})
    return empty(200, {"x-amz-bucket-region": row["region"]})


async def delete_bucket(req: S3Request, ctx: ServerContext) -> Response:
    await buckets.delete_bucket(ctx, req.bucket, req.actor())
    return empty(204)


async def get_location(req: S3Request, ctx: ServerContext) -> Response:
    row = await ctx.read(bucket_must_exist, req.bucket)
    region = row["region"]
    x = X().open("LocationConstraint", xmlns=True)
    x.raw("" if region == "us-east-1" else region).close("LocationConstraint")
    return xml(x.bytes())


async def get_versioning(req: S3Request, ctx: ServerContext) -> Response:
    row = await ctx.read(bucket_must_exist, req.bucket)
    x = X().open("VersioningConfiguration", xmlns=True)
    if row["versioning"]:
        x.leaf("Status", row["versioning"])
    x.close("VersioningConfiguration")
    return xml(x.bytes())


async def put_versioning(req: S3Request, ctx: ServerContext) -> Response:
    doc = parse(await req.read_all(), "VersioningConfiguration")
    status = text(doc, "Status")
    mfa = text(doc, "MfaDelete")
    if status not in ("Enabled", "Suspended") or (mfa is not None and mfa not in ("Enabled", "Disabled")):
        raise S3Error("IllegalVersioningConfigurationException" if status is not None else "MalformedXML")
    await update_bucket(req, ctx, lambda b, actor: b.set_versioning(status=status, actor=actor))
    return empty(200)


async def update_bucket(req: S3Request, ctx: ServerContext, mutate: Any) -> None:
    """Append one event to an existing bucket's aggregate (loaded fresh on every attempt)."""
    await buckets.change_bucket(ctx, req.bucket, req.actor(), mutate)


# Subresources S3 has and we do not configure yet: GET answers as AWS does when unset.
UNCONFIGURED = {
    "lifecycle": "NoSuchLifecycleConfiguration",
    "encryption": "ServerSideEncryptionConfigurationNotFoundError",
    "object-lock": "ObjectLockConfigurationNotFoundError",
    "website": "NoSuchWebsiteConfiguration",
    "replication": "ReplicationConfigurationNotFoundError",
    "publicAccessBlock": "NoSuchPublicAccessBlockConfiguration",
    "ownershipControls": "OwnershipControlsNotFoundError",
}


async def get_unconfigured(req: S3Request, ctx: ServerContext, sub: str) -> Response:
    # A bucket created with Object Lock before it was refused never had it working (versioning
    # off, retention not enforced): it answers as every bucket does (see object_lock).
    await ctx.read(bucket_must_exist, req.bucket)
    raise S3Error(UNCONFIGURED[sub], extra={"BucketName": req.bucket})


async def get_simple_config(req: S3Request, ctx: ServerContext, sub: str) -> Response:
    """Subresources with a fixed answer: logging, request payment, accelerate."""
    await ctx.read(bucket_must_exist, req.bucket)
    bodies = {
        "logging": X().open("BucketLoggingStatus", xmlns=True).close("BucketLoggingStatus"),
        "requestPayment": X()
        .open("RequestPaymentConfiguration", xmlns=True)
        .leaf("Payer", "BucketOwner")
        .close("RequestPaymentConfiguration"),
        "accelerate": X().open("AccelerateConfiguration", xmlns=True).close("AccelerateConfiguration"),
    }
    return xml(bodies[sub].bytes())

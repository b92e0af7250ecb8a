"""Bucket writes: create a bucket, and change an existing one (delete it, versioning,
subresource configurations)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from api.context import ServerContext
from api.errors import S3Error
from domain.actor import Actor
from domain.aggregates import Bucket, bucket_id
from domain.preconditions import BucketExists, BucketIsEmpty, BucketIsFree, Precondition, Refused
from domain.write_plan import WritePlan

# us-east-1 answers CreateBucket of a bucket one already owns with 200, leaving it as it is.
ALREADY_OWNED_IS_SUCCESS_IN = "us-east-1"


async def create_bucket(
    ctx: ServerContext, name: str, *, region: str, owner: str, actor: Actor, settings: dict[str, Any]
) -> None:
    """A new bucket, or one of a name whose bucket was deleted."""

    def load() -> list[Bucket]:
        try:
            bucket: Bucket = ctx.store.repository.get(bucket_id(name))
        except AggregateNotFoundError:  # a new name
            return [Bucket(name=name, region=region, owner=owner, actor=actor, settings=settings)]
        if bucket.exists:
            code = "BucketAlreadyOwnedByYou" if bucket.owner == owner else "BucketAlreadyExists"
            raise Refused(code, BucketName=name)
        bucket.recreate(name=name, region=region, owner=owner, actor=actor, settings=settings)
        return [bucket]

    try:
        await ctx.submit(WritePlan.changing(load, preconditions=(BucketIsFree(name, owner),)))
    except S3Error as err:
        if not (err.code == "BucketAlreadyOwnedByYou" and region == ALREADY_OWNED_IS_SUCCESS_IN):
            raise


async def change_bucket(
    ctx: ServerContext,
    name: str,
    actor: Actor,
    mutate: Callable[[Bucket, Actor], Any],
    preconditions: tuple[Precondition, ...] = (),
) -> None:
    """Append one event to an existing bucket's aggregate (loaded afresh on every attempt)."""

    def load() -> list[Bucket]:
        try:
            bucket: Bucket = ctx.store.repository.get(bucket_id(name))
        except AggregateNotFoundError:
            raise Refused("NoSuchBucket", BucketName=name) from None
        if not bucket.exists:
            raise Refused("NoSuchBucket", BucketName=name)
        mutate(bucket, actor)
        return [bucket]

    await ctx.submit(WritePlan.changing(load, preconditions=(BucketExists(name), *preconditions)))


async def delete_bucket(ctx: ServerContext, name: str, actor: Actor) -> None:
    await change_bucket(ctx, name, actor, lambda b, a: b.delete(actor=a), (BucketIsEmpty(name),))

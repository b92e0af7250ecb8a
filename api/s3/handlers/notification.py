"""Put/GetBucketNotificationConfiguration (`?notification`), as MinIO answers them.

PUT parses and validates the NotificationConfiguration against the targets this server
knows (MinIO's errors: InvalidArgument for an unknown ARN, event or filter rule,
UnsupportedNotification for Topic/CloudFunction configurations, MalformedXML), then
records it as a bucket configuration event; an empty configuration removes the rules.
GET answers the stored rules in the server region, leaving out queues whose target is no
longer configured (as MinIO does), or an empty configuration.
"""

from __future__ import annotations

from typing import Any

from api.context import ServerContext
from api.errors import S3Error
from api.request import S3Request
from api.response import Response, empty, xml
from api.s3.handlers.buckets import update_bucket
from api.s3.handlers.common import bucket_must_exist
from api.s3.xml import parse
from domain.notifications import EMPTY, NotificationConfig, NotificationError, parse_config
from projections.namespace.queries import bucket_config

NOTIFICATION = "notification"
MAX_CONFIG_BYTES = 1024 * 1024


async def put_bucket_notification(req: S3Request, ctx: ServerContext) -> Response:
    await ctx.read(bucket_must_exist, req.bucket)
    body = await req.read_all(limit=MAX_CONFIG_BYTES)
    targets = await ctx.current_targets()
    try:
        config = parse_config(parse(body), region=targets.region, known_arns=targets.known_arns())
    except NotificationError as err:
        raise S3Error(err.code, err.message, status=400) from None
    if config.is_empty:
        await update_bucket(req, ctx, lambda b, actor: b.delete_configuration(subresource=NOTIFICATION, actor=actor))
    else:
        document = config.to_dict()
        await update_bucket(
            req,
            ctx,
            lambda b, actor: b.set_configuration(subresource=NOTIFICATION, document=document, actor=actor),
        )
    return empty(200)


async def get_bucket_notification(req: S3Request, ctx: ServerContext) -> Response:
    def read(tx: Any) -> Any:
        bucket_must_exist(tx, req.bucket)
        return bucket_config(tx, req.bucket, NOTIFICATION)

    document = await ctx.read(read)
    config = NotificationConfig.from_dict(document) if document else EMPTY
    targets = await ctx.current_targets()
    return xml(config.for_get(targets.region, targets.known_arns()).to_xml())

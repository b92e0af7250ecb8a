"""Object and bucket tagging, with AWS's limits."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from api.context import ServerContext
from api.errors import S3Error
from api.request import S3Request
from api.response import Response, empty, xml
from api.s3.handlers.buckets import update_bucket
from api.s3.handlers.common import bucket_must_exist
from api.s3.xml import X, child, children, parse, text
from api.s3.xmltext import carries
from projections.namespace.queries import bucket_config

MAX_OBJECT_TAGS = 10
MAX_BUCKET_TAGS = 50


def validate_tags(tags: dict[str, str], limit: int = MAX_OBJECT_TAGS) -> dict[str, str]:
    if len(tags) > limit:
        raise S3Error(
            "InvalidTag",
            "Object tags cannot be greater than 10"
            if limit == MAX_OBJECT_TAGS
            else "Bucket tag count cannot be greater than 50",
        )
    for k, v in tags.items():
        # Characters XML 1.0 cannot carry would break every GetObjectTagging answer.
        if not k or len(k) > 128 or not carries(k):
            raise S3Error("InvalidTag", "The TagKey you have provided is invalid")
        if len(v) > 256 or not carries(v):
            raise S3Error("InvalidTag", "The TagValue you have provided is invalid")
        if k.startswith("aws:"):
            raise S3Error("InvalidTag", "Your TagKey cannot be prefixed with aws:")
    return tags


def tags_from_header(value: str | None) -> dict[str, str]:
    if not value:
        return {}
    try:
        pairs = parse_qsl(value, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise S3Error(
            "InvalidArgument",
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag "
            "name duplicates.",
            extra={"ArgumentName": "x-amz-tagging", "ArgumentValue": value},
        ) from None
    tags: dict[str, str] = {}
    for k, v in pairs:
        if k in tags:
            raise S3Error("InvalidTag", "Cannot provide multiple Tags with the same key")
        tags[k] = v
    return validate_tags(tags)


def tags_from_xml(body: bytes, limit: int = MAX_OBJECT_TAGS) -> dict[str, str]:
    doc = parse(body, "Tagging")
    tagset = child(doc, "TagSet")
    if tagset is None:
        raise S3Error("MalformedXML")
    tags: dict[str, str] = {}
    for tag in children(tagset, "Tag"):
        k, v = text(tag, "Key"), text(tag, "Value")
        if k is None or v is None:
            raise S3Error("MalformedXML")
        if k in tags:
            raise S3Error("InvalidTag", "Cannot provide multiple Tags with the same key")
        tags[k] = v
    return validate_tags(tags, limit)


def tagging_xml(tags: dict[str, Any]) -> bytes:
    x = X().open("Tagging", xmlns=True).open("TagSet")
    for k, v in tags.items():
        x.open("Tag").leaf("Key", k).leaf("Value", v).close("Tag")
    return x.close("TagSet").close("Tagging").bytes()


async def get_bucket_tagging(req: S3Request, ctx: ServerContext) -> Response:
    await ctx.read(bucket_must_exist, req.bucket)
    tags = await ctx.read(bucket_config, req.bucket, "tagging")
    if tags is None:
        raise S3Error("NoSuchTagSet", extra={"BucketName": req.bucket})
    return xml(tagging_xml(tags))


async def put_bucket_tagging(req: S3Request, ctx: ServerContext) -> Response:
    tags = tags_from_xml(await req.read_all(), MAX_BUCKET_TAGS)
    await update_bucket(
        req, ctx, lambda b, actor: b.set_configuration(subresource="tagging", document=tags, actor=actor)
    )
    return empty(204)


async def delete_bucket_tagging(req: S3Request, ctx: ServerContext) -> Response:
    await update_bucket(req, ctx, lambda b, actor: b.delete_configuration(subresource="tagging", actor=actor))
    return empty(204)

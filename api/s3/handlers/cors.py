"""Put/Get/DeleteBucketCors (`?cors`) and the preflight OPTIONS request they govern, as AWS
answers them.

PUT checks the CORSConfiguration against AWS's schema and limits (domain.cors) and records
it as the bucket's `cors` configuration; DELETE removes it. A preflight is answered before,
and without, authentication (a browser sends no credentials with it) from the bucket's rules.
The headers an actual cross-origin request gets are added in api.s3.cors_headers.
"""

from __future__ import annotations

import re
from typing import Any
from xml.etree.ElementTree import Element

from api.context import ServerContext
from api.errors import S3Error
from api.request import S3Request
from api.response import Response, empty, xml
from api.s3.cors_headers import bucket_cors
from api.s3.handlers.buckets import update_bucket
from api.s3.handlers.common import bucket_must_exist, header_value
from api.s3.xml import X, local, parse
from domain.cors import SUBRESOURCE, CorsConfiguration, CorsRule
from projections.namespace.queries import bucket_config

MAX_CONFIG_BYTES = 64 * 1024  # "The document is limited to 64 KB in size."
# CORSRule's elements: which may repeat, and where each goes.
_LISTS = {
    "AllowedOrigin": "allowed_origins",
    "AllowedMethod": "allowed_methods",
    "AllowedHeader": "allowed_headers",
    "ExposeHeader": "expose_headers",
}
_INTEGER = re.compile(r"-?[0-9]{1,10}")
MAX_INTEGER = 2**31 - 1  # MaxAgeSeconds is an xsd:int


def _rule(element: Element) -> CorsRule:
    lists: dict[str, list[str]] = {field: [] for field in _LISTS.values()}
    singles: dict[str, str] = {}
    for child in element:
        name, value = local(child.tag), (child.text or "").strip()
        if name in _LISTS:
            lists[_LISTS[name]].append(value)
        elif name in ("ID", "MaxAgeSeconds") and name not in singles:
            singles[name] = value
        else:
            raise S3Error("MalformedXML")
    for value in lists["expose_headers"]:
        header_value("ExposeHeader", value)  # answered in a header: HTTP must carry it
    max_age = singles.get("MaxAgeSeconds")
    if max_age is not None and (_INTEGER.fullmatch(max_age) is None or int(max_age) > MAX_INTEGER):
        raise S3Error("MalformedXML")
    return CorsRule(
        allowed_origins=tuple(lists["allowed_origins"]),
        allowed_methods=tuple(lists["allowed_methods"]),
        allowed_headers=tuple(lists["allowed_headers"]),
        expose_headers=tuple(lists["expose_headers"]),
        max_age_seconds=None if max_age is None else int(max_age),
        id=singles.get("ID"),
    )


def configuration_from_xml(body: bytes) -> CorsConfiguration:
    root = parse(body, "CORSConfiguration")
    if any(local(child.tag) != "CORSRule" for child in root):
        raise S3Error("MalformedXML")
    return CorsConfiguration(tuple(_rule(child) for child in root))  # checked by Bucket.set_cors


def configuration_xml(config: CorsConfiguration) -> bytes:
    x = X().open("CORSConfiguration", xmlns=True)
    for rule in config.rules:
        x.open("CORSRule").leaf("ID", rule.id)
        for tag, values in (
            ("AllowedHeader", rule.allowed_headers),
            ("AllowedMethod", rule.allowed_methods),
            ("AllowedOrigin", rule.allowed_origins),
            ("ExposeHeader", rule.expose_headers),
        ):
            for value in values:
                x.leaf(tag, value)
        x.leaf("MaxAgeSeconds", rule.max_age_seconds).close("CORSRule")
    return x.close("CORSConfiguration").bytes()


async def put_bucket_cors(req: S3Request, ctx: ServerContext) -> Response:
    await ctx.read(bucket_must_exist, req.bucket)
    configuration = configuration_from_xml(await req.read_all(limit=MAX_CONFIG_BYTES))
    await update_bucket(req, ctx, lambda b, actor: b.set_cors(configuration, actor=actor))
    return empty(200)


async def get_bucket_cors(req: S3Request, ctx: ServerContext) -> Response:
    def read(tx: Any) -> Any:
        bucket_must_exist(tx, req.bucket)
        return bucket_config(tx, req.bucket, SUBRESOURCE)

    document = await ctx.read(read)
    if document is None:
        raise S3Error("NoSuchCORSConfiguration", extra={"BucketName": req.bucket})
    return xml(configuration_xml(CorsConfiguration.from_document(document)))


async def delete_bucket_cors(req: S3Request, ctx: ServerContext) -> Response:
    await ctx.read(bucket_must_exist, req.bucket)
    await update_bucket(req, ctx, lambda b, actor: b.delete_configuration(subresource=SUBRESOURCE, actor=actor))
    return empty(204)


def _forbidden(message: str | None, method: str, resource_type: str) -> S3Error:
    """AccessForbidden; without a message, the table's "This CORS request is not allowed..."."""
    return S3Error("AccessForbidden", message, extra={"Method": method, "ResourceType": resource_type})


async def cors_preflight(req: S3Request, ctx: ServerContext) -> Response:
    """OPTIONS on a bucket or an object: 200 with the matching rule's headers, or AWS's
    refusal (no Origin; no such bucket; no configuration; no method asked; no rule)."""
    origin = req.headers.get("origin")
    if origin is None:
        raise S3Error("BadRequest", "Insufficient information. Origin request header needed.")
    method = req.headers.get("access-control-request-method")
    shown_method = method or "OPTIONS"
    if not req.bucket:  # no bucket, no rules
        raise S3Error("AccessForbidden")
    exists, config = await bucket_cors(ctx, req.bucket)
    if not exists:
        raise _forbidden("CORSResponse: Bucket not found", shown_method, "BUCKET")
    if config is None:
        raise _forbidden("CORSResponse: CORS is not enabled for this bucket.", shown_method, "BUCKET")
    if not method:
        raise S3Error("BadRequest", f"Invalid Access-Control-Request-Method: {method or 'null'}")
    found = config.match(origin, method, req.headers.get("access-control-request-headers", ""))
    if found is None:
        raise _forbidden(None, method, "OBJECT" if req.key else "BUCKET")
    return empty(200, found.response_headers(preflight=True))

"""ListObjects (v1, v2) and ListObjectVersions."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from api.context import ServerContext
from api.errors import S3Error
from api.request import S3Request
from api.response import Response, xml
from api.s3.handlers.buckets import owner_xml
from api.s3.handlers.common import bucket_must_exist, etag_header, iso8601
from api.s3.xml import X
from projections.eventstore.tx import Tx
from projections.namespace.queries import list_objects, list_versions


def _max_keys(req: S3Request, name: str = "max-keys") -> int:
    raw = req.query.get(name, "1000")
    try:
        value = int(raw)
    except ValueError:
        raise S3Error(
            "InvalidArgument",
            f"Provided {name} not an integer or within integer range",
            extra={"ArgumentName": name, "ArgumentValue": raw},
        ) from None
    if value < 0:
        raise S3Error(
            "InvalidArgument",
            f"Argument {name} must be an integer between 0 and 2147483647",
            extra={"ArgumentName": name, "ArgumentValue": raw},
        )
    return min(value, 1000)


def key_encoder(req: S3Request):  # type: ignore[no-untyped-def]
    """How keys (and prefixes, delimiters, markers) appear in a listing: as they are, or
    URL-encoded when the request asks for encoding-type=url."""
    enc = req.query.get("encoding-type")
    if enc is None:
        return lambda s: s
    if enc != "url":
        raise S3Error(
            "InvalidArgument",
            "Invalid Encoding Method specified in Request",
            extra={"ArgumentName": "encoding-type", "ArgumentValue": enc},
        )
    return lambda s: quote(s, safe="/")


def _listing(tx: Tx, bucket: str, prefix: str, delimiter: str, start: str | None, max_keys: int):  # type: ignore[no-untyped-def]
    bucket_must_exist(tx, bucket)
    return list_objects(tx, bucket, prefix=prefix, delimiter=delimiter, start_after=start, max_keys=max_keys)


# A page's source: (tx, bucket, prefix, delimiter, start, max_keys) -> Page; the as-of reads
# (api.s3.as_of) give the history's.
PageSource = Callable[..., Any]


async def list_objects_v1(req: S3Request, ctx: ServerContext, listing: PageSource = _listing) -> Response:
    prefix = req.query.get("prefix", "")
    delimiter = req.query.get("delimiter", "")
    marker = req.query.get("marker", "")
    max_keys = _max_keys(req)
    enc = key_encoder(req)
    page = await ctx.read(listing, req.bucket, prefix, delimiter, marker or None, max_keys)
    x = X().open("ListBucketResult", xmlns=True)
    # v1 leaves Prefix unencoded (clients decode only Marker, NextMarker, Delimiter and keys).
    x.leaf("Name", req.bucket).leaf("Prefix", prefix).leaf("Marker", enc(marker))
    x.leaf("MaxKeys", max_keys)
    if delimiter:
        x.leaf("Delimiter", enc(delimiter))
    if "encoding-type" in req.query:
        x.leaf("EncodingType", "url")
    x.leaf("IsTruncated", page.truncated)
    if page.truncated and delimiter and page.last is not None:
        x.leaf("NextMarker", enc(page.last))
    _contents(x, page.entries, enc, fetch_owner=True)
    _prefixes(x, page.prefixes, enc)
    return xml(x.close("ListBucketResult").bytes())


async def list_objects_v2(req: S3Request, ctx: ServerContext, listing: PageSource = _listing) -> Response:
    prefix = req.query.get("prefix", "")
    delimiter = req.query.get("delimiter", "")
    token = req.query.get("continuation-token")
    start_after = req.query.get("start-after", "")
    max_keys = _max_keys(req)
    enc = key_encoder(req)
    start: str | None = start_after or None
    if token:
        try:
            start = base64.urlsafe_b64decode(token.encode()).decode()
        except (ValueError, UnicodeDecodeError):
            raise S3Error(
                "InvalidArgument",
                "The continuation token provided is incorrect",
                extra={"ArgumentName": "continuation-token"},
            ) from None
    page = await ctx.read(listing, req.bucket, prefix, delimiter, start, max_keys)
    x = X().open("ListBucketResult", xmlns=True)
    x.leaf("Name", req.bucket).leaf("Prefix", enc(prefix))
    if delimiter:
        x.leaf("Delimiter", enc(delimiter))
    x.leaf("MaxKeys", max_keys)
    if "encoding-type" in req.query:
        x.leaf("EncodingType", "url")
    x.leaf("KeyCount", len(page.entries) + len(page.prefixes))
    if token is not None:
        x.leaf("ContinuationToken", token)
    if start_after:
        x.leaf("StartAfter", enc(start_after))
    x.leaf("IsTruncated", page.truncated)
    if page.truncated and page.last is not None:
        x.leaf("NextContinuationToken", base64.urlsafe_b64encode(page.last.encode()).decode())
    _contents(x, page.entries, enc, fetch_owner=req.query.get("fetch-owner") == "true")
    _prefixes(x, page.prefixes, enc)
    return xml(x.close("ListBucketResult").bytes())


def _contents(x: X, entries: list, enc, *, fetch_owner: bool) -> None:  # type: ignore[no-untyped-def, type-arg]
    for row in entries:
        x.open("Contents").leaf("Key", enc(row["key"])).leaf("LastModified", iso8601(row["mtime_us"]))
        x.leaf("ETag", etag_header(row["etag"])).leaf("Size", row["size"])
        if fetch_owner:
            owner_xml(x, row["owner"])
        x.leaf("StorageClass", "STANDARD").close("Contents")


def _prefixes(x: X, prefixes: list[str], enc) -> None:  # type: ignore[no-untyped-def]
    for p in prefixes:
        x.open("CommonPrefixes").leaf("Prefix", enc(p)).close("CommonPrefixes")


def _versions(
    tx: Tx, bucket: str, prefix: str, delimiter: str, key_marker: str | None, vid_marker: str | None, max_keys: int
):  # type: ignore[no-untyped-def]
    bucket_must_exist(tx, bucket)
    return list_versions(
        tx,
        bucket,
        prefix=prefix,
        delimiter=delimiter,
        key_marker=key_marker,
        version_marker=vid_marker,
        max_keys=max_keys,
    )


async def list_object_versions(req: S3Request, ctx: ServerContext, versions: PageSource = _versions) -> Response:
    prefix = req.query.get("prefix", "")
    delimiter = req.query.get("delimiter", "")
    key_marker = req.query.get("key-marker", "")
    vid_marker = req.query.get("version-id-marker", "")
    if vid_marker and not key_marker:
        raise S3Error(
            "InvalidArgument",
            "A version-id marker cannot be specified without a key marker.",
            extra={"ArgumentName": "version-id-marker", "ArgumentValue": vid_marker},
        )
    max_keys = _max_keys(req)
    enc = key_encoder(req)
    page = await ctx.read(versions, req.bucket, prefix, delimiter, key_marker or None, vid_marker or None, max_keys)
    x = X().open("ListVersionsResult", xmlns=True)
    x.leaf("Name", req.bucket).leaf("Prefix", enc(prefix)).leaf("KeyMarker", enc(key_marker))
    x.leaf("VersionIdMarker", vid_marker).leaf("MaxKeys", max_keys)
    if delimiter:
        x.leaf("Delimiter", enc(delimiter))
    if "encoding-type" in req.query:
        x.leaf("EncodingType", "url")
    x.leaf("IsTruncated", page.truncated)
    if page.truncated:
        if page.last_entry is not None and page.last == page.last_entry["key"]:
            x.leaf("NextKeyMarker", enc(page.last_entry["key"])).leaf(
                "NextVersionIdMarker", page.last_entry["version_id"]
            )
        elif page.last is not None:
            x.leaf("NextKeyMarker", enc(page.last))
    for row in page.entries:
        tag = "DeleteMarker" if row["is_delete_marker"] else "Version"
        x.open(tag).leaf("Key", enc(row["key"])).leaf("VersionId", row["version_id"])
        x.leaf("IsLatest", bool(row["is_latest"])).leaf("LastModified", iso8601(row["mtime_us"]))
        if not row["is_delete_marker"]:
            x.leaf("ETag", etag_header(row["etag"])).leaf("Size", row["size"])
        owner_xml(x, row["owner"])
        if not row["is_delete_marker"]:
            x.leaf("StorageClass", "STANDARD")
        x.close(tag)
    _prefixes(x, page.prefixes, enc)
    return xml(x.close("ListVersionsResult").bytes())

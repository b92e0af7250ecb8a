"""Multipart uploads: create, upload part (and part copy), complete, abort, list."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any
from uuid import UUID

import anyio
import orjson
from eventsourcing.application import AggregateNotFoundError

from api.context import ServerContext
from api.errors import S3Error
from api.request import S3Request
from api.response import Response, xml
from api.s3.acl_request import object_write_acl
from api.s3.body import DecodedBody
from api.s3.bucket_settings import ownership
from api.s3.checksums import ALGORITHMS, Checksum, combine_composite, combine_full_object_crc, header_name
from api.s3.handlers.buckets import owner_xml
from api.s3.handlers.common import (
    bucket_must_exist,
    check_key,
    etag_header,
    iso8601,
    stored_content_type,
    stored_headers,
    strip_etag,
    user_metadata,
)
from api.s3.handlers.listing import key_encoder
from api.s3.handlers.object_write import (
    DEFAULT_CONTENT_TYPE,
    load_copy_source,
    require_length,
    version_headers,
    write_conditions,
)
from api.s3.handlers.tagging import tags_from_header
from api.s3.xml import X, children, parse, text
from api.services import multipart
from domain.aggregates import MultipartUpload
from domain.ownership import BUCKET_OWNER_ENFORCED as ENFORCED
from domain.ownership import BUCKET_OWNER_PREFERRED as PREFERRED
from domain.ownership import canonical_id
from projections.blobstore import load_db_blob
from projections.eventstore.tx import Tx
from projections.namespace.queries import all_parts, get_upload, list_parts, list_uploads

FULL_OBJECT_ONLY = {"CRC64NVME"}
COMPOSITE_ONLY = {"SHA1", "SHA256"}


def _checksum_settings(req: S3Request) -> tuple[str, str]:
    algo = (req.header("x-amz-checksum-algorithm") or "").upper()
    ctype = (req.header("x-amz-checksum-type") or "").upper()
    if algo and algo not in ALGORITHMS:
        raise S3Error(
            "InvalidRequest",
            "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, "
            "CRC32C, CRC64NVME, SHA1, SHA256]",
        )
    if ctype and ctype not in ("COMPOSITE", "FULL_OBJECT"):
        raise S3Error("InvalidRequest", "Value for x-amz-checksum-type header is invalid.")
    if ctype and not algo:
        raise S3Error(
            "InvalidRequest",
            "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.",
        )
    if algo and not ctype:
        ctype = "FULL_OBJECT" if algo in FULL_OBJECT_ONLY else "COMPOSITE"
    if (algo in FULL_OBJECT_ONLY and ctype == "COMPOSITE") or (algo in COMPOSITE_ONLY and ctype == "FULL_OBJECT"):
        raise S3Error(
            "InvalidRequest", f"The {ctype} checksum type cannot be used with the {algo.lower()} checksum algorithm."
        )
    return algo, ctype


async def create_upload(req: S3Request, ctx: ServerContext) -> Response:
    check_key(req.key)
    meta, headers = user_metadata(req), stored_headers(req)
    tags = tags_from_header(req.header("x-amz-tagging"))
    algo, ctype = _checksum_settings(req)
    content_type = stored_content_type(req.header("content-type"), DEFAULT_CONTENT_TYPE)
    acl = await object_write_acl(req, ctx)
    actor = req.actor()
    bucket, key = req.bucket, req.key
    fields: dict[str, Any] = dict(
        bucket=bucket, key=key, content_type=content_type, headers=headers, metadata=meta, tags=tags,
        checksum_algorithm=algo, checksum_type=ctype, actor=actor, acl=acl,
    )  # fmt: skip
    upload_id = await multipart.create_upload(ctx, fields)
    x = X().open("InitiateMultipartUploadResult", xmlns=True).leaf("Bucket", bucket).leaf("Key", key)
    x.leaf("UploadId", upload_id).close("InitiateMultipartUploadResult")
    out = {}
    if algo:
        out = {"x-amz-checksum-algorithm": algo, "x-amz-checksum-type": ctype}
    return xml(x.bytes(), headers=out)


def _open_upload(tx: Tx, bucket: str, key: str, upload_id: str) -> dict[str, Any]:
    bucket_must_exist(tx, bucket)
    row = get_upload(tx, upload_id) if _valid_upload_id(upload_id) else None
    if row is None or row["bucket"] != bucket or row["key"] != key:
        raise S3Error("NoSuchUpload", extra={"UploadId": upload_id})
    return row


def _valid_upload_id(upload_id: str) -> bool:
    return len(upload_id) == 32 and all(c in "0123456789abcdef" for c in upload_id)


def _part_number(req: S3Request) -> int:
    raw = req.query.get("partNumber", "")
    if not raw.isdigit() or not 1 <= int(raw) <= 10000:
        raise S3Error(
            "InvalidArgument",
            "Part number must be an integer between 1 and 10000, inclusive",
            extra={"ArgumentName": "partNumber", "ArgumentValue": raw},
        )
    return int(raw)


async def upload_part(req: S3Request, ctx: ServerContext) -> Response:
    upload_id = req.query["uploadId"]
    number = _part_number(req)
    upload = await ctx.read(_open_upload, req.bucket, req.key, upload_id)
    if "x-amz-copy-source" in req.headers:
        return await _upload_part_copy(req, ctx, upload, number)
    require_length(req)
    body = DecodedBody(req, checksum_algorithm=None)
    staged = await ctx.blobs.stage(body.chunks(), body.sink, expected_size=body.size)
    try:
        checksums = body.verify()
        algo = upload["checksum_algorithm"]
        if algo and checksums and algo not in checksums:
            raise S3Error(
                "InvalidRequest",
                f"Checksum Type mismatch occurred, expected checksum Type: {algo.lower()}, actual checksum Type: "
                f"{next(iter(checksums)).lower()}",
            )
        part_checksum = {a: v for a, v in checksums.items()}
        actor = req.actor()
        etag = body.etag
        fields: dict[str, Any] = dict(
            part_number=number, size=staged.size, etag=etag, blob=staged.descriptor(), checksum=part_checksum,
            actor=actor,
        )  # fmt: skip
        await multipart.add_part(ctx, req.bucket, upload_id, fields, staged)
    except BaseException:
        ctx.blobs.discard(staged)
        raise
    out = {"etag": etag_header(etag)}
    for a, v in checksums.items():
        out[header_name(a)] = v
    return Response(200, out, b"")


def slice_segments(segments: list[dict[str, Any]], start: int, length: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    pos = 0
    remaining = length
    for seg in segments:
        size = int(seg["size"])
        if remaining <= 0:
            break
        if start >= pos + size:
            pos += size
            continue
        inner = max(0, start - pos)
        take = min(size - inner, remaining)
        out.append({**seg, "offset": int(seg.get("offset", 0)) + inner, "size": take})
        remaining -= take
        pos += size
    return out


async def _upload_part_copy(req: S3Request, ctx: ServerContext, upload: dict[str, Any], number: int) -> Response:
    src = await load_copy_source(req, ctx)
    size = src["size"]
    start, length = 0, size
    rng = req.header("x-amz-copy-source-range")
    if rng:
        m = re.fullmatch(r"bytes=(\d+)-(\d+)", rng.strip())
        if not m:
            raise S3Error(
                "InvalidArgument",
                "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the "
                "zero-based offsets of the first and last bytes to copy",
                extra={"ArgumentName": "x-amz-copy-source-range", "ArgumentValue": rng},
            )
        first, last = int(m.group(1)), int(m.group(2))
        if last < first or last >= size:
            raise S3Error("InvalidRange", headers={"content-range": f"bytes */{size}"})
        start, length = first, last - first + 1
    segments = slice_segments(src["blob"].get("segments", []), start, length)
    inline = await ctx.read(_inline_of, segments)

    def digest() -> tuple[str, dict[str, str]]:
        md5 = hashlib.md5()
        algo = upload["checksum_algorithm"]
        extra = Checksum(algo) if algo else None
        for chunk in ctx.blobs.read_range(segments, 0, length, inline.__getitem__):
            md5.update(chunk)
            if extra is not None:
                extra.update(chunk)
        return md5.hexdigest(), ({algo: extra.b64()} if extra is not None else {})

    etag, checksum = await anyio.to_thread.run_sync(digest)
    actor = req.actor()
    upload_id = upload["id"]
    fields: dict[str, Any] = dict(
        part_number=number, size=length, etag=etag, blob={"segments": segments}, checksum=checksum, actor=actor
    )
    mtime = await multipart.copy_part(ctx, req.bucket, upload_id, fields, src)
    x = X().open("CopyPartResult", xmlns=True).leaf("LastModified", iso8601(mtime)).leaf("ETag", etag_header(etag))
    for a, v in checksum.items():
        x.leaf(f"Checksum{a}", v)
    out = {}
    if src["version_id"] != "null" or src.get("_versioned_bucket"):
        out["x-amz-copy-source-version-id"] = src["version_id"]
    return xml(x.close("CopyPartResult").bytes(), headers=out)


def _inline_of(tx: Tx, segments: list[dict[str, Any]]) -> dict[str, bytes]:
    return {s["id"]: load_db_blob(tx, s["id"]) for s in segments if s.get("db")}


def _upload_and_parts(
    tx: Tx, bucket: str, key: str, upload_id: str
) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    return _open_upload(tx, bucket, key, upload_id), all_parts(tx, upload_id)


async def complete_upload(req: S3Request, ctx: ServerContext) -> Response:
    upload_id = req.query["uploadId"]
    doc = parse(await req.read_all(object_checksums=False), "CompleteMultipartUpload")
    requested: list[tuple[int, str, dict[str, str]]] = []
    for part in children(doc, "Part"):
        number, etag = text(part, "PartNumber"), text(part, "ETag")
        if number is None or etag is None or not number.strip().isdigit():
            raise S3Error("MalformedXML")
        sums = {a: v for a in ALGORITHMS if (v := text(part, f"Checksum{a}")) is not None}
        requested.append((int(number), strip_etag(etag), sums))
    if not requested:
        raise S3Error(
            "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema"
        )
    try:
        upload, parts = await ctx.read(_upload_and_parts, req.bucket, req.key, upload_id)
    except S3Error as err:
        if err.code != "NoSuchUpload":
            raise
        return await _already_completed(req, ctx, upload_id, err)
    chosen = MultipartUpload.chosen_parts(upload_id, requested, parts, ctx.settings.min_part_size)
    md5s = b"".join(bytes.fromhex(p["etag"]) for p in chosen)
    etag = f"{hashlib.md5(md5s).hexdigest()}-{len(chosen)}"
    checksum: dict[str, str] = {}
    algo, ctype = upload["checksum_algorithm"], upload["checksum_type"]
    if algo:
        missing = [p["part_number"] for p in chosen if algo not in p["checksum"]]
        if not missing:
            digests = [base64.b64decode(p["checksum"][algo]) for p in chosen]
            if ctype == "FULL_OBJECT":
                checksum[algo] = combine_full_object_crc(
                    algo, [(d, int(p["size"])) for d, p in zip(digests, chosen, strict=True)]
                )
            else:
                checksum[algo] = combine_composite(algo, digests)
            checksum["type"] = ctype
            claimed = req.header(header_name(algo))
            if claimed is not None and claimed.split("-", 1)[0] != checksum[algo].split("-", 1)[0]:
                raise S3Error("BadDigest", f"The {algo} you specified did not match the calculated checksum.")
    segments = [seg for p in chosen for seg in p["blob"].get("segments", [])]
    size = sum(int(p["size"]) for p in chosen)
    actor = req.actor()
    bucket, key = req.bucket, req.key
    part_list = [{"size": int(p["size"]), "etag": p["etag"], "checksum": p["checksum"]} for p in chosen]
    x = X().open("CompleteMultipartUploadResult", xmlns=True)
    x.leaf("Location", f"/{bucket}/{key}").leaf("Bucket", bucket).leaf("Key", key).leaf("ETag", etag_header(etag))
    out: dict[str, str] = {}
    if algo and algo in checksum:
        x.leaf(f"Checksum{algo}", checksum[algo]).leaf("ChecksumType", ctype)
        out[header_name(algo)] = checksum[algo]
        out["x-amz-checksum-type"] = ctype
    body = x.close("CompleteMultipartUploadResult").bytes()

    version: dict[str, Any] = dict(
        bucket=bucket, key=key, size=size, etag=etag, content_type=upload["content_type"], headers=upload["headers"],
        metadata=upload["metadata"], blob={"segments": segments}, checksum=checksum, tags=upload["tags"],
        parts=part_list, operation="CompleteMultipartUpload", actor=actor, response_length=len(body),
    )  # fmt: skip
    version_id = await multipart.complete(ctx, upload_id, version, chosen, write_conditions(req, bucket, key))
    return xml(body, headers={**version_headers(version_id), **out})


async def _already_completed(req: S3Request, ctx: ServerContext, upload_id: str, err: S3Error) -> Response:
    """A retried Complete of an upload that completed: answer as the first time did."""
    if not _valid_upload_id(upload_id):
        raise err
    try:
        mpu = await anyio.to_thread.run_sync(ctx.store.repository.get, UUID(upload_id))
    except AggregateNotFoundError:
        raise err from None
    if mpu.state != "completed" or mpu.bucket != req.bucket or mpu.key != req.key:
        raise err
    row = await ctx.read(
        lambda tx: tx.one("SELECT etag, version_id, checksum FROM ns_versions WHERE id = ?", (mpu.version_id.hex,))
    )
    if row is None:
        raise err
    x = X().open("CompleteMultipartUploadResult", xmlns=True)
    x.leaf("Location", f"/{req.bucket}/{req.key}").leaf("Bucket", req.bucket).leaf("Key", req.key)
    x.leaf("ETag", etag_header(row["etag"]))
    out = version_headers(row["version_id"])
    checksum = orjson.loads(row["checksum"])
    for algo, value in checksum.items():
        if algo != "type":
            x.leaf(f"Checksum{algo}", value).leaf("ChecksumType", checksum.get("type"))
            out[header_name(algo)] = value
    return xml(x.close("CompleteMultipartUploadResult").bytes(), headers=out)


async def abort_upload(req: S3Request, ctx: ServerContext) -> Response:
    upload_id = req.query["uploadId"]
    await ctx.read(_open_upload, req.bucket, req.key, upload_id)
    await multipart.abort(ctx, upload_id, req.actor())
    return Response(204, {}, b"")


def _enforced_owner(tx: Tx, bucket: str) -> str | None:
    """The bucket owner, when BucketOwnerEnforced makes every object (and upload) theirs."""
    if ownership(tx, bucket) == ENFORCED:
        return bucket_must_exist(tx, bucket)["owner"]
    return None


async def _acl_owner(ctx: ServerContext, upload_id: str) -> str | None:
    """Whose the completed object will be when the upload asked for an ACL (under
    BucketOwnerPreferred, bucket-owner-full-control makes it the bucket owner's): the ACL
    lives on the upload's aggregate, not in ns_uploads."""
    mpu = await ctx.run_sync(ctx.store.repository.get, UUID(upload_id))
    acl = getattr(mpu, "acl", None)
    return acl["owner"]["name"] if acl else None


async def list_upload_parts(req: S3Request, ctx: ServerContext) -> Response:
    upload_id = req.query["uploadId"]
    marker_raw = req.query.get("part-number-marker", "0") or "0"
    max_raw = req.query.get("max-parts", "1000")
    if not marker_raw.isdigit() or not max_raw.lstrip("-").isdigit() or int(max_raw) < 0:
        raise S3Error("InvalidArgument", "Argument max-parts must be an integer between 0 and 2147483647")
    marker, max_parts = int(marker_raw), min(int(max_raw), 1000)

    def query(tx: Tx) -> tuple[dict[str, Any], list[dict[str, Any]], str | None]:
        upload = _open_upload(tx, req.bucket, req.key, upload_id)
        return (
            upload,
            list_parts(tx, upload_id, marker=marker, max_parts=max_parts + 1),
            _enforced_owner(tx, req.bucket),
        )

    upload, rows, enforced_owner = await ctx.read(query)
    owner = enforced_owner or await _acl_owner(ctx, upload["id"]) or upload["owner"]
    truncated = len(rows) > max_parts
    rows = rows[:max_parts]
    x = (
        X()
        .open("ListPartsResult", xmlns=True)
        .leaf("Bucket", req.bucket)
        .leaf("Key", req.key)
        .leaf("UploadId", upload_id)
    )
    x.leaf("PartNumberMarker", marker)
    if rows:
        x.leaf("NextPartNumberMarker", rows[-1]["part_number"])
    x.leaf("MaxParts", max_parts).leaf("IsTruncated", truncated)
    x.open("Initiator").leaf("ID", canonical_id(upload["owner"])).leaf("DisplayName", upload["owner"]).close(
        "Initiator"
    )
    owner_xml(x, owner)
    x.leaf("StorageClass", "STANDARD")
    if upload["checksum_algorithm"]:
        x.leaf("ChecksumAlgorithm", upload["checksum_algorithm"]).leaf("ChecksumType", upload["checksum_type"])
    for row in rows:
        x.open("Part").leaf("PartNumber", row["part_number"]).leaf("LastModified", iso8601(row["mtime_us"]))
        x.leaf("ETag", etag_header(row["etag"])).leaf("Size", row["size"])
        for a, v in row["checksum"].items():
            x.leaf(f"Checksum{a}", v)
        x.close("Part")
    return xml(x.close("ListPartsResult").bytes())


async def list_bucket_uploads(req: S3Request, ctx: ServerContext) -> Response:
    prefix = req.query.get("prefix", "")
    delimiter = req.query.get("delimiter", "")
    key_marker = req.query.get("key-marker") or None
    upload_marker = req.query.get("upload-id-marker") or None
    max_raw = req.query.get("max-uploads", "1000")
    if not max_raw.isdigit():
        raise S3Error("InvalidArgument", "Argument max-uploads must be an integer between 0 and 2147483647")
    max_uploads = min(int(max_raw), 1000)
    enc = key_encoder(req)

    def query(tx: Tx):  # type: ignore[no-untyped-def]
        bucket = bucket_must_exist(tx, req.bucket)
        page = list_uploads(
            tx,
            req.bucket,
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            upload_marker=upload_marker,
            max_uploads=max_uploads,
        )
        mode = ownership(tx, req.bucket)
        return page, mode, bucket["owner"] if mode == ENFORCED else None

    page, mode, enforced_owner = await ctx.read(query)
    # Owner: whose each object will be, as in ListParts. Only under BucketOwnerPreferred can
    # an upload's ACL (bucket-owner-full-control) hand it to the bucket owner; that ACL lives
    # on the upload's aggregate, so it is read in that mode alone.
    owners = {}
    for row in page.entries:
        owners[row["id"]] = (
            enforced_owner or (await _acl_owner(ctx, row["id"]) if mode == PREFERRED else None) or row["owner"]
        )
    x = X().open("ListMultipartUploadsResult", xmlns=True).leaf("Bucket", req.bucket)
    x.leaf("KeyMarker", enc(key_marker or "")).leaf("UploadIdMarker", upload_marker or "")
    if page.truncated and page.last_entry is not None:
        x.leaf("NextKeyMarker", enc(page.last_entry["key"])).leaf("NextUploadIdMarker", page.last_entry["id"])
    if "encoding-type" in req.query:
        x.leaf("EncodingType", "url")
    x.leaf("Prefix", enc(prefix))
    if delimiter:
        x.leaf("Delimiter", enc(delimiter))
    x.leaf("MaxUploads", max_uploads).leaf("IsTruncated", page.truncated)
    for row in page.entries:
        x.open("Upload").leaf("Key", enc(row["key"])).leaf("UploadId", row["id"])
        x.open("Initiator").leaf("ID", canonical_id(row["owner"])).leaf("DisplayName", row["owner"]).close("Initiator")
        owner_xml(x, owners[row["id"]])
        x.leaf("StorageClass", "STANDARD").leaf("Initiated", iso8601(row["initiated_us"]))
        if row["checksum_algorithm"]:
            x.leaf("ChecksumAlgorithm", row["checksum_algorithm"]).leaf("ChecksumType", row["checksum_type"])
        x.close("Upload")
    for p in page.prefixes:
        x.open("CommonPrefixes").leaf("Prefix", enc(p)).close("CommonPrefixes")
    return xml(x.close("ListMultipartUploadsResult").bytes())

"""GetObjectAttributes: ETag, Checksum, ObjectParts, StorageClass, ObjectSize in one call."""

from __future__ import annotations

from api.context import ServerContext
from api.errors import S3Error
from api.request import S3Request
from api.response import Response, xml
from api.s3.handlers.common import http_date
from api.s3.handlers.object_read import delete_marker_error, resolve_version
from api.s3.xml import X

KNOWN = {"ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"}


def _int_header(req: S3Request, name: str, default: int) -> int:
    raw = req.headers.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise S3Error(
            "InvalidArgument", f"Invalid value for {name}", extra={"ArgumentName": name, "ArgumentValue": raw}
        )
    return int(raw)


async def get_object_attributes(req: S3Request, ctx: ServerContext) -> Response:
    wanted = {a.strip() for a in req.headers.get("x-amz-object-attributes", "").split(",") if a.strip()}
    if not wanted or wanted - KNOWN:
        raise S3Error(
            "InvalidArgument", "Invalid attribute name specified.", extra={"ArgumentName": "x-amz-object-attributes"}
        )
    version_id = req.query.get("versionId")
    row = await ctx.read(resolve_version, req.bucket, req.key, version_id, load_inline=False)
    if row["is_delete_marker"]:
        raise delete_marker_error(row, version_id is not None)
    checksum = {k: v for k, v in (row.get("checksum") or {}).items() if k != "type"}
    ctype = (row.get("checksum") or {}).get("type")
    x = X().open("GetObjectAttributesResponse", xmlns=True)
    if "ETag" in wanted:
        x.leaf("ETag", row["etag"])
    if "Checksum" in wanted and checksum:
        x.open("Checksum")
        for algo, value in checksum.items():
            x.leaf(f"Checksum{algo}", value)
        if ctype:
            x.leaf("ChecksumType", ctype)
        x.close("Checksum")
    parts = row.get("parts") or []
    if "ObjectParts" in wanted and parts:
        max_parts = min(_int_header(req, "x-amz-max-parts", 1000), 1000)
        marker = _int_header(req, "x-amz-part-number-marker", 0)
        numbered = list(enumerate(parts, start=1))[marker:]
        page = numbered[:max_parts]
        x.open("ObjectParts").leaf("PartsCount", len(parts)).leaf("PartNumberMarker", marker)
        if page:
            x.leaf("NextPartNumberMarker", page[-1][0])
        x.leaf("MaxParts", max_parts).leaf("IsTruncated", len(numbered) > max_parts)
        for number, part in page:
            x.open("Part")
            for algo, value in (part.get("checksum") or {}).items():
                x.leaf(f"Checksum{algo}", value)
            x.leaf("PartNumber", number).leaf("Size", part["size"]).close("Part")
        x.close("ObjectParts")
    if "StorageClass" in wanted:
        x.leaf("StorageClass", (row.get("headers") or {}).get("x-amz-storage-class", "STANDARD"))
    if "ObjectSize" in wanted:
        x.leaf("ObjectSize", row["size"])
    x.close("GetObjectAttributesResponse")
    headers = {"last-modified": http_date(row["mtime_us"])}
    if row["version_id"] != "null" or row.get("_versioned_bucket"):
        headers["x-amz-version-id"] = row["version_id"]
    return xml(x.bytes(), headers=headers)

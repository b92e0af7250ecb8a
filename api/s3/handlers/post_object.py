"""POST Object: browser form uploads (multipart/form-data) signed with a SigV4 or SigV2 policy.

The form is parsed as it streams: fields before the ``file`` part are collected (names are
case-insensitive), the file's bytes go straight to the blob store, and fields after the file
are read and ignored, as AWS ignores them.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote

from python_multipart.multipart import MultipartParseError, MultipartParser, parse_options_header

from api.auth.authz import decide
from api.auth.postpolicy import check_content_length, check_policy, verify_post_policy
from api.auth.signing import UNSIGNED_PAYLOAD, AuthContext
from api.auth.sigv2 import verify_post_signature
from api.context import ServerContext
from api.errors import S3Error
from api.request import S3Request
from api.response import Response, empty, xml
from api.s3.acl_request import object_write_acl
from api.s3.checksums import ALGORITHMS, Checksum, header_name, is_valid_b64
from api.s3.handlers.common import (
    MAX_METADATA_BYTES,
    STORED_HEADERS,
    bucket_must_exist,
    check_key,
    etag_header,
    header_value,
    metadata_name,
    stored_content_type,
)
from api.s3.handlers.encryption import refuse_encrypted_write
from api.s3.handlers.object_lock import refuse_lock_fields
from api.s3.handlers.object_write import DEFAULT_CONTENT_TYPE, commit_version, write_headers
from api.s3.handlers.tagging import tags_from_xml
from api.s3.xml import X

MAX_FIELDS_BYTES = 1024 * 1024  # every field before the file, together
DRAIN_LIMIT = 1024 * 1024
Event = tuple[str, bytes]


class FormReader:
    """Incremental multipart/form-data parsing over the request body, as a stream of events:
    ("begin"|"header"|"headers"|"data"|"end", payload)."""

    def __init__(self, body: AsyncIterator[bytes], boundary: bytes) -> None:
        self._body = body
        self._events: list[Event] = []
        name = bytearray()
        value = bytearray()

        def header_field(data: bytes, start: int, end: int) -> None:
            name.extend(data[start:end])

        def header_value(data: bytes, start: int, end: int) -> None:
            value.extend(data[start:end])

        def header_end() -> None:
            self._events.append(("header", bytes(name).lower() + b":" + bytes(value)))
            name.clear()
            value.clear()

        def part_data(data: bytes, start: int, end: int) -> None:
            self._events.append(("data", data[start:end]))

        callbacks = {
            "on_part_begin": lambda: self._events.append(("begin", b"")),
            "on_header_field": header_field,
            "on_header_value": header_value,
            "on_header_end": header_end,
            "on_headers_finished": lambda: self._events.append(("headers", b"")),
            "on_part_data": part_data,
            "on_part_end": lambda: self._events.append(("end", b"")),
        }
        try:
            self._parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
        except (MultipartParseError, ValueError) as exc:
            raise S3Error("MalformedPOSTRequest") from exc

    async def events(self) -> AsyncIterator[Event]:
        async for chunk in self._body:
            try:
                self._parser.write(chunk)
            except MultipartParseError as exc:
                raise S3Error("MalformedPOSTRequest") from exc
            events, self._events = self._events, []
            for event in events:
                yield event


class PostForm:
    """The fields before the file, the file part's name/type, and its byte stream."""

    def __init__(self, reader: FormReader) -> None:
        self._events = reader.events()
        self.fields: dict[str, str] = {}
        self.filename = b""  # the file part's filename, as sent: decoded when the key uses it
        self.file_type: str | None = None
        self.size = 0
        self._file_done = False

    async def read_fields(self) -> bool:
        """Collect fields until the file part starts; False when there is no file part."""
        total = 0
        name: str | None = None
        filename = b""
        ctype: str | None = None
        value = bytearray()
        async for kind, payload in self._events:
            if kind == "begin":
                name, filename, ctype = None, b"", None
                value.clear()
            elif kind == "header":
                hname, _, hvalue = payload.partition(b":")
                if hname == b"content-disposition":
                    _, params = parse_options_header(hvalue.strip())
                    name = params.get(b"name", b"").decode("utf-8", "replace")
                    filename = params.get(b"filename", b"")
                elif hname == b"content-type":
                    ctype = hvalue.strip().decode("latin-1")
            elif kind == "headers" and name is not None and name.lower() == "file":
                self.filename, self.file_type = filename, ctype
                return True
            elif kind == "data":
                total += len(payload)
                if total > MAX_FIELDS_BYTES:
                    raise S3Error("MaxMessageLengthExceeded")
                value += payload
            elif kind == "end" and name is not None:
                field = name.lower()
                # The key must be exact: replacing bytes that are not UTF-8 made distinct keys one.
                text = _utf8(bytes(value), "key") if field == "key" else value.decode("utf-8", "replace")
                self.fields.setdefault(field, text)
        return False

    async def file_chunks(self, max_size: int | None) -> AsyncIterator[bytes]:
        """The file's bytes; stops early (EntityTooLarge) past the policy's maximum."""
        async for kind, payload in self._events:
            if kind == "end":
                self._file_done = True
                return
            if kind == "data" and payload:
                self.size += len(payload)
                if max_size is not None and self.size > max_size:
                    check_content_length((0, max_size), self.size)
                yield payload
        raise S3Error("MalformedPOSTRequest")  # the body ended inside the file part

    async def drain(self) -> None:
        """Read (and ignore) whatever follows the file part."""
        async for _ in self._events:
            pass


def _utf8(raw: bytes, field: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise S3Error(
            "InvalidArgument",
            f"The {field} field is not valid UTF-8.",
            extra={"ArgumentName": field},
        ) from None


def _boundary(content_type: str) -> bytes:
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise S3Error("MalformedPOSTRequest")
    return boundary


def _missing(name: str) -> S3Error:
    return S3Error(
        "InvalidArgument",
        f"Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields.",
        extra={"ArgumentName": name, "ArgumentValue": ""},
    )


async def _form_secrets(form: dict[str, str], ctx: ServerContext) -> tuple[Callable[[str], str | None], Any]:
    """Resolve the key the form claims through the IAM lookup before its signature is checked:
    (secret lookup, identity)."""
    claimed = form.get("awsaccesskeyid") or (form.get("x-amz-credential") or "").split("/", 1)[0]
    if not claimed:
        return (lambda _key: None), None
    secret, identity = await ctx.identities.resolve(claimed, form.get("x-amz-security-token"))
    return (lambda key: secret if key == claimed else None), identity


async def _authorize(req: S3Request, ctx: ServerContext, key: str) -> None:
    """The same decision as a PutObject of that key: policies, ownership, ACL (anonymous
    uploads need a bucket policy or ACL that lets everyone write)."""
    allowed, _reason, row = await decide(ctx, req, "s3:PutObject", f"arn:aws:s3:::{req.bucket}/{key}", req.bucket)
    if allowed:
        return
    if row is None:
        raise S3Error("NoSuchBucket", extra={"BucketName": req.bucket})
    raise S3Error("AccessDenied")


def _authenticate(
    form: dict[str, str], bucket: str, key: str, lookup_secret: Callable[[str], str | None]
) -> AuthContext:
    if "awsaccesskeyid" in form and "x-amz-algorithm" not in form:
        access_key = verify_post_signature(form, lookup_secret)
        length_range = check_policy(form["policy"], form, bucket=bucket, key=key)
        return AuthContext(
            access_key, "post", UNSIGNED_PAYLOAD,
            security_token=form.get("x-amz-security-token"), content_length_range=length_range,
        )  # fmt: skip
    auth = verify_post_policy(form, bucket=bucket, key=key, content_length=None, lookup_secret=lookup_secret)
    return auth


def _checksum(form: dict[str, str]) -> tuple[str, str, Checksum] | None:
    """The x-amz-checksum-<algorithm> field, if any: (algorithm, expected value, hasher)."""
    found = [(algo, form[header_name(algo)]) for algo in ALGORITHMS if header_name(algo) in form]
    if len(found) > 1:
        raise S3Error(
            "InvalidRequest",
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
        )
    if not found:
        return None
    algo, value = found[0]
    if not is_valid_b64(algo, value):
        raise S3Error("InvalidRequest", f"Value for {header_name(algo)} header is invalid.")
    return algo, value, Checksum(algo)


def _metadata(form: dict[str, str]) -> dict[str, str]:
    meta = {
        metadata_name(k[len("x-amz-meta-") :]): header_value(k, v)
        for k, v in form.items()
        if k.startswith("x-amz-meta-")
    }
    size = sum(len(k) + len(v.encode()) for k, v in meta.items())
    if size > MAX_METADATA_BYTES:
        raise S3Error("MetadataTooLarge", extra={"Size": str(size), "MaxSizeAllowed": str(MAX_METADATA_BYTES)})
    return meta


class _Body:
    """The raw body, so that an error answered mid-form can still read (or refuse) the rest."""

    def __init__(self, req: S3Request) -> None:
        self._raw = req.raw_body()
        self._finished = False

    async def chunks(self) -> AsyncIterator[bytes]:
        async for chunk in self._raw:
            yield chunk
        self._finished = True

    async def discard_rest(self, err: S3Error) -> None:
        """Drain a small remainder; close the connection instead of reading a large one."""
        if self._finished:
            return
        read = 0
        try:
            async for chunk in self._raw:
                read += len(chunk)
                if read > DRAIN_LIMIT:
                    break
            else:
                return
        except S3Error:
            pass
        err.headers["connection"] = "close"


async def post_object(req: S3Request, ctx: ServerContext) -> Response:
    body = _Body(req)
    try:
        return await _post(req, ctx, body)
    except S3Error as err:
        await body.discard_rest(err)
        raise


async def _post(req: S3Request, ctx: ServerContext, body: _Body) -> Response:
    form_stream = PostForm(FormReader(body.chunks(), _boundary(req.headers["content-type"])))
    if not await form_stream.read_fields():
        raise S3Error(
            "InvalidArgument",
            "POST requires exactly one file upload per request.",
            extra={"ArgumentName": "file", "ArgumentValue": "0"},
        )
    form = form_stream.fields
    key = form.get("key", "")
    if "${filename}" in key:
        key = key.replace("${filename}", _utf8(form_stream.filename, "filename"))
    if not key:
        raise _missing("key")
    check_key(key)
    lookup, identity = await _form_secrets(form, ctx)
    req.auth = auth = _authenticate(form, req.bucket, key, lookup)
    req.identity = identity if auth.access_key is not None else None
    await _authorize(req, ctx, key)
    refuse_encrypted_write(form)  # not built: refused, never stored as plaintext
    await refuse_lock_fields(ctx, req.bucket, form)
    meta = _metadata(form)
    headers = {name: header_value(name, form[name]) for name in STORED_HEADERS if name in form}
    tags = tags_from_xml(form["tagging"].encode()) if form.get("tagging") else {}
    content_type = stored_content_type(form.get("content-type"), DEFAULT_CONTENT_TYPE)
    redirect = _redirect(form)
    checksum = _checksum(form)
    await ctx.read(bucket_must_exist, req.bucket)
    acl = await object_write_acl(req, ctx, canned=form.get("acl"))

    length_range = auth.content_length_range
    md5 = hashlib.md5()

    def sink(data: bytes) -> None:
        md5.update(data)
        if checksum is not None:
            checksum[2].update(data)

    declared = req.headers.get("content-length", "")
    staged = await ctx.blobs.stage(
        form_stream.file_chunks(length_range[1] if length_range else None),
        sink,
        expected_size=int(declared) if declared.isdigit() else None,  # an upper bound
    )
    checksums: dict[str, str] = {}
    try:
        await form_stream.drain()
        check_content_length(length_range, staged.size)
        if checksum is not None:
            algo, expected, hasher = checksum
            if hasher.b64() != expected:
                raise S3Error("BadDigest", f"The {algo} you specified did not match the calculated checksum.")
            checksums[algo] = expected
    except BaseException:
        ctx.blobs.discard(staged)
        raise
    etag = md5.hexdigest()
    version_id = await commit_version(
        ctx, req, key, staged, etag=etag, content_type=content_type, headers=headers, meta=meta,
        tags=tags, checksums=checksums, acl=acl,
    )  # fmt: skip
    return _success(req, form, key, etag, redirect, write_headers(etag, version_id, checksums))


def _redirect(form: dict[str, str]) -> str | None:
    """Where to send the browser after the upload (its Location header), checked before
    anything is stored."""
    for field in ("success_action_redirect", "redirect"):
        if form.get(field):
            redirect = header_value(field, form[field])
            return redirect if redirect.lower().startswith(("http://", "https://")) else None
    return None


def _success(
    req: S3Request, form: dict[str, str], key: str, etag: str, redirect: str | None,
    headers: dict[str, str],
) -> Response:  # fmt: skip
    location = f"{req.scheme}://{req.headers.get('host', '')}/{req.bucket}/{quote(key)}"
    if redirect:
        query = (
            f"bucket={quote(req.bucket, safe='')}&key={quote(key, safe='')}&etag={quote(etag_header(etag), safe='')}"
        )
        sep = "&" if "?" in redirect else "?"
        return empty(303, {**headers, "location": f"{redirect}{sep}{query}"})
    status = form.get("success_action_status", "")
    if status == "201":
        x = X().open("PostResponse").leaf("Location", location).leaf("Bucket", req.bucket)
        x.leaf("Key", key).leaf("ETag", etag_header(etag)).close("PostResponse")
        return xml(x.bytes(), 201, {**headers, "location": location})
    return empty(200 if status == "200" else 204, {**headers, "location": location})

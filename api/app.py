"""The ASGI application: health endpoints, then every S3 request through one pipeline:
parse -> authenticate -> route to one small handler -> render (errors as S3 XML)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator
from email.utils import formatdate
from time import perf_counter
from typing import Any

from api.admin.router import route_admin
from api.audit.entry import audit_entry
from api.audit.recorder import AuditScope, RequestAudit
from api.context import ServerContext
from api.errors import S3Error, slow_down
from api.events.stream import PREFIX as EVENTS_PREFIX
from api.events.stream import EventStream
from api.http.zerocopy import ClientGone, abort_connection, zero_copy_sender
from api.metrics.endpoint import METRICS_PATHS, ServerMetrics
from api.request import S3Request, parse_query, split_path
from api.response import FileBody, Response
from api.s3.cors_headers import add_cors_headers
from api.s3.router import route
from domain.errors import DomainError
from projections.blobstore import BlobMissing
from projections.eventstore.unavailable import STORE_OUTAGE, is_unavailable

log = logging.getLogger("chronicle.api")

_counter = [0]
DRAIN_LIMIT = 1024 * 1024
MISSING_DATA = (
    "We encountered an internal error: the object's data is missing on the server. Please contact its administrator."
)
_NODE = os.urandom(2).hex().upper()


_date = [0, b""]


def _http_date() -> bytes:
    """The Date header, formatted once a second."""
    now = int(time.time())
    if now != _date[0]:
        _date[1] = formatdate(now, usegmt=True).encode()
        _date[0] = now
    return _date[1]


def _origin(scope: dict[str, Any]) -> str:
    server = scope.get("server")
    if not server or server[1] is None:
        return ""
    host = server[0]
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"{scope.get('scheme', 'http')}://{host}:{server[1]}"


def request_id() -> str:
    _counter[0] += 1
    return f"{time.time_ns():X}{_NODE}{_counter[0] & 0xFFFF:04X}"[-16:]


class ChronicleASGI:
    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.metrics = ServerMetrics(ctx)
        self.events = EventStream(ctx)
        self.metrics.event_stream = self.events
        scope = AuditScope.parse(ctx.settings.audit_requests)
        self.audit = RequestAudit(ctx.store, scope, writer_process=ctx.settings.fast_path) if scope.enabled else None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path.startswith("/minio/health/"):
            await self._health(path, send)
            return
        await self._s3(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.ctx.delivery is not None:  # before the store closes under it
                    await self.ctx.delivery.stop()
                    self.ctx.delivery = None
                if self.audit is not None:
                    self.audit.close()  # what is queued reaches the table before the store closes
                self.ctx.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _health(self, path: str, send: Any) -> None:
        status = 200
        if path.rstrip("/") in ("/minio/health/ready", "/minio/health/cluster"):
            try:
                await self.ctx.read(lambda tx: tx.scalar("SELECT 1"))
            except Exception:  # noqa: BLE001 - the store is unreachable: not ready
                status = 503
        elif path.rstrip("/") != "/minio/health/live":
            status = 404
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    async def _s3(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        started = perf_counter()
        headers: dict[str, str] = {}
        header_bytes = 0
        for name, value in scope["headers"]:
            header_bytes += len(name) + len(value) + 4
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            headers[key] = f"{headers[key]},{text}" if key in headers else text
        raw_path = scope.get("raw_path")
        raw = raw_path.decode("latin-1") if raw_path else scope["path"]
        raw = raw.split("?", 1)[0]
        client = scope.get("client") or ("", 0)
        req = S3Request(
            method=scope["method"],
            raw_path=raw,
            query_string=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            receive=receive,
            client_ip=client[0] if client else "",
            request_id=request_id(),
            scheme=scope.get("scheme", "http"),
            origin=_origin(scope),
            body_timeout=self.ctx.settings.body_timeout,
        )
        api = -1  # the S3 API this request counts under (api.metrics.request_metrics)
        routed = False  # an S3 request (not admin, events, metrics): it may get CORS headers
        try:
            if header_bytes > self.ctx.settings.max_header_bytes:
                raise S3Error("RequestHeaderSectionTooLarge", status=400)
            req.bucket, req.key = split_path(raw, headers.get("host", ""), self.ctx.settings.domain)
            req.query = parse_query(req.query_string)
            if raw.startswith("/minio/admin/"):  # the MinIO admin API: JSON errors, madmin bodies
                response = await route_admin(req, self.ctx)
            elif raw.startswith(EVENTS_PREFIX):  # the event stream for downstream systems
                response = await self.events.handle(req)
            elif raw in METRICS_PATHS:
                response = await self.metrics.scrape(req)
            else:
                api = self.metrics.s3.begin(req)
                routed = True
                response = await route(req, self.ctx)
        except S3Error as err:
            response = error_response(err, req)
        except DomainError as err:
            response = error_response(S3Error(err.code, err.message, extra=err.extra), req)
        except BlobMissing as exc:
            log.error("%s %s: the object's data is missing (%s); answered 500", req.method, req.raw_path, exc)
            response = error_response(S3Error("InternalError", MISSING_DATA), req)
        except Exception as exc:  # noqa: BLE001 - never a traceback to the client
            if is_unavailable(exc):
                STORE_OUTAGE.failed(exc)
                response = error_response(slow_down(), req)
            else:
                log.exception("internal error on %s %s", req.method, req.raw_path)
                response = error_response(S3Error("InternalError"), req)
        except BaseException:  # cancelled (the server is stopping): no longer in flight
            if api >= 0:
                self.metrics.s3.abandoned(api)
            raise
        if response.status < 500:
            STORE_OUTAGE.succeeded()
        if routed and "origin" in headers:
            await self._cors(req, response, api)
        await self._drain(req, response)
        if api < 0:
            await self._send(req, response, send)
            return
        responded = perf_counter()
        try:
            await self._send(req, response, send)
        finally:
            self.metrics.s3.end(api, req, response, started, responded)
            if self.audit is not None and self.audit.covers(req.bucket or ""):
                self._audit(req, response, started)

    async def _cors(self, req: S3Request, response: Response, api: int) -> None:
        try:
            await add_cors_headers(req, self.ctx, response)
        except BaseException:  # cancelled (the server is stopping): no longer in flight
            if api >= 0:
                self.metrics.s3.abandoned(api)
            raise

    def _audit(self, req: S3Request, response: Response, started: float) -> None:
        body = response.body
        sent = len(body) if isinstance(body, bytes) else (response.length or 0)
        entry = audit_entry(
            req, response, deployment_id=self.ctx.deployment_id, started=started, finished=perf_counter(), sent=sent
        )
        entry["_time_us"] = time.time_ns() // 1000
        assert self.audit is not None
        self.audit.record(entry)

    async def _drain(self, req: S3Request, response: Response) -> None:
        """A response sent before the body was read leaves the body on the connection, where
        the next request would read it as garbage: read small leftovers, close on large ones."""
        if req._body_used:
            return
        declared = req.headers.get("content-length", "0")
        chunked = "chunked" in req.headers.get("transfer-encoding", "")
        if not chunked and (not declared.isdigit() or int(declared) == 0):
            return
        expect_continue = req.headers.get("expect", "").lower() == "100-continue"
        if chunked or expect_continue or int(declared) > DRAIN_LIMIT:
            response.headers["connection"] = "close"
            return
        try:
            async for _ in req.raw_body():
                pass
        except S3Error:
            response.headers["connection"] = "close"

    async def _send(self, req: S3Request, response: Response, send: Any) -> None:
        hdrs = [(b"x-amz-request-id", req.request_id.encode()), (b"server", b"Chronicle"), (b"date", _http_date())]
        for name, value in response.headers.items():
            hdrs.append((name.encode("latin-1"), str(value).encode("latin-1", "replace")))
        body = response.body
        if isinstance(body, bytes):
            if "content-length" not in response.headers:
                hdrs.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": response.status, "headers": hdrs})
            await send({"type": "http.response.body", "body": b"" if req.method == "HEAD" else body})
            return
        if response.length is not None and "content-length" not in response.headers:
            hdrs.append((b"content-length", str(response.length).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": hdrs})
        try:
            if isinstance(body, FileBody):
                await self._send_files(body, send)
                return
            async for chunk in body:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except BlobMissing as exc:
            # The status line is gone: never end a short body as if it were complete.
            log.error(
                "%s %s: the object's data went missing mid-body (%s); connection aborted", req.method, req.raw_path, exc
            )
            if not await abort_connection(send):
                raise
            return
        finally:
            if isinstance(body, AsyncIterator):
                aclose = getattr(body, "aclose", None)
                if aclose is not None:
                    await aclose()
        await send({"type": "http.response.body", "body": b""})

    async def _send_files(self, body: FileBody, send: Any) -> None:
        sender = zero_copy_sender(send, self.ctx.settings.body_timeout)
        if sender is not None:
            try:
                await sender(body.spans, self.ctx.readers)
            except BlockingIOError:
                pass  # the head is still queued: stream the ordinary way
            except ClientGone:
                return  # the connection is closed; nothing more to send
            else:
                await send({"type": "http.response.body", "body": b""})
                return
        for path, offset, count in body.spans:
            while count > 0:
                n = min(count, STREAM_SPAN)
                chunk = await self.ctx.run_sync(_pread, path, offset, n)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                offset += n
                count -= n
        await send({"type": "http.response.body", "body": b""})


STREAM_SPAN = 2 * 1024 * 1024


def _pread(path: Any, offset: int, count: int) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise BlobMissing(f"blob {os.path.basename(path)} is missing") from None
    try:
        data = os.pread(fd, count, offset)
    finally:
        os.close(fd)
    if len(data) != count:
        raise BlobMissing(f"blob {os.path.basename(path)} is shorter than recorded")
    return data


def error_response(err: S3Error, req: S3Request) -> Response:
    req.answered_error = err.code
    body = err.to_xml(req.resource, req.request_id)
    headers = {"content-type": "application/xml"}
    headers.update(err.headers)
    if req.method == "HEAD" or err.status == 304:
        # HEAD responses carry no body; the code travels in the status alone.
        return Response(err.status, headers, b"" if err.status == 304 else body)
    return Response(err.status, headers, body)

"""Routes ``/minio/admin/v3/...`` (and ``/v4/``) requests: authenticate (SigV4, service s3,
any region) exactly as S3 requests are, pick the row of the admin operation table
(api.admin.operations), and render
every failure as MinIO's JSON error body — never a traceback."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from api.admin import shapes
from api.admin.call import AdminCall
from api.admin.endpoints import split_admin_path
from api.admin.errors import AdminError, access_denied, from_domain_error, from_s3_error
from api.admin.operations import ADMIN_OPERATIONS
from api.auth.authenticate import authenticate_request
from api.errors import S3Error, slow_down
from api.response import Response
from domain.errors import DomainError
from projections.eventstore.unavailable import STORE_OUTAGE, is_unavailable

if TYPE_CHECKING:
    from api.context import ServerContext
    from api.request import S3Request

log = logging.getLogger("chronicle.admin")


async def route_admin(req: S3Request, ctx: ServerContext) -> Response:
    try:
        return await _dispatch(req, ctx)
    except AdminError as err:
        return error_response(err, req)
    except S3Error as err:
        return error_response(from_s3_error(err), req)
    except DomainError as err:
        return error_response(from_domain_error(err), req)
    except Exception as exc:  # noqa: BLE001 - never a traceback to the client
        if is_unavailable(exc):
            STORE_OUTAGE.failed(exc)
            busy = slow_down()
            response = error_response(AdminError(busy.code, busy.message, busy.status), req)
            response.headers.update(busy.headers)
            return response
        log.exception("internal error on admin %s %s", req.method, req.raw_path)
        return error_response(
            AdminError("InternalError", "We encountered an internal error, please try again.", 500), req
        )


async def _dispatch(req: S3Request, ctx: ServerContext) -> Response:
    command = split_admin_path(req.raw_path)
    operation = ADMIN_OPERATIONS.get(command or "")
    if operation is None or operation.method != req.method:
        # What MinIO answers for an admin path it has no route for; madmin v4 clients fall
        # back to /v3 on this status.
        version = req.raw_path.split("/")[3] if req.raw_path.count("/") >= 3 else ""
        raise AdminError(
            "XMinioAdminVersionMismatch",
            f"This 'admin' API is not supported by server in 'chronicle' ({req.method} {command or version})",
            426,
        )
    await authenticate_request(req, ctx)
    if req.identity is None:
        raise access_denied()
    return await operation.handler(AdminCall(req, ctx, operation))


def error_response(err: AdminError, req: S3Request) -> Response:
    body = shapes.error_response(err.code, err.message, resource=req.raw_path, request_id=req.request_id)
    return Response(err.status, {"content-type": "application/json"}, json.dumps(body, separators=(",", ":")).encode())

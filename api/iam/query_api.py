"""The entry of the STS and IAM query APIs: read the parameters, authenticate for the
service the request is signed for, pick the action's row (api.iam.operations) and answer
every error as <ErrorResponse>."""

from __future__ import annotations

import logging

from api.auth.authenticate import authenticate_request
from api.context import ServerContext
from api.errors import S3Error
from api.iam.call import Call
from api.iam.operations import QUERY_OPERATIONS
from api.iam.protocol import VERSIONS, error_response, query_api_service, read_params
from api.request import S3Request
from api.response import Response
from domain.errors import DomainError
from projections.eventstore.unavailable import RETRY_AFTER, STORE_OUTAGE, is_unavailable

log = logging.getLogger("chronicle.api.sts")

# How the S3 authentication errors read on the STS / IAM endpoints (AWS's codes there).
_AUTH_ERRORS = {
    "InvalidAccessKeyId": ("InvalidClientTokenId", 403, "The security token included in the request is invalid."),
    "InvalidToken": ("InvalidClientTokenId", 403, "The security token included in the request is invalid."),
    "ExpiredToken": ("ExpiredToken", 403, "The security token included in the request is expired"),
}


def signed_for_query_api(req: S3Request) -> bool:
    """POST / signed for the STS or IAM service (by its credential scope)."""
    return query_api_service(req) is not None


async def query_api(req: S3Request, ctx: ServerContext) -> Response:
    """Entry from the router: read, authenticate, dispatch; every error as <ErrorResponse>."""
    service = query_api_service(req) or "sts"
    try:
        params, sha = await read_params(req)
        try:
            await authenticate_request(req, ctx, service=service, payload_sha256=sha)
        except S3Error as err:
            if err.code in _AUTH_ERRORS:
                code, status, message = _AUTH_ERRORS[err.code]
                raise S3Error(code, message, status=status) from None
            raise
        if req.identity is None:
            raise S3Error("MissingAuthenticationToken", "Request is missing Authentication Token", status=403)
        action = params.get("Action", "")
        if not action:
            raise S3Error("MissingAction", "Missing Action", status=400)
        version = params.get("Version")
        if version is not None and version != VERSIONS[service]:
            raise S3Error("InvalidAction", f"Could not find operation {action} for version {version}", status=400)
        operation = QUERY_OPERATIONS.get((service, action))
        if operation is None:
            raise S3Error(
                "InvalidAction", f"Could not find operation {action} for version {VERSIONS[service]}", status=400
            )
        return await operation.handler(Call(req, ctx, operation, params))
    except S3Error as err:
        return error_response(req, service, err.code, err.message, err.status)
    except DomainError as err:
        return error_response(req, service, err.code, err.message or err.code, 400)
    except Exception as exc:  # noqa: BLE001 - never a traceback to the client
        if is_unavailable(exc):
            # The query APIs' own code for it (503 is retried by the SDKs).
            STORE_OUTAGE.failed(exc)
            response = error_response(
                req, service, "ServiceUnavailable", "The service is unavailable. Please try again later.", 503
            )
            response.headers["Retry-After"] = str(RETRY_AFTER)
            return response
        log.exception("internal error on %s %s", service, req.raw_path)
        return error_response(
            req, service, "InternalFailure", "The request processing has failed because of an unknown error.", 500
        )

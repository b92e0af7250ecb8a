"""MinIO admin API errors: the JSON error body's codes, and the translation of the S3 and
domain errors raised below the admin handlers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from api.errors import S3Error
from domain.errors import DomainError

if TYPE_CHECKING:
    pass


MAX_CONFIG_BYTES = 256 * 1024  # MinIO's maxEConfigJSONSize


class AdminError(Exception):
    """A MinIO admin API error: JSON ``{"Code","Message","Resource","RequestId"}``."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def no_such_user(name: str) -> AdminError:
    return AdminError(
        "XMinioAdminNoSuchUser", f"The specified user does not exist. (Specified user {name} does not exist)", 404
    )


def no_such_group(name: str) -> AdminError:
    return AdminError(
        "XMinioAdminNoSuchGroup", f"The specified group does not exist. (Specified group {name} does not exist)", 404
    )


def no_such_policy(name: str) -> AdminError:
    return AdminError(
        "XMinioAdminNoSuchPolicy", f"The canned policy does not exist. (Specified policy {name} does not exist)", 404
    )


def no_such_service_account(key: str) -> AdminError:
    return AdminError("XMinioInvalidIAMCredentials", f"The specified service account is not found ({key})", 404)


def access_denied() -> AdminError:
    return AdminError("AccessDenied", "Access Denied.", 403)


def not_allowed(message: str = "Specified IAM action is not allowed") -> AdminError:
    return AdminError("XMinioIAMActionNotAllowed", message, 403)


def invalid_argument(message: str = "Invalid arguments specified.") -> AdminError:
    return AdminError("XMinioAdminInvalidArgument", message, 400)


def bad_json(message: str = "JSON configuration provided is of incorrect format") -> AdminError:
    return AdminError("XMinioAdminConfigBadJSON", message, 400)


def malformed_json(detail: str = "") -> AdminError:
    msg = "The JSON you provided was not well-formed or did not validate against our published format."
    return AdminError("XMinioMalformedJSON", f"{msg} ({detail})" if detail else msg, 400)


def malformed_policy(message: str) -> AdminError:
    return AdminError("XMinioMalformedIAMPolicy", message, 400)


def from_s3_error(err: S3Error) -> AdminError:
    """An S3Error raised below (authentication, iam_service) in MinIO's admin vocabulary."""
    code = err.extra.get("Code") if err.extra else None
    if code:
        return AdminError(code, err.message, err.status)
    if err.code == "InvalidArgument":
        return invalid_argument(err.message)
    if err.code == "NoSuchEntity":
        return AdminError("XMinioAdminNoSuchEntity", err.message, 404)
    if err.code == "MaxMessageLengthExceeded":
        return AdminError(
            "XMinioAdminConfigTooLarge",
            f"Configuration data provided exceeds the allowed maximum of {MAX_CONFIG_BYTES} bytes",
            400,
        )
    return AdminError(err.code, err.message, err.status)


def from_domain_error(err: DomainError) -> AdminError:
    if err.code in ("MalformedPolicyDocument", "MalformedPolicy"):
        return malformed_policy(err.message)
    return AdminError(err.code, err.message, 400)

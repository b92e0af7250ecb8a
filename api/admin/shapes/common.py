"""What the admin API's JSON bodies share: Go's time text, account statuses, request-body
parsing helpers and the JSON error body."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

ZERO_TIME = "0001-01-01T00:00:00Z"
TIME_SENTINEL = datetime(1970, 1, 1, tzinfo=UTC)  # MinIO's "no expiry"
STATUS_ENABLED = "enabled"
STATUS_DISABLED = "disabled"
STATUSES = (STATUS_ENABLED, STATUS_DISABLED)

Status = Literal["enabled", "disabled"]


# ---- time ---------------------------------------------------------------------------------


def go_time(value: datetime | None) -> str:
    """Go's ``time.Time`` JSON (RFC 3339, fraction without trailing zeros); None → zero time."""
    if value is None:
        return ZERO_TIME
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += ("." + f"{value.microsecond:06d}").rstrip("0")
    return text + "Z"


def parse_go_time(text: str | None) -> datetime | None:
    """RFC 3339 text (any fraction length, ``Z`` or an offset) → aware datetime; zero/None → None."""
    if text is None or text == "" or text.startswith("0001-01-01T00:00:00"):
        return None
    if not isinstance(text, str):
        raise ValueError("time must be an RFC 3339 string")
    body = text.strip()
    if body.endswith(("Z", "z")):
        body = body[:-1] + "+00:00"
    if "." in body:  # Python takes at most 6 fractional digits; Go sends up to 9
        head, _, rest = body.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        body = f"{head}.{(digits + '000000')[:6]}{rest}"
    try:
        value = datetime.fromisoformat(body)
    except ValueError:
        raise ValueError(f"invalid RFC 3339 time {text!r}") from None
    if value.tzinfo is None:
        raise ValueError(f"RFC 3339 time without offset {text!r}")
    return value.astimezone(UTC)


def json_object(body: bytes | str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(body, Mapping):
        return dict(body)
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("body is not JSON") from None
    if not isinstance(value, dict):
        raise ValueError("body is not a JSON object")
    return value


def opt_str(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value


def policy_document(value: Any, key: str) -> dict[str, Any] | None:
    """madmin's ``json.RawMessage`` policy: an object (or, leniently, JSON text); empty → None."""
    if value is None or value == "" or value == {}:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(f"{key} is not a JSON policy") from None
    if not isinstance(value, dict):
        raise ValueError(f"{key} must be a JSON object")
    return value or None


def split_policy_names(text: str | Iterable[str]) -> list[str]:
    """``"readwrite, diagnostics"`` → ``["readwrite", "diagnostics"]`` (MinIO's comma lists)."""
    items = text.split(",") if isinstance(text, str) else list(text)
    names: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError("policy names must be strings")
        item = item.strip()
        if item and item not in names:
            names.append(item)
    return names


def error_response(code: str, message: str, *, resource: str = "", request_id: str = "") -> dict[str, str]:
    """The JSON error body MinIO's writeErrorResponseJSON sends (madmin ``ErrorResponse``)."""
    return {
        "Code": code,
        "Message": message,
        "Resource": resource,
        "RequestId": request_id,
        "HostId": "",
    }

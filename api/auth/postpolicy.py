"""Browser-based POST uploads: SigV4 POST policy verification.

The form's signature is HMAC(signing key, base64 policy). The policy's conditions constrain the
other form fields, and every form field (but a few) must be covered by some condition.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from api.auth.signing import (
    ALGORITHM,
    TERMINATOR,
    UNSIGNED_PAYLOAD,
    AuthContext,
    derive_signing_key,
    now_timestamp,
    parse_amz_date,
)
from api.errors import S3Error

# Fields AWS does not require a policy condition for.
_EXEMPT = frozenset({"x-amz-signature", "file", "policy", "awsaccesskeyid", "signature"})
_REQUIRED = ("x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature")
_ISO8601 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")


def _invalid_policy(detail: str) -> S3Error:
    return S3Error("InvalidPolicyDocument", f"Invalid Policy: {detail}")


def _denied(detail: str) -> S3Error:
    return S3Error("AccessDenied", f"Invalid according to Policy: {detail}")


def _condition_failed(condition: list[Any]) -> S3Error:
    return _denied(f"Policy Condition failed: {json.dumps(condition)}")


def _missing_field(name: str) -> S3Error:
    return S3Error(
        "InvalidArgument",
        f"Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields.",
        extra={"ArgumentName": name, "ArgumentValue": ""},
    )


def check_content_length(length_range: tuple[int, int] | None, size: int) -> None:
    """Enforce a policy's content-length-range once the uploaded file's size is known."""
    if length_range is None:
        return
    low, high = length_range
    if size > high:
        raise S3Error(
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size",
            extra={"ProposedSize": str(size), "MaxSizeAllowed": str(high)},
        )
    if size < low:
        raise S3Error(
            "EntityTooSmall",
            "Your proposed upload is smaller than the minimum allowed size",
            extra={"ProposedSize": str(size), "MinSizeAllowed": str(low)},
        )


def _parse_expiration(value: Any) -> float:
    if not isinstance(value, str):
        raise _invalid_policy("Invalid 'expiration' value.")
    if not _ISO8601.fullmatch(value):  # ISO 8601 in UTC, as AWS requires ("...T...Z")
        raise _invalid_policy(f"Invalid 'expiration' value: '{value}'")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _invalid_policy(f"Invalid 'expiration' value: '{value}'") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _decode_policy(policy_b64: str) -> dict[str, Any]:
    try:
        raw = base64.b64decode(policy_b64, validate=True)
        policy = json.loads(raw)
    except (binascii.Error, ValueError):
        raise _invalid_policy("Invalid JSON.") from None
    if not isinstance(policy, dict):
        raise _invalid_policy("Invalid JSON.")
    return policy


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def verify_post_policy(
    fields: Mapping[str, str],
    *,
    bucket: str,
    key: str,
    content_length: int | None,
    lookup_secret: Callable[[str], str | None],
    now: datetime | None = None,
) -> AuthContext:
    """Authenticate a POST form and check its policy; anonymous when there is no policy.

    ``key`` is the object key that will be written (after ``${filename}`` substitution) and is
    what ``$key`` conditions test. When ``content_length`` is None the caller must call
    ``check_content_length(ctx.content_length_range, size)`` once the file size is known.
    """
    form = {name.lower(): value for name, value in fields.items()}
    policy_b64 = form.get("policy")
    if policy_b64 is None:
        if "x-amz-signature" in form or "x-amz-credential" in form:
            raise _missing_field("policy")
        return AuthContext(None, "post", UNSIGNED_PAYLOAD)
    if "x-amz-algorithm" not in form and "awsaccesskeyid" in form:
        raise S3Error(
            "InvalidRequest",
            "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
        )
    for name in _REQUIRED:
        if not form.get(name):
            raise _missing_field(name)
    access_key, date, region, service = _form_credential(form)
    amz_date = form["x-amz-date"]
    secret = lookup_secret(access_key)
    if secret is None:
        raise S3Error("InvalidAccessKeyId", extra={"AWSAccessKeyId": access_key})
    signing_key = derive_signing_key(secret, date, region, service)
    expected = hmac.digest(signing_key, policy_b64.encode(), "sha256").hex()
    signature = form["x-amz-signature"]
    if not (signature.isascii() and hmac.compare_digest(expected, signature)):
        raise S3Error(
            "SignatureDoesNotMatch",
            extra={
                "AWSAccessKeyId": access_key,
                "StringToSign": policy_b64,
                "SignatureProvided": signature,
            },
        )

    length_range = check_policy(policy_b64, form, bucket=bucket, key=key, now=now)
    if content_length is not None:
        check_content_length(length_range, content_length)
    return AuthContext(
        access_key=access_key,
        mode="post",
        payload_hash=UNSIGNED_PAYLOAD,
        signing_key=signing_key,
        seed_signature=signature,
        scope=f"{date}/{region}/{service}/{TERMINATOR}",
        amz_date=amz_date,
        region=region,
        service=service,
        security_token=form.get("x-amz-security-token"),
        content_length_range=length_range,
    )


def _form_credential(form: Mapping[str, str]) -> tuple[str, str, str, str]:
    """(access key, date, region, service) of the form's x-amz-credential, once the form's
    algorithm, credential and date fields are well formed."""
    if form["x-amz-algorithm"] != ALGORITHM:
        raise S3Error(
            "InvalidArgument",
            f'X-Amz-Algorithm only supports "{ALGORITHM}"',
            extra={"ArgumentName": "x-amz-algorithm", "ArgumentValue": form["x-amz-algorithm"]},
        )
    parts = form["x-amz-credential"].split("/")
    if len(parts) != 5 or not parts[0] or parts[4] != TERMINATOR or len(parts[1]) != 8:
        raise S3Error(
            "InvalidArgument",
            "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; "
            'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
            extra={"ArgumentName": "x-amz-credential", "ArgumentValue": form["x-amz-credential"]},
        )
    amz_date = form["x-amz-date"]
    if parse_amz_date(amz_date) is None:
        raise S3Error(
            "InvalidArgument",
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
            extra={"ArgumentName": "x-amz-date", "ArgumentValue": amz_date},
        )
    access_key, date, region, service, _ = parts
    return access_key, date, region, service


def check_policy(
    policy_b64: str,
    form: Mapping[str, str],
    *,
    bucket: str,
    key: str,
    now: datetime | None = None,
) -> tuple[int, int] | None:
    """Check a signed policy's expiration and conditions against the form (lower-case names).

    Shared by SigV4 and SigV2 POST forms; returns the content-length-range, if any.
    """
    policy = _decode_policy(policy_b64)
    if "expiration" not in policy:
        raise _invalid_policy("Policy missing expiration.")
    if now_timestamp(now) > _parse_expiration(policy["expiration"]):
        raise _denied("Policy expired.")
    conditions = policy.get("conditions")
    if not isinstance(conditions, list):
        raise _invalid_policy("Policy missing conditions.")

    values = dict(form)
    values["bucket"] = bucket
    values["key"] = key
    covered: set[str] = set()
    length_range = None
    for condition in conditions:
        if isinstance(condition, dict):
            if len(condition) != 1:
                raise _invalid_policy(
                    "Invalid Simple-Condition: Simple-Conditions must have exactly one property specified."
                )
            ((name, expected_value),) = condition.items()
            if not isinstance(expected_value, str):
                raise _invalid_policy(f"Invalid Simple-Condition: value of {name} must be a string.")
            field = name.lower().removeprefix("$")
            covered.add(field)
            if values.get(field, "") != expected_value:
                raise _condition_failed(["eq", f"${name}", expected_value])
            continue
        if not isinstance(condition, list) or not condition or not isinstance(condition[0], str):
            raise _invalid_policy("Invalid Condition.")
        op = condition[0].lower()
        if op == "content-length-range":
            low = _as_int(condition[1]) if len(condition) == 3 else None
            high = _as_int(condition[2]) if len(condition) == 3 else None
            if low is None or high is None or low < 0 or high < low:
                raise _invalid_policy("Invalid content-length-range condition.")
            length_range = (low, high)
            continue
        if op not in ("eq", "starts-with"):
            raise _invalid_policy(f"Invalid Condition: unknown operation '{condition[0]}'.")
        if (
            len(condition) != 3
            or not isinstance(condition[1], str)
            or not condition[1].startswith("$")
            or not isinstance(condition[2], str)
        ):
            raise _invalid_policy(f"Invalid Condition: {json.dumps(condition)}")
        field = condition[1][1:].lower()
        covered.add(field)
        actual = values.get(field)
        if op == "eq":
            ok = actual is not None and actual == condition[2]
        elif field == "content-type" and actual is not None:
            # Content-Type may list several values; each must match the prefix (as AWS does).
            ok = all(v.strip().startswith(condition[2]) for v in actual.split(","))
        else:
            ok = condition[2] == "" or (actual is not None and actual.startswith(condition[2]))
        if not ok:
            raise _condition_failed(condition)

    extra = sorted(
        name
        for name in form
        if name not in covered and name not in _EXEMPT and not name.startswith(("x-ignore-", "x-amz-checksum-"))
    )
    if extra:
        raise _denied("Extra input fields: " + ", ".join(extra))
    return length_range

"""What `chronicle admin` prints and reads: tables, server errors in words, expiry times,
secrets it generates, and the text of the notification target listings."""

from __future__ import annotations

import json
import re
import secrets
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from api.notify.config import _tokens
from cli.admin_client import ServerError, UsageError
from workers.targets import config_class


def new_secret() -> str:
    return secrets.token_urlsafe(30)[:40]


def parse_expiry(text: str, now: datetime | None = None) -> str:
    """``7d``, ``12h``, ``30m``, ``90s``, ``2w`` or an RFC 3339 time -> RFC 3339 (UTC)."""
    now = now or datetime.now(UTC)
    m = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text)
    if m:
        n, unit = int(m.group(1)), m.group(2)
        seconds = n * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
        if seconds <= 0:
            raise UsageError("--expiry must be in the future")
        return (now + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--expiry: expected a duration such as 7d, 12h, 30m or an RFC 3339 time, not {text!r}"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_json_file(path: str, what: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()  # noqa: SIM115
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{what} {path} is not valid JSON: {exc}") from None


def table(rows: list[list[str]], headers: list[str]) -> str:
    if not rows:
        return "(none)"
    cells = [headers] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def friendly(err: ServerError, *, user: str = "", group: str = "", policy: str = "", key: str = "") -> str:
    """A sentence for the common failures; the server's words otherwise."""
    code = err.code
    if code == "XMinioAdminNoSuchUser":
        return f"user {user} does not exist" if user else err.server_message
    if code == "XMinioAdminNoSuchGroup":
        return f"group {group} does not exist" if group else err.server_message
    if code == "XMinioAdminNoSuchPolicy":
        return f"policy {policy} does not exist" if policy else err.server_message
    if code == "XMinioInvalidIAMCredentials" and err.status == 404:
        return f"service account {key} does not exist" if key else err.server_message
    if code == "AccessDenied":
        return "access denied: these credentials may not perform this operation"
    if code == "InvalidAccessKeyId":
        return "the server does not know this access key (or it is disabled)"
    if code == "SignatureDoesNotMatch":
        return "the secret key is wrong for this access key"
    if code == "XMinioAdminPolicyChangeAlreadyApplied":
        return "nothing to change: the policies are already attached (or already detached)"
    if code == "XMinioAdminGroupNotEmpty":
        return f"group {group} is not empty: remove its members first"
    if code == "XMinioIAMPolicyInUse":
        return f"policy {policy} is attached to users or groups: detach it first ({err.server_message})"
    return f"{err.server_message} ({code})" if code else err.server_message


def time_text(value: str | None) -> str:
    if not value or value.startswith(("0001-01-01", "1970-01-01")):
        return "-"
    return value


def kv_quote(value: str) -> str:
    """A value for config KV text: quoted when it holds spaces (the server strips quotes)."""
    if not any(c.isspace() for c in value):
        return value
    return f"'{value}'" if '"' in value else f'"{value}"'


def config_failure(err: ServerError, target: str) -> str:
    if err.code == "XMinioConfigNotFoundError":
        return f"{target} is not configured"
    if err.code in ("XMinioConfigError", "XMinioAdminConfigBadJSON"):
        return err.server_message
    return friendly(err)


def target_arn(target: str, region: str) -> str:
    """The ARN bucket rules use for ``notify_redis:1`` (empty if the name is not one)."""

    subsystem, _, target_id = target.partition(":")
    try:
        kind = config_class(subsystem).TYPE
    except ValueError:
        return ""
    return f"arn:minio:sqs:{region}:{target_id or '_'}:{kind}" if kind else ""  # audit_webhook: none


def parse_listing(text: str) -> list[dict[str, Any]]:
    """get-config-kv text → [{"target", "settings", "env"}] for --json."""

    out: list[dict[str, Any]] = []
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# "):
            name, _, value = line[2:].partition("=")
            env[name] = value
            continue
        tokens = _tokens(line)
        if not tokens:
            continue
        head = tokens[0] if ":" in tokens[0] else tokens[0] + ":_"
        settings = dict(t.partition("=")[::2] for t in tokens[1:])
        settings.setdefault("enable", "on")
        out.append({"target": head, "settings": settings, "env": env})
        env = {}
    return out


def statements(doc: Any) -> list[Any]:
    stmts = doc.get("Statement", []) if isinstance(doc, dict) else []
    return stmts if isinstance(stmts, list) else [stmts]


def status_word(value: str) -> str:
    return {"on": "enabled", "off": "disabled"}.get(value, value)


def svc_text(info: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"Access key:  {info['accessKey']}",
            "Type:        service account",
            f"Parent user: {info.get('parentUser', '')}",
            f"Status:      {status_word(info.get('accountStatus', ''))}",
            f"Name:        {info.get('name') or '-'}",
            f"Description: {info.get('description') or '-'}",
            f"Expires:     {time_text(info.get('expiration'))}",
            f"Policy:      {'implied (the parent user' + chr(39) + 's)' if info.get('impliedPolicy') else 'embedded'}",
            info.get("policy", ""),
        ]
    )


def duration(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if days or hours:
        parts.append(f"{hours}h")
    parts += [f"{minutes}m", f"{secs}s"] if not days else [f"{minutes}m"]
    return " ".join(parts)


def missing_user(err: ServerError, members: list[str]) -> str:
    for m in members:
        if m in err.server_message:
            return m
    return members[0] if len(members) == 1 else ""

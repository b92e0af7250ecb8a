"""Notification target (and ``audit_webhook``) configuration commands, shared by the MinIO
admin API's config KV calls and the CLI: set a target's settings, remove a target (or reset some of its keys),
list targets in MinIO's get-config-kv text, and record this node's environment at start.

Settings arrive as MinIO's config KV text, ``notify_redis:1 address=127.0.0.1:6379
key=events format=namespace``: values may be quoted (``comment="two words"``), and a
connection_string may even be given unquoted, as minio-py sends it. As in MinIO, a set
merges the given keys into the target's current settings and implies ``enable=on``.
Secret values are sealed here, before they enter the command: the events and the
projection only hold ciphertext. Every change is an event, so it takes effect on every
node without a restart (the ``TargetDirectory`` follows the generation number).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from api.context import ServerContext
from domain.actor import SYSTEM_ACTOR, Actor
from domain.notify_target import (
    NotificationTarget,
    seal_settings,
    target_aggregate_id,
    target_name,
    unseal_settings,
)
from domain.write_plan import WritePlan

DEFAULT_ID = "_"
REDACTED = "*redacted*"
# Keys whose unquoted value may contain spaces (lib/pq connection strings, comments).
FREE_TEXT_KEYS = ("connection_string", "comment")
_TARGET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_KEY_VALUE = re.compile(r"^([A-Za-z_]+)=(.*)$", re.DOTALL)


class ConfigSyntaxError(ValueError):
    """Unknown subsystem or key, or text that is not ``subsystem[:id] key=value ...``
    (MinIO: XMinioConfigError)."""


class ConfigInvalid(ValueError):
    """Settings that parse but do not make a usable target (MinIO: XMinioAdminConfigBadJSON)."""


class TargetNotFound(LookupError):
    """No such target (MinIO: XMinioConfigNotFoundError / XMinioConfigError)."""


# ---- parsing MinIO's config KV text ---------------------------------------------------


def _tokens(text: str) -> list[str]:
    """Split on whitespace; a value quoted right after ``=`` (or a quoted token) may hold
    spaces and loses its quotes, as MinIO's SanitizeValue strips them."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        start, buf = i, []
        while i < n and not text[i].isspace():
            c = text[i]
            if c in "\"'" and (i == start or text[i - 1] == "="):
                close = i + 1
                while True:
                    close = text.find(c, close)
                    if close < 0 or close + 1 >= n or text[close + 1].isspace():
                        break
                    close += 1
                if close > i:
                    buf.append(text[i + 1 : close])
                    i = close + 1
                    continue
            buf.append(c)
            i += 1
        out.append("".join(buf))
    return out


def _schema(ctx: ServerContext) -> Any:
    if ctx.notify.schema is None:
        raise ConfigSyntaxError("notification targets are not configurable on this server")
    return ctx.notify.schema


def parse_target(schema: Any, name: str) -> tuple[str, str | None]:
    """``notify_redis:1`` → (notify_redis, "1"); ``notify_redis:`` → (…, "_");
    ``notify_redis`` → (…, None), meaning every target of the subsystem."""
    subsystem, sep, target_id = name.strip().partition(":")
    subsystem = subsystem.lower()
    if subsystem not in schema.ALL_CONFIG_CLASSES:
        if subsystem.startswith(("notify_", "audit_")):
            try:
                schema.config_class(subsystem)
            except schema.ConfigError as exc:
                raise ConfigSyntaxError(str(exc)) from None
        raise ConfigSyntaxError(
            f"unknown sub-system {subsystem!r}: Chronicle configures notification targets and the "
            "request audit's webhooks here, " + ", ".join(schema.ALL_CONFIG_CLASSES)
        )
    if not sep:
        return subsystem, None
    target_id = target_id or DEFAULT_ID
    if target_id != DEFAULT_ID and not _TARGET_ID.match(target_id):
        raise ConfigSyntaxError(
            f"invalid target id {target_id!r}: use letters, digits, '.', '_' or '-' (e.g. {subsystem}:1)"
        )
    return subsystem, target_id


def parse_kv_line(schema: Any, text: str) -> tuple[str, str, dict[str, str]]:
    """``notify_redis:1 address=... key=...`` → (subsystem, target id, {key: value})."""
    tokens = _tokens(text)
    if not tokens:
        raise ConfigSyntaxError("input arguments cannot be empty: send 'notify_<type>[:<id>] key=value ...'")
    subsystem, target_id = parse_target(schema, tokens[0])
    target_id = target_id or DEFAULT_ID
    valid = schema.valid_keys(subsystem)
    kvs: dict[str, str] = {}
    current: str | None = None
    for token in tokens[1:]:
        m = _KEY_VALUE.match(token)
        key = m.group(1).lower() if m else ""
        if m and key in valid:
            kvs[key] = m.group(2)
            current = key
        elif current in FREE_TEXT_KEYS:
            kvs[current] += " " + token
        elif m:
            raise ConfigSyntaxError(f"{subsystem}: unknown key {m.group(1)!r}; valid keys: " + ", ".join(valid))
        else:
            raise ConfigSyntaxError(
                f'{subsystem}: {token!r} is not key=value; quote values with spaces, e.g. comment="my target"'
            )
    return subsystem, target_id, kvs


def _quote(value: str) -> str:
    return f'"{value}"' if any(c.isspace() for c in value) else value


# ---- commands -------------------------------------------------------------------------


def _load(ctx: ServerContext, subsystem: str, target_id: str) -> NotificationTarget | None:
    try:
        return ctx.store.repository.get(target_aggregate_id(subsystem, target_id))
    except AggregateNotFoundError:
        return None


def _current(ctx: ServerContext, schema: Any, target: NotificationTarget | None) -> dict[str, str] | None:
    if target is None or target.removed:
        return None
    return unseal_settings(
        target.subsystem,
        target.target_id,
        target.settings,
        schema.secret_keys(target.subsystem),
        ctx.sealer.unseal,
    )


def _validated(schema: Any, subsystem: str, kvs: Mapping[str, str]) -> dict[str, str]:
    try:
        return schema.to_kvs(schema.parse_config(subsystem, kvs))
    except schema.ConfigError as exc:
        raise ConfigInvalid(str(exc)) from None


def _record(
    ctx: ServerContext,
    target: NotificationTarget | None,
    subsystem: str,
    target_id: str,
    settings: dict[str, str],
    source: str,
    actor: Actor,
) -> list[Any]:
    sealed = seal_settings(subsystem, target_id, settings, _schema(ctx).secret_keys(subsystem), ctx.sealer.seal)
    if target is None:
        return [
            NotificationTarget(
                subsystem=subsystem,
                target_id=target_id,
                settings=sealed,
                source=source,
                actor=actor,
            )
        ]
    target.configure(settings=sealed, source=source, actor=actor)
    return [target]


async def set_target(ctx: ServerContext, actor: Actor, text: str) -> tuple[str, str]:
    """set-config-kv: merge the given keys into the target's settings (creating it)."""
    schema = _schema(ctx)
    subsystem, target_id, kvs = parse_kv_line(schema, text)
    if not kvs:
        raise ConfigSyntaxError(f"sub-system '{subsystem}' cannot have empty keys: give key=value settings")
    for key, value in kvs.items():
        if REDACTED in value:
            raise ConfigInvalid(
                f"{subsystem}: {key} holds {REDACTED}, the mask listings show instead of a secret: give the real value"
            )

    def build() -> list[Any]:
        target = _load(ctx, subsystem, target_id)
        merged = {**(_current(ctx, schema, target) or {}), **kvs}
        if "enable" not in kvs:
            merged["enable"] = "on"  # MinIO: setting a target implies enable=on
        settings = _validated(schema, subsystem, merged)
        return _record(ctx, target, subsystem, target_id, settings, "admin", actor)

    await ctx.submit(WritePlan.changing(build))
    ctx.notify.invalidate()
    return subsystem, target_id


async def remove_target(ctx: ServerContext, actor: Actor, text: str) -> tuple[str, str]:
    """del-config-kv: ``notify_redis:1`` removes the target; ``notify_redis:1 key ...``
    resets those keys to their defaults (as MinIO)."""
    schema = _schema(ctx)
    tokens = _tokens(text)
    if not tokens:
        raise ConfigSyntaxError("input arguments cannot be empty: send 'notify_<type>[:<id>]'")
    subsystem, target_id = parse_target(schema, tokens[0])
    target_id = target_id or DEFAULT_ID
    reset = [t.lower() for t in tokens[1:]]
    valid = schema.valid_keys(subsystem)
    for key in reset:
        if key not in valid:
            raise ConfigSyntaxError(f"{subsystem}: unknown key {key!r}; valid keys: " + ", ".join(valid))

    def build() -> list[Any]:
        target = _load(ctx, subsystem, target_id)
        current = _current(ctx, schema, target)
        if target is None or current is None:
            raise TargetNotFound(f"sub-system {target_name(subsystem, target_id)} already deleted or does not exist")
        if not reset:
            target.remove(subsystem=subsystem, target_id=target_id, source="admin", actor=actor)
            return [target]
        settings = _validated(schema, subsystem, {k: v for k, v in current.items() if k not in reset})
        return _record(ctx, target, subsystem, target_id, settings, "admin", actor)

    await ctx.submit(WritePlan.changing(build))
    ctx.notify.invalidate()
    return subsystem, target_id


def record_environment(ctx: ServerContext, environ: Mapping[str, str]) -> list[str]:
    """At start: append a Configured event (source "env") for every target whose
    environment settings differ from the log, so replay and other nodes see them.
    Returns the names of the targets recorded. Raises ConfigInvalid for settings that do
    not make a usable target (the server should refuse to start)."""
    schema = _schema(ctx)
    try:
        env = schema.env_kvs(environ)
    except schema.ConfigError as exc:
        raise ConfigInvalid(str(exc)) from None
    recorded = []
    for (subsystem, target_id), kvs in sorted(env.items()):

        def build(subsystem: str = subsystem, target_id: str = target_id, kvs: dict[str, str] = kvs) -> list[Any]:
            target = _load(ctx, subsystem, target_id)
            current = _current(ctx, schema, target)
            if current is None and "enable" not in kvs:
                return []  # MinIO: only an ..._ENABLE variable makes a target of its own
            try:
                settings = _validated(schema, subsystem, {**(current or {}), **kvs})
            except ConfigInvalid as exc:
                raise ConfigInvalid(
                    f"{exc} (from this node's CHRONICLE_NOTIFY_* settings of {target_name(subsystem, target_id)})"
                ) from None
            if settings == current:
                return []
            return _record(ctx, target, subsystem, target_id, settings, "env", SYSTEM_ACTOR)

        change = ctx.submit_sync(WritePlan.changing(build))
        if change.events:
            recorded.append(target_name(subsystem, target_id))
    if recorded:
        ctx.notify.invalidate()
    return recorded


# ---- listing (get-config-kv) ----------------------------------------------------------


def _env_lines(schema: Any, cfg: Any, subsystem: str, target_id: str, environ: Mapping[str, str]) -> list[str]:
    names = schema.env_var_names(subsystem, target_id)
    lines = []
    for key, value in schema.listing_kvs(cfg):  # secrets are not listed, so not shown here
        for name in names.get(key, ()):
            if environ.get(name):
                # The effective (masked) value, never the raw variable: it may hold a secret.
                lines.append(f"# {name}={value}")
    return lines


def listing_text(ctx: ServerContext, tx: Any, key: str) -> str:
    """MinIO's get-config-kv text for ``key`` (``notify_redis:1``, ``notify_redis``, or
    empty for every target): per target, ``# VAR=value`` lines for the settings this
    node's environment sets, then ``subsystem[:id] key=value ...`` — secrets left out,
    passwords inside connection strings masked."""
    schema = _schema(ctx)
    subsystem, target_id = parse_target(schema, key) if key.strip() else (None, None)
    configs = ctx.notify.load(tx) if ctx.notify.load is not None else {}
    chosen = sorted(
        (k, cfg)
        for k, cfg in configs.items()
        if (subsystem is None or k[0] == subsystem) and (target_id is None or k[1] == target_id)
    )
    if target_id is not None and not chosen:
        raise TargetNotFound(f"there is no target `{target_id}` for subsystem `{subsystem}`")
    out = []
    for (sub, tid), cfg in chosen:
        out.extend(_env_lines(schema, cfg, sub, tid, ctx.notify.environ))
        head = sub if tid == DEFAULT_ID else f"{sub}:{tid}"
        pairs = [f"{k}={_quote(v)}" for k, v in schema.listing_kvs(cfg) if not (k == "enable" and v == "on")]
        out.append(" ".join([head, *pairs]) + " ")
    return "".join(line + "\n" for line in out)

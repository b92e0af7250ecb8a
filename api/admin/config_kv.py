"""Admin API: the notification targets' configuration (set, get, delete, help), in MinIO's
key=value syntax."""

from __future__ import annotations

from typing import TYPE_CHECKING

from api.admin.madmin_crypto import encrypt_async
from api.notify import config as notify_config
from api.response import Response

if TYPE_CHECKING:
    pass
from api.admin.call import JSON_TYPE, AdminCall, dumps
from api.admin.errors import AdminError, bad_json


def _config_error(err: Exception, *, deleting: bool = False) -> AdminError:
    if isinstance(err, notify_config.ConfigInvalid):
        return AdminError("XMinioAdminConfigBadJSON", str(err), 400)
    if isinstance(err, notify_config.TargetNotFound):
        if deleting:
            return AdminError("XMinioConfigNotFoundError", str(err), 404)
        return AdminError("XMinioConfigError", str(err), 400)
    return AdminError("XMinioConfigError", str(err), 400)


_CONFIG_ERRORS = (notify_config.ConfigSyntaxError, notify_config.ConfigInvalid, notify_config.TargetNotFound)


async def _config_text(call: AdminCall) -> str:
    try:
        return (await call.decrypted_body()).decode("utf-8")
    except UnicodeDecodeError:
        raise bad_json("the configuration must be UTF-8 text") from None


async def set_config_kv(call: AdminCall) -> Response:
    await call.authorize()
    text = await _config_text(call)
    try:
        await notify_config.set_target(call.ctx, call.actor(), text)
    except _CONFIG_ERRORS as err:
        raise _config_error(err) from None
    # Applied at once on every node (MinIO answers this header for dynamic sub-systems).
    return Response(200, {"content-type": JSON_TYPE, "x-minio-config-applied": "true"}, b"")


async def get_config_kv(call: AdminCall) -> Response:
    await call.authorize()  # as MinIO: reading the config is a config right
    key = call.q("key")
    try:
        text = await call.read(lambda tx: notify_config.listing_text(call.ctx, tx, key))
    except _CONFIG_ERRORS as err:
        raise _config_error(err) from None
    data = await encrypt_async(await call.secret(), text.encode())
    return Response(200, {"content-type": JSON_TYPE}, data)


async def del_config_kv(call: AdminCall) -> Response:
    await call.authorize()
    text = await _config_text(call)
    try:
        await notify_config.remove_target(call.ctx, call.actor(), text)
    except _CONFIG_ERRORS as err:
        raise _config_error(err, deleting=True) from None
    return Response(200, {"content-type": JSON_TYPE, "x-minio-config-applied": "true"}, b"")


async def help_config_kv(call: AdminCall) -> Response:
    """madmin Help (plain JSON, as MinIO answers it): what ``mc admin config set ALIAS
    notify_redis`` prints when given no keys."""
    await call.authorize()
    schema = call.ctx.notify.schema  # the workers.targets package, handed in by the composition root
    if schema is None:
        raise AdminError("XMinioConfigError", "this server has no notification target settings", 400)
    subsystem = call.q("subSys")
    try:
        doc = schema.subsystem_help(subsystem, call.q("key")) if subsystem else schema.all_help()
    except ValueError as err:  # ConfigError: unknown sub-system or key
        raise AdminError("XMinioConfigError", str(err), 400) from None
    return Response(200, {"content-type": JSON_TYPE}, dumps(doc))

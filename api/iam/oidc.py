"""IAM query API: OpenID Connect providers (Create/Get/List/Delete, client ids, thumbprints).

Chronicle keeps them as IAM entities that trust policies may name (Principal
{"Federated": "arn:aws:iam::<account>:oidc-provider/<host/path>"}); it does not offer
AssumeRoleWithWebIdentity, so a provider grants nothing by itself.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from api.errors import S3Error
from api.iam import query_service
from api.iam.call import Call, leaf_xml, members
from api.iam.protocol import iso8601, validation_error
from domain.ownership import ACCOUNT
from projections.iam import queries as iam_queries

if TYPE_CHECKING:
    from api.response import Response

_URL = re.compile(r"https?://([!-~]{1,255})")
_ARN = re.compile(rf"arn:aws:iam::(?:{ACCOUNT})?:oidc-provider/([!-~]{{1,255}})")
_THUMBPRINT = re.compile(r"[0-9A-Za-z]{40}")
MAX_CLIENT_IDS = 100
MAX_THUMBPRINTS = 5


def provider_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:oidc-provider/{name}"


def _list(call: Call, name: str) -> list[str]:
    """A list parameter (Name.member.1, Name.member.2, ...), in order."""
    items = []
    n = 1
    while (value := call.params.get(f"{name}.member.{n}")) is not None:
        items.append(value)
        n += 1
    return items


def _thumbprints(call: Call) -> list[str]:
    thumbprints = _list(call, "ThumbprintList")
    if not 1 <= len(thumbprints) <= MAX_THUMBPRINTS or not all(_THUMBPRINT.fullmatch(t) for t in thumbprints):
        raise validation_error(
            f"ThumbprintList must hold 1 to {MAX_THUMBPRINTS} thumbprints of 40 hexadecimal characters."
        )
    return thumbprints


async def _provider(call: Call) -> str:
    """The provider OpenIDConnectProviderArn names, authorized on that ARN."""
    text = call.need("OpenIDConnectProviderArn")
    await call.authorize(text)
    match = _ARN.fullmatch(text)
    if match is None or await call.ctx.read(iam_queries.oidc_provider, match.group(1)) is None:
        raise S3Error("NoSuchEntity", f"OpenIDConnect Provider not found for arn {text}", status=404)
    return match.group(1)


async def create_provider(call: Call) -> Response:
    url = call.need("Url")
    match = _URL.fullmatch(url)
    if match is None:
        raise validation_error("The Url must begin with https:// (or http://).")
    name = match.group(1).rstrip("/")
    client_ids = list(dict.fromkeys(_list(call, "ClientIDList")))
    if len(client_ids) > MAX_CLIENT_IDS or any(not 1 <= len(c) <= 255 for c in client_ids):
        raise validation_error(f"ClientIDList must hold at most {MAX_CLIENT_IDS} client ids of 1 to 255 characters.")
    thumbprints = _thumbprints(call)
    await call.authorize(provider_arn(name))
    await query_service.create_oidc_provider(call.ctx, call.actor(), name, url, client_ids, thumbprints)
    return call.respond(leaf_xml("OpenIDConnectProviderArn", provider_arn(name)))


async def get_provider(call: Call) -> Response:
    name = await _provider(call)
    row = await call.ctx.read(iam_queries.oidc_provider, name)
    return call.respond(
        leaf_xml("Url", row["url"])
        + members("ClientIDList", row["client_ids"])
        + members("ThumbprintList", row["thumbprints"])
        + leaf_xml("CreateDate", iso8601(row["created_us"] / 1_000_000))
    )


async def list_providers(call: Call) -> Response:
    await call.authorize(provider_arn("*"))
    names = await call.ctx.read(iam_queries.oidc_providers)
    items = "".join(f"<member>{leaf_xml('Arn', provider_arn(n))}</member>" for n in names)
    return call.respond(f"<OpenIDConnectProviderList>{items}</OpenIDConnectProviderList>")


async def delete_provider(call: Call) -> Response:
    await query_service.delete_oidc_provider(call.ctx, call.actor(), await _provider(call))
    return call.respond()


async def add_client_id(call: Call) -> Response:
    name = await _provider(call)
    client = call.need("ClientID")
    await query_service.update_oidc_provider(call.ctx, call.actor(), name, add_client=client)
    return call.respond()


async def remove_client_id(call: Call) -> Response:
    name = await _provider(call)
    client = call.need("ClientID")
    await query_service.update_oidc_provider(call.ctx, call.actor(), name, remove_client=client)
    return call.respond()


async def update_thumbprints(call: Call) -> Response:
    name = await _provider(call)
    await query_service.update_oidc_provider(call.ctx, call.actor(), name, thumbprints=_thumbprints(call))
    return call.respond()

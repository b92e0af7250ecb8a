"""Managed policies attached to users, groups and roles through the IAM query API
(Attach/Detach/ListAttached{User,Group,Role}Policies).

A policy is named by its ARN: AWS's managed policies (arn:aws:iam::aws:policy/<name>, the
few api.policy.canned knows) or this account's (arn:aws:iam::<account>:policy/<name>: a
policy added with `chronicle admin policy add` / MinIO's add-canned-policy, or a MinIO canned
policy such as readwrite). Attachments are the same lists MinIO's policy attach edits: a
user's AWS managed policies are kept by ARN, the account's by name.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from api.errors import S3Error
from api.iam import query_service
from api.iam.call import Call, leaf_xml
from domain.ownership import ACCOUNT
from domain.policy.canned import AWS_MANAGED_POLICIES, AWS_MANAGED_PREFIX, CANNED_POLICIES
from projections.iam import queries as iam_queries

if TYPE_CHECKING:
    from api.response import Response

_ACCOUNT_POLICY = re.compile(rf"arn:aws:iam::(?:{ACCOUNT})?:policy/(?:[!-.0-~]+/)*([\w+=,.@-]{{1,128}})")


def policy_arn(name: str) -> str:
    return name if name.startswith("arn:") else f"arn:aws:iam::{ACCOUNT}:policy/{name}"


def _policy_name(arn_text: str) -> str:
    return arn_text.rsplit("/", 1)[-1]


async def _attachable(call: Call) -> str:
    """The PolicyArn parameter as the name an attachment list keeps; NoSuchEntity when no such
    policy exists."""
    text = call.need("PolicyArn")
    if text.startswith(AWS_MANAGED_PREFIX):
        if text[len(AWS_MANAGED_PREFIX) :] in AWS_MANAGED_POLICIES:
            return text
    else:
        match = _ACCOUNT_POLICY.fullmatch(text)
        if match is not None:
            name = match.group(1)
            if name in CANNED_POLICIES or await call.ctx.read(iam_queries.managed_policy, name) is not None:
                return name
    raise S3Error("NoSuchEntity", f"Policy {text} does not exist or is not attachable.", status=404)


async def _target(call: Call, kind: str) -> tuple[str, list[str]]:
    """The user / group / role the call names (authorized on its ARN) and its attachments."""
    name, row = await call.entity(kind)
    return name, list(row["policies"])


def attach_handler(kind: str, *, detach: bool):  # type: ignore[no-untyped-def]
    async def handler(call: Call) -> Response:
        name, attached = await _target(call, kind)
        if detach:
            policy = call.need("PolicyArn")
            stored = policy if policy.startswith(AWS_MANAGED_PREFIX) else _policy_name(policy)
            if stored not in attached:
                raise S3Error("NoSuchEntity", f"Policy {policy} was not found.", status=404)
        else:
            stored = await _attachable(call)
        await query_service.attach_managed(call.ctx, call.actor(), kind, name, stored, detach=detach)
        return call.respond()

    return handler


def list_handler(kind: str):  # type: ignore[no-untyped-def]
    async def handler(call: Call) -> Response:
        _name, attached = await _target(call, kind)
        rows = [{"name": _policy_name(policy_arn(p)), "arn": policy_arn(p)} for p in attached]
        prefix = call.get("PathPrefix")
        if prefix is not None:
            rows = [r for r in rows if r["arn"].split(":policy", 1)[1].startswith(prefix)]
        page, tail = call.page(rows, lambda r: r["arn"])
        items = "".join(
            "<member>" + leaf_xml("PolicyName", r["name"]) + leaf_xml("PolicyArn", r["arn"]) + "</member>" for r in page
        )
        return call.respond(f"<AttachedPolicies>{items}</AttachedPolicies>{tail}")

    return handler

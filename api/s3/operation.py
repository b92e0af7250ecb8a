"""The shape of one row of the operation tables (api.s3.operations for S3,
api.iam.operations for the STS and IAM query APIs): what the router dispatches on and what
authorization asks the policies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.request import S3Request

ANY = "*"  # a level or subresource that matches any (the CORS preflight answers every OPTIONS)
Predicate = Callable[["S3Request"], bool]


@dataclass(frozen=True)
class Operation:
    """One S3 operation, named as AWS names it.

    method, level ("service", "bucket", "object") and subresource ("" for none) address it;
    `when` tells apart operations sharing those (CopyObject from PutObject by its
    x-amz-copy-source header, ListObjectsV2 by list-type=2, ...). `action` is the IAM action
    authorization asks for, `version_action` the one asked instead when the request names a
    ?versionId. `metric`: MinIO's API name, the label of the request metrics (by default the
    name lower-cased; "" for calls MinIO does not count as S3 requests).
    `authenticates_itself`: the handler authenticates the request (POST Object by its form's
    signature, the query APIs by their own service's signature), so the router does not."""

    name: str
    method: str
    level: str
    subresource: str
    handler: Callable[..., Awaitable[Any]]
    action: str
    metric: str | None = None
    when: Predicate | None = None
    version_action: str | None = None
    authenticates_itself: bool = False

    def __post_init__(self) -> None:
        if self.metric is None:
            object.__setattr__(self, "metric", self.name.lower())

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.method, self.level, self.subresource)

    def iam_action(self, req: S3Request) -> str:
        if self.version_action is not None and "versionId" in req.query:
            return self.version_action
        return self.action


class OperationTable:
    """Rows grouped by (method, level, subresource); within a group the rows with a `when`
    predicate are tried first, in table order, then the one without."""

    def __init__(self, rows: tuple[Operation, ...]) -> None:
        self.rows = rows
        groups: dict[tuple[str, str, str], list[Operation]] = {}
        for row in rows:
            groups.setdefault(row.key, []).append(row)
        self.groups: dict[tuple[str, str, str], tuple[Operation, ...]] = {
            key: tuple(sorted(group, key=lambda r: r.when is None)) for key, group in groups.items()
        }
        # Keys with one row and no predicate (nearly every request): a single dict lookup.
        self._plain = {key: group[0] for key, group in self.groups.items() if len(group) == 1 and group[0].when is None}

    def find(self, req: S3Request, method: str, level: str, sub: str) -> Operation | None:
        plain = self._plain.get((method, level, sub))
        if plain is not None:
            return plain
        group = self.groups.get((method, level, sub)) or self.groups.get((method, ANY, ANY))
        if group is None:
            return None
        for row in group:
            if row.when is None or row.when(req):
                return row
        return None

    def group_action(self, method: str, level: str, sub: str) -> str:
        """The action of a request addressed like a group's rows but matching none of them
        (a POST to a bucket that is not a form): all rows of a group share it."""
        group = self.groups.get((method, level, sub))
        return (group[0].action if group else "") or "s3:*"

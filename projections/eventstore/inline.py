"""The projections applied inline, in the append transaction (DESIGN invariant 2): the
namespace, IAM and the notification target configuration."""

from __future__ import annotations

from typing import Any

from projections.eventstore.sql import Dialect
from projections.eventstore.tx import Tx
from projections.iam.projection import IamProjection
from projections.iam.schema import IAM_TABLES, iam_api_ddl, iam_ddl
from projections.namespace.projection import NamespaceProjection
from projections.namespace.schema import PROJECTION_TABLES as NAMESPACE_TABLES
from projections.namespace.schema import namespace_ddl
from projections.notifications.targets import NotifyTargetsProjection
from projections.notifications.targets_schema import NOTIFY_TARGET_TABLES, notify_targets_ddl

INLINE_TABLES = NAMESPACE_TABLES + IAM_TABLES + NOTIFY_TARGET_TABLES


class InlineProjections:
    def __init__(self) -> None:
        self.parts = (NamespaceProjection(), IamProjection(), NotifyTargetsProjection())

    def apply(self, tx: Tx, position: int, event: Any) -> Any:
        result = None
        for part in self.parts:
            r = part.apply(tx, position, event)
            if r is not None:
                result = r
        return result


def inline_ddl(d: Dialect) -> list[str]:
    return namespace_ddl(d) + iam_ddl(d) + iam_api_ddl(d) + notify_targets_ddl(d)

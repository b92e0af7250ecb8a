"""The first event of a new aggregate, recorded without materialising the aggregate.

A request that creates an aggregate only appends its first event (the projection, not the
aggregate, answers later reads). Building it through eventsourcing's machinery
(MetaAggregate.__call__: argument coercion, the event, then mutate() into an aggregate)
costs several times more than the event alone. The event here is the one `cls(**fields)`
records: same class, same fields (defaults of __init__ filled in), same topic, a fresh id
from `cls.create_id` and the same timestamp source."""

from __future__ import annotations

import inspect
from functools import cache
from typing import Any

from eventsourcing.utils import get_topic


@cache
def _plan(cls: type) -> tuple[str, dict[str, Any]]:
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]  # type: ignore[misc]
    defaults = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
    return get_topic(cls), defaults


def created_event(cls: Any, **fields: Any) -> Any:
    topic, defaults = _plan(cls)
    for name, value in defaults.items():
        fields.setdefault(name, value)
    event_class = cls.Created
    return event_class(
        originator_topic=topic,
        originator_id=cls.create_id(**fields),
        originator_version=cls.INITIAL_VERSION,
        timestamp=event_class.create_timestamp(),
        **fields,
    )

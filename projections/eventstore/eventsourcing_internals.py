"""Every use Chronicle makes of eventsourcing's private API, in one place, each with its reason.

eventsourcing (pinned to one version in pyproject.toml) appends events inside its own
transactions; Chronicle appends events and applies the namespace projection in one
transaction of its own (DESIGN invariant 2), batching many requests' changes. To stay
compatible with eventsourcing's readers (notification log, LISTEN followers) it must do in
that transaction what eventsourcing's recorder does in its: take the same table lock and send
the same notification. tests/unit/test_eventsourcing_internals.py pins the behaviour relied on
here; when an upgrade of eventsourcing breaks it, this module is the one to change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import JSONTranscoder
from eventsourcing.postgres import PostgresApplicationRecorder

# The lock mode of eventsourcing's LOCK TABLE statement (and of the one-statement append
# function, projections.eventstore.fast_append, which takes the same lock in SQL).
EVENTS_TABLE_LOCK_MODE = "EXCLUSIVE"


def lock_events_table(recorder: PostgresApplicationRecorder, cursor: Any) -> None:
    """The recorder's table lock (SET LOCAL lock_timeout, then LOCK TABLE ... IN EXCLUSIVE
    MODE): appends are serialised across nodes, so notification ids become visible in commit
    order, and preconditions checked after it are atomic with the append. Private because
    eventsourcing only calls it from its own insert_events."""
    recorder._lock_table(cursor)


def notify_events_channel(recorder: PostgresApplicationRecorder, cursor: Any) -> None:
    """NOTIFY on the recorder's channel (its events table name), as eventsourcing's
    insert_events does on commit: followers LISTENing there wake at once."""
    recorder._notify_channel(cursor)


def select_events_once(recorder: PostgresApplicationRecorder, *args: Any, **kwargs: Any) -> Any:
    """select_events without eventsourcing's retry decorator (ten attempts, each waiting the
    pool's timeout while the server is out of reach): the undecorated function, reached
    through the __wrapped__ that functools.wraps leaves."""
    return PostgresApplicationRecorder.select_events.__wrapped__(recorder, *args, **kwargs)  # type: ignore[attr-defined]


def transcoder_default(transcoder: JSONTranscoder) -> Callable[[Any], Any]:
    """The hook JSONTranscoder gives json.dumps for its registered types (UUID, Decimal, ...):
    handed to orjson, which encodes an event state several times faster, so that both write
    the same document (see projections.eventstore.fast_append.event_row)."""
    return transcoder._encode_obj


def transcoder_names(transcoder: JSONTranscoder) -> dict[str, Any]:
    """The transcoder's registered types by the name its documents carry ({"_type_": name,
    "_data_": ...}): what its JSON object hook turns back into values. Read by a decoder that
    parses with orjson and restores those values itself (projections.rebuild_fast)."""
    return transcoder.names

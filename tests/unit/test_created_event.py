"""domain.created: the first event of a new ObjectVersion, made without the aggregate, is
the event the aggregate would record (what replay and every projection read)."""

from __future__ import annotations

from domain.aggregates import ObjectVersion
from domain.created import created_event

FIELDS = dict(
    bucket="b", key="k/é", size=3, etag="e", content_type="text/plain", headers={"cache-control": "no"},
    metadata={"m": "1"}, blob={"segments": []}, checksum={}, tags={"t": "v"}, parts=[], operation="Put",
    actor={"access_key": "root"},
)  # fmt: skip


def _fields(event) -> dict:
    out = dict(event.__dict__)
    for varying in ("originator_id", "timestamp"):
        out.pop(varying)
    return out


def test_same_event_as_the_aggregate_records_with_defaults_filled():
    (expected,) = ObjectVersion(**FIELDS).collect_events()
    made = created_event(ObjectVersion, **FIELDS)
    assert type(made) is type(expected)
    assert _fields(made) == _fields(expected)
    assert made.acl is None and made.originator_version == 1
    assert made.timestamp.tzinfo is not None


def test_replaying_it_gives_the_aggregate_and_ids_differ():
    made = created_event(ObjectVersion, **FIELDS, acl={"grants": []})
    aggregate = made.mutate(None)
    assert (aggregate.id, aggregate.version, aggregate.key, aggregate.acl) == (
        made.originator_id,
        1,
        "k/é",
        {"grants": []},
    )
    assert len({created_event(ObjectVersion, **FIELDS).originator_id for _ in range(1000)}) == 1000


def test_made_without_the_dataclass_init_it_equals_one_made_with_it():
    made = created_event(ObjectVersion, **FIELDS)
    rebuilt = type(made)(**vars(made))  # through the dataclass __init__ (and its id check)
    assert rebuilt == made and list(vars(rebuilt)) == list(vars(made))


def test_unknown_fields_are_still_refused():
    import pytest

    with pytest.raises(TypeError):
        created_event(ObjectVersion, **FIELDS, bogus=1)

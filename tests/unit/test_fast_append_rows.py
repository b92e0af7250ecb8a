"""projections.eventstore.fast_append.event_row: a plain PUT's event stored with orjson is the same
bytes eventsourcing's mapper stores (json module), and decodes to the same event."""

from __future__ import annotations

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    Transcoder,
    UUIDAsHex,
)

from domain.aggregates import ObjectVersion
from domain.created import created_event
from projections.eventstore.fast_append import event_row


def _mapper() -> Mapper:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder)


EVENTS = [
    dict(
        bucket="b", key="k/é \u2028\"q\\", size=3, etag="e", content_type="text/plain",
        headers={"cache-control": "no", "x": "\x01"}, metadata={"m": "ü", "emoji": "\U0001f600"},
        blob={"segments": [{"id": "ab", "offset": 0, "size": 3, "db": True}]},
        checksum={"CRC32": "AAAA", "type": "FULL_OBJECT"},
        tags={"t": "v"}, parts=[], operation="Put", actor={"access_key": "root", "source_ip": "127.0.0.1"},
        acl={"owner": "root", "grants": [{"grantee": {"type": "Group", "uri": "x"}, "permission": "READ"}]},
    ),
    dict(
        bucket="b", key="big", size=2**40, etag="e", content_type="", headers={}, metadata={}, blob={"segments": []},
        checksum={}, tags={}, parts=[], operation="Post", actor={}, acl=None,
    ),
]  # fmt: skip


def test_same_bytes_and_same_event_as_the_mapper():
    mapper = _mapper()
    for fields in EVENTS:
        event = created_event(ObjectVersion, **fields)
        stored = mapper.to_stored_event(event)
        row = event_row(mapper, event)
        assert row == (stored.originator_id.hex, stored.originator_version, stored.topic, stored.state)
        back = mapper.to_domain_event(StoredEvent(event.originator_id, 1, row[2], row[3]))
        assert back == event


def test_what_orjson_cannot_encode_takes_the_mappers_path():
    mapper = _mapper()
    event = created_event(ObjectVersion, **dict(EVENTS[1], metadata={1: "int key"}, size=2**70))
    stored = mapper.to_stored_event(event)
    assert event_row(mapper, event)[3] == stored.state


def test_a_mapper_with_another_transcoder_is_used_as_it_is():
    class Plain(Transcoder):
        def encode(self, obj):  # noqa: ANN001, ANN201
            return b"plain"

        def decode(self, data):  # noqa: ANN001, ANN201
            raise NotImplementedError

    event = created_event(ObjectVersion, **EVENTS[1])
    assert event_row(Mapper(transcoder=Plain()), event)[3] == b"plain"

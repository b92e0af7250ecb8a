"""projections.rebuild_fast decodes a stored event's JSON as eventsourcing's transcoder does,
or declines (None) and leaves it to the transcoder: never a different value."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex

from projections.eventstore.eventsourcing_internals import transcoder_names
from projections.rebuild_fast import decode_state


def _transcoder() -> JSONTranscoder:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder


def test_decoded_as_the_transcoder_decodes_or_declined():
    transcoder = _transcoder()
    names = transcoder_names(transcoder)
    when = datetime(2026, 12, 8, 1, 2, 3, 456789, tzinfo=UTC)
    states = [
        {"timestamp": when, "bucket": "b", "key": "k", "size": 1, "metadata": {}, "acl": None, "n": 1.5},
        {"timestamp": when, "id": uuid.uuid4(), "price": Decimal("1.50"), "parts": [], "é": "ü"},
        {"bucket": "b", "tags": {"a": "b"}},
        # Typed values below the top level, and user data with a "_type_" key: declined.
        {"timestamp": when, "actor": {"when": when}},
        {"timestamp": when, "metadata": {"_type_": "datetime_iso", "other": "x"}},
        {"timestamp": when, "metadata": {"_type_": "x"}},
    ]
    decided = []
    for state in states:
        document = transcoder.encode(state)
        decoded = decode_state(document, names)
        decided.append(decoded is not None)
        if decoded is not None:
            assert decoded == transcoder.decode(document)
            assert [type(v) for v in decoded.values()] == [type(v) for v in transcoder.decode(document).values()]
    assert decided == [True, True, True, False, False, False]
    assert decode_state(b"[1, 2]", names) is None
    assert decode_state(b'{"n": NaN}', names) is None

"""The x-chronicle-as-of header: a log position or an ISO 8601 time (UTC unless it names a zone);
anything else is InvalidArgument, never a guess."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.errors import S3Error
from api.s3.as_of import AsOf, parse_as_of

NINE = int(datetime(2026, 11, 20, 9, 0, tzinfo=UTC).timestamp() * 1_000_000)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("123456", AsOf(position=123456)),
        ("2026-11-20T09:00:00Z", AsOf(time_us=NINE)),
        ("2026-11-20T09:00:00", AsOf(time_us=NINE)),
        ("2026-11-20T10:00:00+01:00", AsOf(time_us=NINE)),
        ("2026-11-20T09:00:00.000250Z", AsOf(time_us=NINE + 250)),
    ],
)
def test_positions_and_times(text: str, expected: AsOf) -> None:
    assert parse_as_of(text) == expected


@pytest.mark.parametrize("text", ["yesterday", "-5", "", "2026-13-01T00:00:00Z", "12.5"])
def test_anything_else_is_invalid_argument(text: str) -> None:
    with pytest.raises(S3Error) as info:
        parse_as_of(text)
    assert info.value.code == "InvalidArgument"

"""A bucket's history retention as users write it: durations to whole seconds and back, and
what is refused (with words that say what to write)."""

from __future__ import annotations

import pytest

from domain.errors import DomainError
from domain.history_retention import MAX_SECONDS, format_retention, parse_retention


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0), ("45s", 45), ("90m", 5400), ("12h", 43200), ("30d", 2592000), ("2w", 1209600), (" 7D ", 604800),
     ("3600", 3600), (86400, 86400), ("36500d", MAX_SECONDS)],
)  # fmt: skip
def test_durations_are_whole_seconds(text, seconds):
    assert parse_retention(text) == seconds


@pytest.mark.parametrize("text", ["", "-1d", "1.5d", "7 days", "30x", "d", "36501d", -1, 1.5, True, None, [30]])
def test_anything_else_is_refused_saying_what_to_write(text):
    with pytest.raises(DomainError) as info:
        parse_retention(text)
    assert info.value.code == "InvalidArgument"
    assert "30d" in (info.value.message or "") or "36500d" in (info.value.message or "")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0"), (45, "45s"), (5400, "90m"), (43200, "12h"), (2592000, "30d"), (604800.0, "7d"), (0.5, "0.5s"),
     (90061, "90061s")],
)  # fmt: skip
def test_windows_are_shown_in_the_largest_exact_unit(seconds, text):
    assert format_retention(seconds) == text
    if seconds == int(seconds):
        assert parse_retention(text) == seconds

"""Last-Modified and the 304 headers: the hand-rolled IMF-fixdate must read exactly as the
standard library writes it (clients parse it back for If-Modified-Since)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

from api.s3.handlers.common import http_date


def test_http_date_matches_the_standard_library_across_four_centuries():
    rng = random.Random(7)
    seconds = [0, 951_782_400, 4_107_542_399, *(rng.randrange(0, 13_000_000_000) for _ in range(20_000))]
    for s in seconds:
        us = s * 1_000_000 + rng.randrange(1_000_000)
        assert http_date(us) == format_datetime(datetime.fromtimestamp(s, UTC), usegmt=True)


def test_http_date_reads_as_rfc_7231_shows_it():
    assert http_date(784_111_777_000_000) == "Sun, 06 Nov 1994 08:49:37 GMT"

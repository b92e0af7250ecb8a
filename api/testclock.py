"""A clock for tests: wall time plus an offset (seconds, a float) read from a file on every
call, so a test can move a running server's clock forward (STS expiry) without waiting.
Selected only by the CHRONICLE_TEST_CLOCK_FILE setting (off by default; the server warns at
start when it is on); never used otherwise."""

from __future__ import annotations

import time
from pathlib import Path


class FileOffsetClock:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __call__(self) -> float:
        try:
            offset = float(self.path.read_text().strip() or 0)
        except (OSError, ValueError):
            offset = 0.0
        return time.time() + offset

"""Metric cells shared by the worker processes of one server.

`serve --workers N` forks N processes that accept on one port, so a scrape reaches
whichever worker accepts it. Counters kept in each process's own memory would then jump
between scrapes (Prometheus would read every drop as a counter reset). Instead each
worker adds to its own row of float64 cells in anonymous shared memory, made before the
fork, and a scrape sums the rows: every worker answers with the server's totals.

One writer per row and cell group: request cells are written from the worker's event
loop only; cells written from several threads take their own lock (see store_metrics).
Integers stay exact in a float64 up to 2**53.
"""

from __future__ import annotations

import mmap
import os

_CELL = 8  # one float64


class Slab:
    def __init__(self) -> None:
        self.size = 1  # cells per row; cell 0 holds the worker's pid
        self.workers = 1
        self.index = 0
        self._view: memoryview | None = None
        self._row: memoryview | None = None

    def reserve(self, cells: int) -> int:
        """Offset of `cells` new cells in every row. Only before the cells exist (modules
        reserve theirs when imported)."""
        if self._view is not None:
            raise RuntimeError("metric cells must be reserved before the first one is used")
        offset = self.size
        self.size += cells
        return offset

    def share(self, workers: int) -> None:
        """Before forking `workers` processes: one row for each."""
        if self._view is not None:
            raise RuntimeError("metric cells are already in use: share them before the first use")
        self.workers = max(1, workers)
        self._allocate()

    def use_row(self, index: int) -> None:
        """In a forked worker, before its first use of row(): the worker's number."""
        self.index = index
        self._row = None

    def row(self) -> memoryview:
        """This worker's cells (float64)."""
        if self._row is None:
            view = self._view if self._view is not None else self._allocate()
            start = self.index * self.size
            self._row = view[start : start + self.size]
            self._row[0] = os.getpid()
        return self._row

    def totals(self, offset: int, count: int) -> list[float]:
        """The sum over all workers of cells [offset, offset + count)."""
        view = self._view if self._view is not None else self._allocate()
        rows = [view[w * self.size + offset : w * self.size + offset + count].tolist() for w in range(self.workers)]
        return rows[0] if len(rows) == 1 else [sum(cells) for cells in zip(*rows, strict=True)]

    def pids(self) -> list[int]:
        """The pid of each worker that has used its row (0 for one that has not yet)."""
        view = self._view if self._view is not None else self._allocate()
        return [int(view[w * self.size]) for w in range(self.workers)]

    def _allocate(self) -> memoryview:
        memory = mmap.mmap(-1, _CELL * self.size * self.workers)  # MAP_SHARED: survives fork
        self._view = memoryview(memory).cast("d")
        return self._view


SLAB = Slab()

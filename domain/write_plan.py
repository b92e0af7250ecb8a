"""A write plan: one request's unit of work, as the event store appends it.

It carries the events to record, its preconditions as data (domain.preconditions), the
blob bytes stored with it and when its oldest blob file was written. New aggregates are
built by the caller (WritePlan.new); changes of existing aggregates are made by `load`,
which the committer runs under its batch, again after a version conflict with a
concurrent writer. Nothing here tells the store how to append: it decides by itself from
the plan's content whether a batch may take a fast path (projections.eventstore.fast_path).

The store fills in the outcome: each event's log position and its projection result
(for an ObjectVersion, the version id the namespace gave it), or the error that refused
the plan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.domain import Aggregate

from domain.preconditions import Precondition


@dataclass(eq=False)
class WritePlan:
    events: list[Any] = field(default_factory=list)
    preconditions: tuple[Precondition, ...] = ()
    blobs: list[tuple[str, bytes]] = field(default_factory=list)
    # When the oldest blob file this plan writes was written: past a deadline the plan is
    # refused, because garbage collection may then reclaim the file (workers.blob_gc).
    files_written_at: float | None = None
    # Loads existing aggregates and changes them (I/O: run by the committer, once per attempt).
    load: Callable[[], Sequence[Aggregate]] | None = None
    # The outcome, filled in by the store.
    positions: list[int] = field(default_factory=list)
    results: list[Any] = field(default_factory=list)
    error: BaseException | None = None
    conflict: bool = False

    @classmethod
    def new(cls, *aggregates: Aggregate, **kwargs: Any) -> WritePlan:
        """A plan recording new aggregates' events."""
        return cls(events=[e for a in aggregates for e in a.collect_events()], **kwargs)

    @classmethod
    def changing(cls, load: Callable[[], Sequence[Aggregate]], **kwargs: Any) -> WritePlan:
        """A plan recording what `load` does to aggregates it loads (afresh on every attempt)."""
        return cls(load=load, **kwargs)

    def prepare(self) -> None:
        """Run `load` (if any) for this attempt: its events become the plan's events."""
        if self.load is not None:
            self.events = [e for a in self.load() for e in a.collect_events()]

    def reset(self) -> None:
        self.positions.clear()
        self.results.clear()
        self.error = None
        self.conflict = False

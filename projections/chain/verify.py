"""Checks the log against its chain and its signed checkpoints (`chronicle verify --chain`).

Reads the events and the links in pages, in position order, from one snapshot, recomputes
every link and names each event whose stored form no longer matches: altered (or moved to
another position), deleted (a link without its event), inserted (an event, older than the
last link, that was never linked). A forger who also rewrote the links from an edited event on
(without the signing key) is caught by the signed checkpoints: the chain no longer reaches
the head a checkpoint signed, which places the rewrite between that checkpoint and the one
before it. What cannot be proven from inside the database: events after the last checkpoint
published outside it, and anything once the checkpoint table itself is deleted or re-signed
with a key the forger holds — published checkpoints and a public key kept elsewhere close
that gap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from domain.chain import GENESIS, Checkpoint, StoredEvent, link
from projections.chain import store as chain
from projections.chain.keys import signature_valid
from projections.chain.linker import ChainLinker
from projections.eventstore.tx import Tx

PAGE = 5000


@dataclass(frozen=True)
class Finding:
    position: int
    kind: str  # altered | deleted | inserted | rewritten | bad-signature | unknown-key | checkpoint-missing | ...
    detail: str

    def __str__(self) -> str:
        return f"position {self.position}: {self.kind}: {self.detail}"


@dataclass
class ChainReport:
    checked: int = 0  # events whose link was recomputed
    first_position: int = 0
    last_linked: int = 0
    head: int = 0
    unlinked: int = 0  # events after the last link (not yet linked)
    checkpoints: int = 0  # signed checkpoints checked
    published: int = 0  # published checkpoints checked
    last_checkpoint: Checkpoint | None = None
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first(self) -> Finding | None:
        return min(self.findings, key=lambda f: f.position) if self.findings else None


def verify_chain(
    store: Any,
    tx: Tx,
    *,
    from_position: int = 0,
    published: Iterable[Checkpoint] = (),
    public_keys: dict[str, bytes] | None = None,
    progress: Callable[[int, int], None] | None = None,
    page: int = PAGE,
) -> ChainReport:
    """Check the chain from `from_position` on. `public_keys` (key id -> raw Ed25519 public
    key) are the keys checkpoints must be signed with; by default the keys stored in the
    database (a forger who replaced those is caught only with keys kept elsewhere)."""
    report = ChainReport(head=chain.head_position(store, tx))
    stored_keys = chain.public_keys(tx)
    keys = public_keys if public_keys is not None else stored_keys
    if public_keys is None:
        report.notes.append("checkpoints checked against the public key stored in the database")
    published = sorted(published, key=lambda c: c.position)
    signed = [cp for cp in chain.checkpoints(tx) if cp.position >= from_position]
    report.last_checkpoint = signed[-1] if signed else None
    watch = {cp.position for cp in signed} | {cp.position for cp in published}
    last = chain.last_link(tx)
    report.last_linked = last[0] if last is not None else 0
    before = chain.link_before(tx, from_position) if from_position > 0 else None
    previous = before[1] if before is not None else GENESIS
    stored_at: dict[int, bytes] = {}
    # From the very start, a forged row placed before the first event is walked too.
    walk = _Walk(store, tx, from_position - 1 if from_position > 0 else -(2**62), page)
    for position, event, stored in walk:
        if report.first_position == 0:
            report.first_position = position
        if stored is None:
            assert event is not None
            if position <= report.last_linked:
                report.findings.append(Finding(position, "inserted", "an event the chain never linked (forged)"))
            else:
                report.unlinked += 1
            continue
        if position in watch:
            stored_at[position] = stored
        if event is None:
            report.findings.append(Finding(position, "deleted", "the chain linked an event that is gone"))
            previous = stored
            continue
        report.checked += 1
        computed = link(previous, event)
        if computed != stored:
            report.findings.append(
                Finding(
                    position,
                    "altered",
                    f"its stored form ({event.topic}, version {event.originator_version} of "
                    f"{event.originator_id}) no longer matches the link made at its append",
                )
            )
        previous = stored
        if progress is not None and report.checked % page == 0:
            progress(position, report.head)
    _check_checkpoints(report, signed, keys, stored_at)
    _check_published(report, published, signed, keys, stored_at, from_position)
    if report.last_checkpoint is None:
        report.notes.append("no signed checkpoint yet: a full rewrite of the chain could not be told from inside")
    elif report.last_checkpoint.position < report.last_linked:
        report.notes.append(
            f"events after position {report.last_checkpoint.position} are not yet covered by a signed checkpoint"
        )
    if progress is not None:
        progress(report.head, report.head)
    return report


def _check_checkpoints(
    report: ChainReport, signed: list[Checkpoint], keys: dict[str, bytes], stored_at: dict[int, bytes]
) -> None:
    previous_position = 0
    for cp in signed:
        report.checkpoints += 1
        key = keys.get(cp.key_id)
        if key is None:
            report.findings.append(
                Finding(cp.position, "unknown-key", f"checkpoint signed by key {cp.key_id}, which is not trusted")
            )
        elif not signature_valid(cp, key):
            report.findings.append(Finding(cp.position, "bad-signature", "the checkpoint's signature does not verify"))
        stored = stored_at.get(cp.position)
        if stored is None:
            report.findings.append(
                Finding(cp.position, "deleted", "a signed checkpoint names this position, which has no link any more")
            )
        elif stored != cp.link:
            report.findings.append(
                Finding(
                    cp.position,
                    "rewritten",
                    f"the chain no longer reaches the head signed here: links after position {previous_position} "
                    f"up to {cp.position} were rewritten",
                )
            )
        previous_position = cp.position


def _check_published(
    report: ChainReport,
    published: list[Checkpoint],
    signed: list[Checkpoint],
    keys: dict[str, bytes],
    stored_at: dict[int, bytes],
    from_position: int,
) -> None:
    in_db = {cp.position: cp for cp in signed}
    for cp in published:
        if cp.position < from_position:
            continue
        report.published += 1
        key = keys.get(cp.key_id)
        if key is None or not signature_valid(cp, key):
            report.findings.append(
                Finding(cp.position, "bad-signature", "a published checkpoint does not verify with the trusted key")
            )
            continue
        db = in_db.get(cp.position)
        if db is None:
            report.findings.append(
                Finding(cp.position, "checkpoint-missing", "a published checkpoint is missing from the database")
            )
        elif db.link != cp.link or db.signature != cp.signature:
            report.findings.append(
                Finding(cp.position, "checkpoint-replaced", "the database's checkpoint differs from the published one")
            )
        stored = stored_at.get(cp.position)
        if stored is not None and stored != cp.link:
            report.findings.append(
                Finding(cp.position, "rewritten", "the chain no longer reaches the head published at this position")
            )
        elif stored is None and cp.position <= report.last_linked:
            report.findings.append(
                Finding(cp.position, "deleted", "a published checkpoint names this position, which has no link")
            )


class _Walk:
    """(position, event or None, stored link or None) in position order over the union of
    event and link positions after `after`, read a page at a time."""

    def __init__(self, store: Any, tx: Tx, after: int, page: int) -> None:
        self.store, self.tx, self.page = store, tx, page
        self.events: list[StoredEvent] = []
        self.links: list[tuple[int, bytes]] = []
        self.event_after = self.link_after = after
        self.events_done = self.links_done = False

    def _fill(self) -> None:
        if not self.events and not self.events_done:
            self.events = chain.events_page(self.store, self.tx, self.event_after, self.page)
            self.events.reverse()
            self.events_done = not self.events
        if not self.links and not self.links_done:
            self.links = chain.links_page(self.tx, self.link_after, self.page)
            self.links.reverse()
            self.links_done = not self.links

    def __iter__(self) -> _Walk:
        return self

    def __next__(self) -> tuple[int, StoredEvent | None, bytes | None]:
        self._fill()
        if not self.events and not self.links:
            raise StopIteration
        e = self.events[-1].position if self.events else None
        k = self.links[-1][0] if self.links else None
        position = min(p for p in (e, k) if p is not None)
        event = self.events.pop() if e == position else None
        stored = self.links.pop()[1] if k == position else None
        if event is not None:
            self.event_after = position
        if stored is not None:
            self.link_after = position
        return position, event, stored


class ChainBroken(Exception):
    def __init__(self, report: ChainReport) -> None:
        first = report.first
        super().__init__(str(first) if first is not None else "the chain is broken")
        self.report = report


def link_and_verify(app: Any, progress: Callable[[int, int], None] | None = None) -> ChainReport:
    """What replay checks before it rebuilds: the events a stopped server left unlinked are
    linked first (as the server would have at its next start), then the whole chain is
    checked against the links and the checkpoints in the database."""
    ChainLinker(app, None).run_until_caught_up()
    store = app.store
    with store.snapshot() as cursor:
        return verify_chain(store, Tx(cursor, store.dialect), progress=progress)

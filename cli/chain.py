"""The composition of the hash chain: the linker thread a node runs, `chronicle verify
--chain`, and the export of the public key."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

from api.auth.sealing import Sealer
from cli.config_errors import ConfigurationError
from cli.settings import ChronicleSettings
from cli.store import existing_store
from domain.chain import Checkpoint, key_id
from projections.chain import store as chain
from projections.chain.keys import current_public_key, load_or_create, public_pem
from projections.chain.linker import SIGN_EVERY_EVENTS, SIGN_EVERY_SECONDS, ChainLinker
from projections.chain.verify import ChainBroken, ChainReport, link_and_verify, verify_chain
from projections.eventstore.recorder import ChronicleApplication
from projections.eventstore.tx import Tx
from workers.chain_witness import S3Account, WitnessError, publish_to_all, read_published, witnesses


def witness_account(settings: ChronicleSettings) -> S3Account:
    return S3Account(
        endpoint=settings.chain_publish_s3_endpoint,
        access_key=settings.chain_publish_s3_access_key,
        secret_key=settings.chain_publish_s3_secret_key,
        region=settings.chain_publish_s3_region,
    )


def make_linker(app: ChronicleApplication, master_key: bytes, settings: ChronicleSettings) -> ChainLinker:
    """The linker with the deployment's signing key (made, the first time) and witnesses."""
    sealer = Sealer(master_key)
    try:
        publish_fns = witnesses(settings.chain_publish, witness_account(settings))
    except WitnessError as e:
        raise ConfigurationError(str(e)) from None
    with app.store.datastore.transaction(commit=True) as cursor:
        key = load_or_create(Tx(cursor, app.store.dialect), sealer.seal, sealer.unseal)
    every_events = settings.chain_checkpoint_events
    every_seconds = settings.chain_checkpoint_seconds
    if not (0 < every_events <= SIGN_EVERY_EVENTS and 0 < every_seconds <= SIGN_EVERY_SECONDS):
        raise ConfigurationError(
            f"CHRONICLE_CHAIN_CHECKPOINT_EVENTS must be 1..{SIGN_EVERY_EVENTS} and "
            f"CHRONICLE_CHAIN_CHECKPOINT_SECONDS above 0 and at most {SIGN_EVERY_SECONDS:g}: checkpoints come at least "
            "that often"
        )
    return ChainLinker(
        app,
        key,
        publish=publish_to_all(publish_fns) if publish_fns else None,
        sign_every_events=every_events,
        sign_every_seconds=every_seconds,
    )


def cmd_verify(args: argparse.Namespace, app: ChronicleApplication) -> int:
    published: list[Checkpoint] = []
    for source in args.published or []:
        try:
            published.extend(read_published(source, witness_account(args.chronicle_settings)))
        except (OSError, ValueError) as e:
            print(f"chronicle verify: cannot read the published checkpoints at {source}: {e}", file=sys.stderr)
            return 2
    keys = _trusted_keys(args.public_key) if args.public_key else None
    store = app.store
    with store.snapshot() as cursor:
        tx = Tx(cursor, store.dialect)
        start = _start_position(tx, args.from_)
        report = verify_chain(
            store, tx, from_position=start, published=published, public_keys=keys, progress=_progress(args)
        )
    if args.json:
        print(json.dumps(_report_json(report), indent=2))
    else:
        _print_report(report)
    return 0 if report.ok else 1


def cmd_chain_key(app: ChronicleApplication) -> int:
    with app.store.read() as cursor:
        found = current_public_key(Tx(cursor, app.store.dialect))
    if found is None:
        print("chronicle chain-key: no signing key yet (a server makes one when it first starts)", file=sys.stderr)
        return 1
    kid, raw = found
    sys.stdout.write(f"# chronicle chain signing key {kid}\n{public_pem(raw)}")
    return 0


def _trusted_keys(path: str) -> dict[str, bytes]:
    try:
        key = load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as e:
        raise ConfigurationError(f"--public-key {path}: not a PEM public key ({e})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigurationError(f"--public-key {path}: not an Ed25519 key (export it with `chronicle chain-key`)")
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {key_id(raw): raw}


def _start_position(tx: Tx, value: str | None) -> int:
    """--from: a position, or a time (ISO 8601): the first event after the last checkpoint
    signed at or before it."""
    if not value:
        return 0
    if value.isdigit():
        return int(value)
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigurationError(f"--from {value}: give a log position or an ISO 8601 time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    when_us = int(when.timestamp() * 1_000_000)
    start = 0
    for cp in chain.checkpoints(tx):
        if cp.time_us <= when_us:
            start = cp.position + 1
    return start


def _progress(args: argparse.Namespace) -> Callable[[int, int], None] | None:
    if args.json:
        return None

    def show(position: int, head: int) -> None:
        pct = 100.0 * position / head if head else 100.0
        print(f"\rverify: position {position}/{head} ({pct:5.1f}%)", end="", file=sys.stderr, flush=True)

    return show


def _report_json(report: ChainReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "checked": report.checked,
        "head": report.head,
        "last_linked": report.last_linked,
        "unlinked": report.unlinked,
        "checkpoints": report.checkpoints,
        "published": report.published,
        "last_checkpoint": report.last_checkpoint.to_json() if report.last_checkpoint else None,
        "findings": [{"position": f.position, "kind": f.kind, "detail": f.detail} for f in report.findings],
        "notes": report.notes,
    }


def _print_report(report: ChainReport) -> None:
    print(file=sys.stderr)
    print(
        f"checked {report.checked} events against their links (log head {report.head}, linked up to "
        f"{report.last_linked}, {report.unlinked} not yet linked), {report.checkpoints} signed checkpoints, "
        f"{report.published} published checkpoints"
    )
    for note in report.notes:
        print(f"note: {note}")
    if report.ok:
        print("the chain is intact")
        return
    first = report.first
    assert first is not None
    print(f"BROKEN: first at position {first.position}: {first.kind}: {first.detail}")
    for finding in sorted(report.findings, key=lambda f: (f.position, f.kind)):
        print(f"  {finding}")


def check_chain_before_replay(app: ChronicleApplication, *, force: bool) -> None:
    """Replay refuses a log that fails its chain (raises ChainBroken), unless forced."""
    judge_chain_before_replay(link_and_verify(app), force=force)


def judge_chain_before_replay(report: ChainReport, *, force: bool) -> None:
    """Raise ChainBroken for a broken chain unless forced (then warn); say that it holds."""
    if report.ok:
        print(f"replay: the hash chain holds ({report.checked} events, {report.checkpoints} signed checkpoints)")
        return
    if not force:
        raise ChainBroken(report)
    print(
        f"replay: WARNING: --force: replaying a log that fails its hash chain "
        f"({len(report.findings)} findings, first {report.first}); the rebuilt views may serve what was forged",
        file=sys.stderr,
    )


def chain_report_beside(settings: ChronicleSettings, data_dir: Path) -> Future[ChainReport]:
    """link_and_verify in a process of its own, while this one does other work (`replay
    --into` builds meanwhile): the two walks of the log overlap on two cores, and on a busy
    machine two processes get two shares of it. Call .result() for the report."""
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    try:
        return pool.submit(_chain_report, settings, data_dir)
    finally:
        pool.shutdown(wait=False)


def _chain_report(settings: ChronicleSettings, data_dir: Path) -> ChainReport:
    app = existing_store(settings, data_dir, "replay-chain")
    try:
        return link_and_verify(app)
    finally:
        app.close()

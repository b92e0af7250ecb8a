"""The audit index, built from the log by a follower (projections.log_follower): one row per
event with the columns the audit questions filter on — bucket and key, IAM subject or target,
access key, parent user, source IP, event, time — and the whole record (domain.change_record).
Each page and its tracking row are one transaction, so a crash repeats a page or none of it;
the page's commit wakes the event stream's readers (projections.audit.progress).
"""

from __future__ import annotations

from typing import Any

import orjson

from domain.change_record import RedactSettings, describe
from projections.audit.progress import INDEX_PROGRESS, INDEXED_CHANNEL
from projections.eventstore.recorder import ChronicleApplication
from projections.eventstore.tx import Tx
from projections.log_follower import LogFollower
from projections.notifications.reader import first_events

PAGE = 2000
TRACKING = "audit"
_INDEXER_LOCK = 0x6368726F6E617564  # "chronaud"
AUDIT_TABLES = ("audit_index", "audit_tracking")


class AuditIndexer(LogFollower):
    lock_key = _INDEXER_LOCK
    name = "audit"

    def __init__(
        self, app: ChronicleApplication, *, redact_settings: RedactSettings | None = None, page: int = PAGE
    ) -> None:
        super().__init__(app)
        self.redact_settings = redact_settings
        self.page = page
        self._indexed = False

    def after(self, tx_factory: Any) -> None:
        if self._indexed:
            self._indexed = False
            INDEX_PROGRESS.announce()

    def apply(self, tx: Tx) -> int:
        after = int(tx.scalar("SELECT position FROM audit_tracking WHERE name = ?", (TRACKING,)) or 0)
        rows = tx.all(self.app.store.events_page_sql(), (after + 1, self.page))
        if not rows:
            return 0
        events = [(int(r["notification_id"]), str(r["topic"]), self.app.decode_row(r)) for r in rows]
        firsts = first_events(self.app, tx, (e.originator_id for _, _, e in events if e.originator_version > 1))
        uploads = first_events(self.app, tx, (e.upload_id for _, _, e in events if hasattr(e, "upload_id")))
        values: list[Any] = []
        for position, topic, event in events:
            first = firsts.get(event.originator_id, (0, None))[1] if event.originator_version > 1 else None
            upload = uploads.get(event.upload_id, (0, None))[1] if hasattr(event, "upload_id") else None
            record = describe(
                position, topic, event, first=first, parent_first=upload, redact_settings=self.redact_settings
            )
            principal = record["principal"]
            values.append(
                (
                    position,
                    int(event.timestamp.timestamp() * 1_000_000),
                    record["kind"],
                    record["event"],
                    record.get("bucket", ""),
                    record.get("key", ""),
                    record.get("subject", ""),
                    principal["accessKey"],
                    principal["parentUser"],
                    record["sourceIp"],
                    orjson.dumps(record).decode(),
                )
            )
        for i in range(0, len(values), 200):
            chunk = values[i : i + 200]
            marks = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
            tx.execute(
                "INSERT INTO audit_index (position, time_us, kind, event, bucket, key, subject, access_key, "
                f"parent_user, source_ip, record) VALUES {marks}",
                [v for row in chunk for v in row],
            )
        tx.execute(
            "INSERT INTO audit_tracking (name, position) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
            (TRACKING, events[-1][0]),
        )
        if tx.dialect.name == "postgres":
            # Delivered at commit, to every process's stream watch (api.events.stream).
            tx.execute(f"NOTIFY {INDEXED_CHANNEL}")
        self._indexed = True
        return len(events)

"""Tables of the notification target configuration, an inline projection.

``notify_targets``: one row per configured target (subsystem, id) with its settings as
JSON (secret values sealed, exactly as the event carries them), whether it is enabled,
who changed it last (``admin`` or ``env``) and the log position of that change.
``notify_targets_generation``: bumped to the log position by every target event, so
per-process registries and delivery supervisors poll one row to see a change.
"""

from __future__ import annotations

from projections.eventstore.sql import Dialect

NOTIFY_TARGET_TABLES = ("notify_targets", "notify_targets_generation")


def notify_targets_ddl(d: Dialect) -> list[str]:
    b = d.bigint
    return [
        f"""CREATE TABLE IF NOT EXISTS notify_targets (
            subsystem TEXT NOT NULL, target_id TEXT NOT NULL, settings TEXT NOT NULL,
            enabled INTEGER NOT NULL, source TEXT NOT NULL, position {b} NOT NULL,
            PRIMARY KEY (subsystem, target_id))""",
        f"CREATE TABLE IF NOT EXISTS notify_targets_generation (id INTEGER PRIMARY KEY, gen {b} NOT NULL)",
    ]

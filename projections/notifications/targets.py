"""NotifyTargetsProjection: the configured notification targets, applied inline with the
event so that a target set or removed through one node is known to every node at once."""

from __future__ import annotations

from typing import Any

import orjson

from domain.notify_target import NotificationTarget
from projections.eventstore.tx import Tx


def _enabled(settings: dict[str, str]) -> int:
    # The api layer stores normalised settings ("on"/"off"); absent means MinIO's implicit on.
    return 0 if settings.get("enable", "on") == "off" else 1


class NotifyTargetsProjection:
    def apply(self, tx: Tx, position: int, event: Any) -> Any:
        kind = type(event)
        if kind not in _EVENTS:
            return None
        tx.execute(
            """INSERT INTO notify_targets_generation (id, gen) VALUES (1, ?)
               ON CONFLICT (id) DO UPDATE SET gen = excluded.gen""",
            (position,),
        )
        if kind is NotificationTarget.Removed:
            tx.execute(
                "DELETE FROM notify_targets WHERE subsystem = ? AND target_id = ?",
                (event.subsystem, event.target_id),
            )
            return None
        settings = dict(event.settings)
        tx.execute(
            """INSERT INTO notify_targets (subsystem, target_id, settings, enabled, source, position)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (subsystem, target_id) DO UPDATE SET settings = excluded.settings,
                 enabled = excluded.enabled, source = excluded.source, position = excluded.position""",
            (
                event.subsystem,
                event.target_id,
                orjson.dumps(settings, option=orjson.OPT_SORT_KEYS).decode(),
                _enabled(settings),
                event.source,
                position,
            ),
        )
        return None


_EVENTS = {
    NotificationTarget.Configured,
    NotificationTarget.Reconfigured,
    NotificationTarget.Removed,
}

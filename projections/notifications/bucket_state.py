"""What the notification follower knows of each bucket at its position: the rules in
force and the versioning history, kept in ``notify_rules`` (one JSON row per bucket)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from domain.notifications import NotificationConfig, RulesMap, rules_map
from projections.eventstore.tx import Tx
from projections.notifications.events import VersioningHistory


@dataclass(slots=True)
class BucketState:
    """What the follower knows of a bucket at its position: rules and versioning."""

    config: dict[str, Any] | None = None
    versioning: VersioningHistory = field(default_factory=VersioningHistory)
    _rules: RulesMap | None = None

    @property
    def rules(self) -> RulesMap:
        if self._rules is None:
            self._rules = rules_map(NotificationConfig.from_dict(self.config)) if self.config else RulesMap()
        return self._rules

    def set_config(self, config: dict[str, Any] | None) -> None:
        self.config = config
        self._rules = None

    def dumps(self) -> str:
        return orjson.dumps({"config": self.config, "versioning": self.versioning.changes}).decode()

    @classmethod
    def loads(cls, text: str) -> BucketState:
        doc = orjson.loads(text)
        changes = [(int(p), str(s)) for p, s in doc.get("versioning") or []]
        return cls(config=doc.get("config"), versioning=VersioningHistory(changes))


class BucketStates:
    """Bucket states read lazily from notify_rules (unless ``states`` already holds them)
    and written back once per step."""

    def __init__(self, tx: Tx, states: dict[str, BucketState] | None = None) -> None:
        self.tx = tx
        self.states: dict[str, BucketState] = {} if states is None else states
        self.dirty: set[str] = set()

    def get(self, bid: str) -> BucketState:
        state = self.states.get(bid)
        if state is None:
            text = self.tx.scalar("SELECT config FROM notify_rules WHERE bucket = ?", (bid,))
            state = BucketState.loads(text) if text else BucketState()
            self.states[bid] = state
        return state

    def replace(self, bid: str, state: BucketState) -> None:
        self.states[bid] = state
        self.dirty.add(bid)

    def save(self) -> None:
        for bid in self.dirty:
            self.tx.execute("DELETE FROM notify_rules WHERE bucket = ?", (bid,))
            self.tx.execute(
                "INSERT INTO notify_rules (bucket, config) VALUES (?, ?)",
                (bid, self.states[bid].dumps()),
            )

"""NotificationTarget: one configured notification target (``notify_redis:1``), whose
settings change by events so that a change takes effect on every node without a restart
and ``chronicle replay`` rebuilds the configuration.

Every event carries the whole configuration of its target (subsystem, id, every
``key=value`` setting) so the projection needs nothing but the event. Secret values
(passwords, tokens, DSNs, client keys) arrive already sealed by the api layer: the domain
and the log only ever hold ciphertext. ``source`` says who made the change: ``"admin"``
(the admin API or CLI) or ``"env"`` (a node recording its CHRONICLE_NOTIFY_* settings).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor

SOURCES = ("admin", "env")


def target_name(subsystem: str, target_id: str) -> str:
    """``("notify_redis", "1")`` → ``"notify_redis:1"`` (the default target is ``:_``)."""
    return f"{subsystem}:{target_id}"


def target_aggregate_id(subsystem: str, target_id: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"chronicle:notify-target:{target_name(subsystem, target_id)}")


def secret_context(subsystem: str, target_id: str, key: str) -> str:
    """Associated data of a sealed setting: binds the ciphertext to its target and key, so a
    sealed password cannot be moved to another target."""
    return f"notify-target:{target_name(subsystem, target_id)}:{key}"


def seal_settings(
    subsystem: str,
    target_id: str,
    settings: Mapping[str, str],
    secret_keys: Iterable[str],
    seal: Callable[[str, str], str],
) -> dict[str, str]:
    """Settings with every non-empty secret value sealed (``seal(plaintext, context)``)."""
    secrets = set(secret_keys)
    return {
        k: seal(v, secret_context(subsystem, target_id, k)) if k in secrets and v else v for k, v in settings.items()
    }


def unseal_settings(
    subsystem: str,
    target_id: str,
    settings: Mapping[str, str],
    secret_keys: Iterable[str],
    unseal: Callable[[str, str], str],
) -> dict[str, str]:
    """The inverse of ``seal_settings`` (``unseal(sealed, context)``)."""
    secrets = set(secret_keys)
    return {
        k: unseal(v, secret_context(subsystem, target_id, k)) if k in secrets and v else v for k, v in settings.items()
    }


class NotificationTarget(Aggregate):
    TOPIC = "chronicle.NotificationTarget"

    class Created(Aggregate.Created):
        # Never emitted (the first event is Configured); eventsourcing wants a topic on
        # every event class of an aggregate with explicit topics.
        TOPIC = "chronicle.NotificationTarget.Created"

    @staticmethod
    def create_id(subsystem: str, target_id: str, **_: Any) -> UUID:
        return target_aggregate_id(subsystem, target_id)

    @event("Configured", topic="chronicle.NotificationTarget.Configured")
    def __init__(self, subsystem: str, target_id: str, settings: dict[str, str], source: str, actor: Actor) -> None:
        self.subsystem = subsystem
        self.target_id = target_id
        self.settings = dict(settings)
        self.removed = False

    @event("Reconfigured", topic="chronicle.NotificationTarget.Reconfigured")
    def reconfigure(self, subsystem: str, target_id: str, settings: dict[str, str], source: str, actor: Actor) -> None:
        """New settings (the whole set), also to configure a removed target again."""
        self.settings = dict(settings)
        self.removed = False

    @event("Removed", topic="chronicle.NotificationTarget.Removed")
    def remove(self, subsystem: str, target_id: str, source: str, actor: Actor) -> None:
        self.settings = {}
        self.removed = True

    def configure(self, settings: dict[str, str], source: str, actor: Actor) -> None:
        """Record new settings: Reconfigured (the first ones are the Configured event)."""
        self.reconfigure(
            subsystem=self.subsystem,
            target_id=self.target_id,
            settings=settings,
            source=source,
            actor=actor,
        )

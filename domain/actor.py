"""Who did something: carried by every event, so the log is the audit trail."""

from __future__ import annotations

from typing import TypedDict


class Actor(TypedDict, total=False):
    access_key: str
    parent_user: str
    source_ip: str
    user_agent: str
    request_id: str


SYSTEM_ACTOR: Actor = {
    "access_key": "",
    "parent_user": "",
    "source_ip": "",
    "user_agent": "chronicle",
    "request_id": "",
}

"""IAM events kept in the log before a field was added still decode (upcasting)."""

from __future__ import annotations

import json
from uuid import uuid4

from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent

from domain.iam import StsSession

SESSION = dict(
    access_key="AKSESSION", parent_user="alice", sealed_secret="sealed", token_hash="h", role="r",
    policy=None, expiration_us=1, actor={"access_key": "alice"},
)  # fmt: skip


def test_session_created_before_session_names_decodes_with_an_empty_one():
    mapper = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}).mapper
    (event,) = StsSession(**SESSION, session_name="s").collect_events()
    stored = mapper.to_stored_event(event)
    assert json.loads(stored.state)["class_version"] == 2
    assert mapper.to_domain_event(stored).session_name == "s"
    # The same event as recorded before AssumeRole kept the RoleSessionName: no field, version 1.
    old_state = {
        k: v
        for k, v in json.loads(stored.state).items()
        if k not in ("session_name", "class_version")
    }
    old = StoredEvent(
        originator_id=uuid4(),
        originator_version=1,
        topic=stored.topic,
        state=json.dumps(old_state).encode(),
    )
    decoded = mapper.to_domain_event(old)
    assert decoded.session_name == "" and decoded.access_key == "AKSESSION"
    assert decoded.mutate(None).access_key == "AKSESSION"

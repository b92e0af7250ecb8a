"""IAM events kept in the log before a field was added still decode (upcasting), and the AWS
managed policies the IAM API attaches grant what AWS's do (for the services this server has)."""

from __future__ import annotations

import json
from uuid import uuid4

from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent

from domain.iam import StsSession
from domain.policy import Request, evaluate
from domain.policy.canned import canned_policy
from domain.policy.evaluate import Decision

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
    old_state = {k: v for k, v in json.loads(stored.state).items() if k not in ("session_name", "class_version")}
    old = StoredEvent(
        originator_id=uuid4(),
        originator_version=1,
        topic=stored.topic,
        state=json.dumps(old_state).encode(),
    )
    decoded = mapper.to_domain_event(old)
    assert decoded.session_name == "" and decoded.access_key == "AKSESSION"
    assert decoded.mutate(None).access_key == "AKSESSION"


def _allows(policy_arn: str, action: str, resource: str = "*") -> bool:
    req = Request(
        action=action,
        resource=resource,
        principal="u",
        principal_arn="arn:aws:iam::000000000000:user/u",
        account="000000000000",
    )
    return evaluate((canned_policy(policy_arn),), req) is Decision.ALLOW


def test_aws_managed_policies():
    read = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
    assert _allows(read, "s3:GetObject", "arn:aws:s3:::b/k") and _allows(read, "s3:ListAllMyBuckets")
    assert not _allows(read, "s3:PutObject", "arn:aws:s3:::b/k")
    assert _allows("arn:aws:iam::aws:policy/AmazonS3FullAccess", "s3:PutObject", "arn:aws:s3:::b/k")
    assert not _allows("arn:aws:iam::aws:policy/AmazonS3FullAccess", "iam:ListUsers")
    iam_read = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
    assert _allows(iam_read, "iam:ListRoles") and _allows(iam_read, "iam:GetUser")
    assert not _allows(iam_read, "iam:CreateUser") and not _allows(iam_read, "s3:GetObject", "arn:aws:s3:::b/k")
    assert _allows("arn:aws:iam::aws:policy/AdministratorAccess", "iam:CreateUser")

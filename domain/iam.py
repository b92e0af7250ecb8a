"""Identity aggregates: users, groups, policies, service accounts (and IAM access keys),
roles, OpenID Connect providers and STS sessions. Secrets arrive sealed (ciphertext) from the api boundary, so the
domain and the log only ever hold ciphertext (DESIGN invariant 6).

Ids are uuid5 of the name, so the event store's primary key makes names unique.
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor

JSON = dict[str, Any]


def iam_id(kind: str, name: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"chronicle:{kind}:{name}")


class User(Aggregate):
    TOPIC = "chronicle.User"

    @staticmethod
    def create_id(name: str, **_: Any) -> UUID:
        return iam_id("user", name)

    @event("Created", topic="chronicle.User.Created")
    def __init__(self, name: str, sealed_secret: str, status: str, actor: Actor) -> None:
        self.name = name
        self.status = status
        self.policies: list[str] = []
        self.path = "/"
        self.deleted = False

    @event("Recreated", topic="chronicle.User.Recreated")
    def recreate(self, sealed_secret: str, status: str, actor: Actor) -> None:
        self.status = status
        self.policies = []
        self.path = "/"
        self.deleted = False

    @event("PathSet", topic="chronicle.User.PathSet")
    def set_path(self, path: str, actor: Actor) -> None:
        """The IAM path ("/division/team/"): part of the user's ARN, nothing else."""
        self.path = path

    @event("SecretChanged", topic="chronicle.User.SecretChanged")
    def change_secret(self, sealed_secret: str, actor: Actor) -> None:
        pass

    @event("StatusChanged", topic="chronicle.User.StatusChanged")
    def set_status(self, status: str, actor: Actor) -> None:
        self.status = status

    @event("PoliciesSet", topic="chronicle.User.PoliciesSet")
    def set_policies(self, policies: list[str], actor: Actor) -> None:
        self.policies = list(policies)

    @event("InlinePolicyPut", topic="chronicle.User.InlinePolicyPut")
    def put_inline_policy(self, policy_name: str, document: JSON, actor: Actor) -> None:
        pass

    @event("InlinePolicyDeleted", topic="chronicle.User.InlinePolicyDeleted")
    def delete_inline_policy(self, policy_name: str, actor: Actor) -> None:
        pass

    @event("Deleted", topic="chronicle.User.Deleted")
    def delete(self, actor: Actor) -> None:
        self.deleted = True


class Group(Aggregate):
    TOPIC = "chronicle.Group"

    @staticmethod
    def create_id(name: str, **_: Any) -> UUID:
        return iam_id("group", name)

    @event("Created", topic="chronicle.Group.Created")
    def __init__(self, name: str, actor: Actor) -> None:
        self.name = name
        self.members: list[str] = []
        self.status = "enabled"
        self.policies: list[str] = []
        self.path = "/"
        self.deleted = False

    @event("Recreated", topic="chronicle.Group.Recreated")
    def recreate(self, actor: Actor) -> None:
        self.members = []
        self.status = "enabled"
        self.policies = []
        self.path = "/"
        self.deleted = False

    @event("PathSet", topic="chronicle.Group.PathSet")
    def set_path(self, path: str, actor: Actor) -> None:
        self.path = path

    @event("MembersAdded", topic="chronicle.Group.MembersAdded")
    def add_members(self, members: list[str], actor: Actor) -> None:
        self.members = sorted(set(self.members) | set(members))

    @event("MembersRemoved", topic="chronicle.Group.MembersRemoved")
    def remove_members(self, members: list[str], actor: Actor) -> None:
        self.members = sorted(set(self.members) - set(members))

    @event("StatusChanged", topic="chronicle.Group.StatusChanged")
    def set_status(self, status: str, actor: Actor) -> None:
        self.status = status

    @event("PoliciesSet", topic="chronicle.Group.PoliciesSet")
    def set_policies(self, policies: list[str], actor: Actor) -> None:
        self.policies = list(policies)

    @event("InlinePolicyPut", topic="chronicle.Group.InlinePolicyPut")
    def put_inline_policy(self, policy_name: str, document: JSON, actor: Actor) -> None:
        pass

    @event("InlinePolicyDeleted", topic="chronicle.Group.InlinePolicyDeleted")
    def delete_inline_policy(self, policy_name: str, actor: Actor) -> None:
        pass

    @event("Deleted", topic="chronicle.Group.Deleted")
    def delete(self, actor: Actor) -> None:
        self.deleted = True


class ManagedPolicy(Aggregate):
    """A named policy document (MinIO canned policy / IAM managed policy)."""

    TOPIC = "chronicle.ManagedPolicy"

    @staticmethod
    def create_id(name: str, **_: Any) -> UUID:
        return iam_id("policy", name)

    @event("Created", topic="chronicle.ManagedPolicy.Created")
    def __init__(self, name: str, document: JSON, actor: Actor) -> None:
        self.name = name
        self.deleted = False

    @event("Updated", topic="chronicle.ManagedPolicy.Updated")
    def update(self, document: JSON, actor: Actor) -> None:
        self.deleted = False

    @event("Deleted", topic="chronicle.ManagedPolicy.Deleted")
    def delete(self, actor: Actor) -> None:
        self.deleted = True


class AccessKey(Aggregate):
    """A key that acts for a parent user: a MinIO service account (optionally narrowed by an
    embedded policy, optionally expiring) or an IAM CreateAccessKey key."""

    TOPIC = "chronicle.AccessKey"

    @staticmethod
    def create_id(access_key: str, **_: Any) -> UUID:
        return iam_id("access-key", access_key)

    @event("Created", topic="chronicle.AccessKey.Created")
    def __init__(
        self,
        access_key: str,
        parent_user: str,
        sealed_secret: str,
        kind: str,
        policy: JSON | None,
        name: str,
        description: str,
        expiration_us: int | None,
        actor: Actor,
    ) -> None:
        self.access_key = access_key
        self.parent_user = parent_user
        self.deleted = False

    @event("Recreated", topic="chronicle.AccessKey.Recreated")
    def recreate(
        self,
        parent_user: str,
        sealed_secret: str,
        kind: str,
        policy: JSON | None,
        name: str,
        description: str,
        expiration_us: int | None,
        actor: Actor,
    ) -> None:
        """The same access key issued again after it was deleted."""
        self.parent_user = parent_user
        self.deleted = False

    @event("Updated", topic="chronicle.AccessKey.Updated")
    def update(self, changes: JSON, actor: Actor) -> None:
        """changes: any of sealed_secret, status, policy, name, description, expiration_us."""

    @event("Deleted", topic="chronicle.AccessKey.Deleted")
    def delete(self, actor: Actor) -> None:
        self.deleted = True


class Role(Aggregate):
    TOPIC = "chronicle.Role"

    @staticmethod
    def create_id(name: str, **_: Any) -> UUID:
        return iam_id("role", name)

    @event("Created", topic="chronicle.Role.Created")
    def __init__(self, name: str, trust_policy: JSON, description: str, max_session_seconds: int, actor: Actor) -> None:
        self.name = name
        self.policies: list[str] = []
        self.path = "/"
        self.deleted = False

    @event("Recreated", topic="chronicle.Role.Recreated")
    def recreate(self, trust_policy: JSON, description: str, max_session_seconds: int, actor: Actor) -> None:
        self.policies = []
        self.path = "/"
        self.deleted = False

    @event("PathSet", topic="chronicle.Role.PathSet")
    def set_path(self, path: str, actor: Actor) -> None:
        self.path = path

    @event("Updated", topic="chronicle.Role.Updated")
    def update(self, description: str, max_session_seconds: int, actor: Actor) -> None:
        """UpdateRole: the description and the longest session it allows."""

    @event("PoliciesSet", topic="chronicle.Role.PoliciesSet")
    def set_policies(self, policies: list[str], actor: Actor) -> None:
        """The managed policies attached to the role (names, or AWS managed policy ARNs)."""
        self.policies = list(policies)

    @event("InlinePolicyPut", topic="chronicle.Role.InlinePolicyPut")
    def put_inline_policy(self, policy_name: str, document: JSON, actor: Actor) -> None:
        pass

    @event("InlinePolicyDeleted", topic="chronicle.Role.InlinePolicyDeleted")
    def delete_inline_policy(self, policy_name: str, actor: Actor) -> None:
        pass

    @event("Deleted", topic="chronicle.Role.Deleted")
    def delete(self, actor: Actor) -> None:
        self.deleted = True


class OidcProvider(Aggregate):
    """An OpenID Connect identity provider registered through the IAM API; named by its URL
    without the scheme, as its ARN (arn:aws:iam::<account>:oidc-provider/<name>)."""

    TOPIC = "chronicle.OidcProvider"

    @staticmethod
    def create_id(name: str, **_: Any) -> UUID:
        return iam_id("oidc-provider", name)

    @event("Created", topic="chronicle.OidcProvider.Created")
    def __init__(self, name: str, url: str, client_ids: list[str], thumbprints: list[str], actor: Actor) -> None:
        self.name = name
        self.client_ids = list(client_ids)
        self.deleted = False

    @event("Recreated", topic="chronicle.OidcProvider.Recreated")
    def recreate(self, url: str, client_ids: list[str], thumbprints: list[str], actor: Actor) -> None:
        self.client_ids = list(client_ids)
        self.deleted = False

    @event("ClientIdsSet", topic="chronicle.OidcProvider.ClientIdsSet")
    def set_client_ids(self, client_ids: list[str], actor: Actor) -> None:
        self.client_ids = list(client_ids)

    @event("ThumbprintsSet", topic="chronicle.OidcProvider.ThumbprintsSet")
    def set_thumbprints(self, thumbprints: list[str], actor: Actor) -> None:
        pass

    @event("Deleted", topic="chronicle.OidcProvider.Deleted")
    def delete(self, actor: Actor) -> None:
        self.deleted = True


class StsSession(Aggregate):
    """Temporary credentials from AssumeRole / GetSessionToken."""

    TOPIC = "chronicle.StsSession"

    @staticmethod
    def create_id(access_key: str, **_: Any) -> UUID:
        return iam_id("sts", access_key)

    @event("Created", topic="chronicle.StsSession.Created")
    def __init__(
        self,
        access_key: str,
        parent_user: str,
        sealed_secret: str,
        token_hash: str,
        role: str,
        policy: JSON | None,
        expiration_us: int,
        actor: Actor,
        session_name: str = "",
    ) -> None:
        self.access_key = access_key
        self.revoked = False

    @event("Revoked", topic="chronicle.StsSession.Revoked")
    def revoke(self, actor: Actor) -> None:
        self.revoked = True


def _session_created_v1_v2(state: JSON) -> None:
    """Sessions recorded before AssumeRole kept the RoleSessionName had none."""
    state["session_name"] = ""


StsSession.Created.class_version = 2  # type: ignore[attr-defined]
StsSession.Created.upcast_v1_v2 = staticmethod(_session_created_v1_v2)  # type: ignore[attr-defined]

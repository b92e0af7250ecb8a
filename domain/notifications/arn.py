"""Notification target ARNs, `arn:minio:sqs:<region>:<id>:<type>` (`internal/event/arn.go`).

The id is the target's configuration name (`notify_webhook:1` → `1`; the unnamed default
target is `_`), the type the target kind. Note the PostgreSQL type is `postgresql`
although its subsystem is `notify_postgres`.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.notifications.names import NotificationError

PREFIX = "arn:minio:sqs:"

# The target types MinIO registers (internal/event/target/*.go). Parsing does not check
# the type (MinIO doesn't either): an ARN of another type parses and then is simply not
# a known target.
TARGET_TYPES: frozenset[str] = frozenset(
    {
        "amqp",
        "elasticsearch",
        "kafka",
        "mqtt",
        "mysql",
        "nats",
        "nsq",
        "postgresql",
        "redis",
        "webhook",
    }
)

# The subsystem (`notify_<x>`) of each ARN type that differs from the type itself.
SUBSYSTEM_FOR_TYPE = {"postgresql": "notify_postgres"}

ARN_NOT_FOUND = "A specified destination ARN does not exist or is not well-formed. Verify the destination ARN."


@dataclass(frozen=True, order=True)
class ARN:
    region: str
    id: str
    type: str

    def __str__(self) -> str:
        if not (self.region or self.id or self.type):
            return ""
        return f"{PREFIX}{self.region}:{self.id}:{self.type}"

    @property
    def target_id(self) -> tuple[str, str]:
        """MinIO's TargetID (id, name): what identifies the target, region aside."""
        return (self.id, self.type)

    def with_region(self, region: str) -> ARN:
        return ARN(region, self.id, self.type)

    @classmethod
    def for_target(cls, id: str, type: str, region: str = "") -> ARN:
        return cls(region, id, type)


def parse_arn(s: str) -> ARN:
    """`parseARN`: must start with `arn:minio:sqs:`, split on `:` into exactly 6 tokens,
    id and type non-empty. Otherwise InvalidArgument (ErrInvalidARN → ErrARNNotification)."""
    if s.startswith(PREFIX):
        tokens = s.split(":")
        if len(tokens) == 6 and tokens[4] and tokens[5]:
            return ARN(tokens[3], tokens[4], tokens[5])
    raise NotificationError("InvalidArgument", ARN_NOT_FOUND, f"invalid ARN '{s}'")

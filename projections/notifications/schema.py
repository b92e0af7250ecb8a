"""Tables of the notification follower (an async projection) and of delivery.

The follower reads the log in order and, in one transaction per batch, writes:
- ``notify_rules``: each bucket's notification rules as they stood at the follower's
  position (so events are matched against the rules of their time, not today's);
- ``notify_access_view``: MinIO's access format, one append-only row per (target,
  matched event): the record and its event time. Workers deliver from it in order;
- ``notify_namespace_view``: MinIO's namespace format, the latest record per
  (target, bucket, key), removed by s3:ObjectRemoved:Delete;
- ``notify_tracking``: the follower's position, in the same transaction.

``notify_checkpoints`` is not a projection: it is each target's delivery state
(position delivered up to, fencing epoch, counters). Replay never touches it. Nor is
``notify_listeners``: the listen API's live subscribers.
"""

from __future__ import annotations

from projections.eventstore.sql import Dialect

NOTIFY_VIEW_TABLES = ("notify_rules", "notify_access_view", "notify_namespace_view", "notify_tracking")
NOTIFY_STATE_TABLES = ("notify_checkpoints", "notify_listeners")


def notify_ddl(d: Dialect) -> list[str]:
    b = d.bigint
    return [
        "CREATE TABLE IF NOT EXISTS notify_rules (bucket TEXT PRIMARY KEY, config TEXT NOT NULL)",
        f"""CREATE TABLE IF NOT EXISTS notify_access_view (
            target TEXT NOT NULL, position {b} NOT NULL, event_name TEXT NOT NULL,
            bucket TEXT NOT NULL, object_key TEXT NOT NULL, event_time TEXT NOT NULL,
            record TEXT NOT NULL, PRIMARY KEY (target, position))""",
        f"""CREATE TABLE IF NOT EXISTS notify_namespace_view (
            target TEXT NOT NULL, bucket TEXT NOT NULL, object_key TEXT NOT NULL,
            position {b} NOT NULL, record TEXT NOT NULL, PRIMARY KEY (target, bucket, object_key))""",
        f"CREATE TABLE IF NOT EXISTS notify_tracking (name TEXT PRIMARY KEY, position {b} NOT NULL)",
        f"""CREATE TABLE IF NOT EXISTS notify_checkpoints (
            target TEXT PRIMARY KEY, position {b} NOT NULL, epoch {b} NOT NULL,
            delivered {b} NOT NULL, failed {b} NOT NULL, last_error TEXT NOT NULL,
            last_error_us {b} NOT NULL, last_delivery_us {b} NOT NULL, updated_us {b} NOT NULL)""",
        # Listen API subscribers on every node (refreshed while connected), so a GET on any
        # node knows whether to record an s3:ObjectAccessed event.
        f"""CREATE TABLE IF NOT EXISTS notify_listeners (
            id TEXT PRIMARY KEY, bucket TEXT NOT NULL, events TEXT NOT NULL, pattern TEXT NOT NULL,
            expires_us {b} NOT NULL)""",
    ]

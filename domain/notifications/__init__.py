"""Bucket event notifications in MinIO's formats. Pure: stdlib and orjson, no I/O.

- names:  event names, wildcard expansion, parse_name
- arn:    arn:minio:sqs:<region>:<id>:<type>
- config: the NotificationConfiguration XML (parse, validate, serialize)
- rules:  which targets an (event, key) reaches
- record: the event record and target payloads, serialized as Go's encoding/json does
"""

from domain.notifications.arn import ARN, TARGET_TYPES, parse_arn
from domain.notifications.config import (
    EMPTY,
    FilterRule,
    NotificationConfig,
    QueueConfig,
    decode_config,
    parse_config,
    validate_config,
    validate_filter_value,
)
from domain.notifications.names import (
    ALL_NAMES,
    SINGLE_NAMES,
    WILDCARDS,
    NotificationError,
    expand,
    expand_all,
    parse_name,
)
from domain.notifications.record import (
    access_entry,
    build_record,
    dumps_go,
    encode_key,
    format_event_time,
    log_body,
    namespace_key,
    namespace_key_from_record,
    namespace_value,
    parse_event_time,
    query_escape,
    query_escape_aws,
    query_unescape,
    sequencer_for,
)
from domain.notifications.rules import RulesMap, match_simple, match_targets, new_pattern, rules_map

__all__ = [
    "ALL_NAMES",
    "ARN",
    "EMPTY",
    "SINGLE_NAMES",
    "TARGET_TYPES",
    "WILDCARDS",
    "FilterRule",
    "NotificationConfig",
    "NotificationError",
    "QueueConfig",
    "RulesMap",
    "access_entry",
    "build_record",
    "decode_config",
    "dumps_go",
    "encode_key",
    "expand",
    "expand_all",
    "format_event_time",
    "log_body",
    "match_simple",
    "match_targets",
    "namespace_key",
    "namespace_key_from_record",
    "namespace_value",
    "new_pattern",
    "parse_arn",
    "parse_config",
    "parse_event_time",
    "parse_name",
    "query_escape",
    "query_escape_aws",
    "query_unescape",
    "rules_map",
    "sequencer_for",
    "validate_config",
    "validate_filter_value",
]

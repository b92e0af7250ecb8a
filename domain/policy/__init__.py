"""The policy engine: IAM-style JSON policies, parsed once, evaluated per request.

Pure: stdlib only, no I/O. See `document` (parsing, validation),
`conditions` (operators), `evaluate` (decisions) and `canned` (MinIO's
canned and anonymous policies).
"""

from .actions import KNOWN_ACTIONS, S3_ACTIONS
from .canned import (
    CANNED_POLICIES,
    CANNED_POLICY_NAMES,
    anonymous_kind,
    anonymous_policy,
    canned_policy,
    canned_policy_document,
)
from .conditions import OPERATOR_NAMES, Condition
from .document import MAX_POLICY_BYTES, Kind, Policy, Principal, Statement, parse_policy
from .evaluate import (
    Decision,
    Request,
    authorize,
    authorize_detail,
    evaluate,
    normalize_context,
    principal_matches,
)

__all__ = [
    "CANNED_POLICIES",
    "CANNED_POLICY_NAMES",
    "KNOWN_ACTIONS",
    "MAX_POLICY_BYTES",
    "OPERATOR_NAMES",
    "S3_ACTIONS",
    "Condition",
    "Decision",
    "Kind",
    "Policy",
    "Principal",
    "Request",
    "Statement",
    "anonymous_kind",
    "anonymous_policy",
    "authorize",
    "authorize_detail",
    "canned_policy",
    "canned_policy_document",
    "evaluate",
    "normalize_context",
    "parse_policy",
    "principal_matches",
]

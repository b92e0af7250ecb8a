"""JSON bodies of the MinIO admin API v3, as madmin-go and minio-py read and write them.

Each TypedDict mirrors a madmin-go type (named in its docstring) with its JSON
key names; builder functions produce response dicts with Go's ``omitempty``
behaviour, parser functions validate and normalise request bodies (raising
``ValueError`` on a bad shape — answer it with ``XMinioAdminConfigBadJSON`` /
``XMinioAdminInvalidArgument``). Times use Go's RFC 3339 (nano) text.

Two Go quirks that matter to clients:

* ``omitempty`` never omits a struct, so a non-pointer ``time.Time`` with
  ``omitempty`` (UserInfo.updatedAt, GroupDesc.updatedAt,
  PolicyAssociationResp.updatedAt) is always present; the zero time reads
  ``0001-01-01T00:00:00Z``. Pointer times (``expiration``) are omitted when nil.
* A service account without expiry carries MinIO's "time sentinel"
  ``1970-01-01T00:00:00Z`` in list-service-accounts; info-service-account omits
  ``expiration`` for it.

The bodies live in one module per subject; this package names them all.
"""

from __future__ import annotations

from api.admin.shapes.common import (  # noqa: F401
    STATUS_DISABLED,
    STATUS_ENABLED,
    STATUSES,
    TIME_SENTINEL,
    ZERO_TIME,
    Status,
    error_response,
    go_time,
    json_object,
    opt_str,
    parse_go_time,
    policy_document,
    split_policy_names,
)
from api.admin.shapes.groups import (  # noqa: F401
    GroupAddRemove,
    GroupDesc,
    group_desc,
    list_groups_response,
    parse_group_add_remove,
)
from api.admin.shapes.policies import (  # noqa: F401
    PolicyAssociationReq,
    PolicyAssociationResp,
    PolicyEntitiesResult,
    PolicyInfo,
    info_canned_policy_response,
    list_canned_policies_response,
    parse_policy_association_request,
    policy_association_response,
    policy_info,
)
from api.admin.shapes.server import (  # noqa: F401
    drive,
    info_message,
)
from api.admin.shapes.service_accounts import (  # noqa: F401
    AddServiceAccountReq,
    Credentials,
    InfoServiceAccountResp,
    ServiceAccountInfo,
    UpdateServiceAccountReq,
    account_status,
    add_service_account_response,
    expiration,
    info_service_account_response,
    list_service_accounts_response,
    parse_add_service_account_request,
    parse_update_service_account_request,
    service_account_info,
    validate_name_description,
)
from api.admin.shapes.users import (  # noqa: F401
    AddOrUpdateUserReq,
    UserInfo,
    list_users_response,
    parse_add_user_request,
    user_info,
)

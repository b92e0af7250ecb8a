"""The MinIO admin API endpoints Chronicle serves: what minio-py and mc (madmin-go) send.

Reference table for the admin handlers to route from. Facts come from the
clients' code: minio-py ``minio/minioadmin.py`` (MinioAdmin, 7.2.x) and
madmin-go ``user-commands.go``, ``policy-commands.go``, ``group-commands.go``,
``idp-commands.go``, ``info-commands.go``, ``api.go`` (v3 tags and v4 HEAD), and
the MinIO server handlers (``cmd/admin-handlers-users.go``) for what the server
answers.

Wire facts shared by every endpoint:

* Paths: ``/minio/admin/v3/<command>``. madmin-go v4 (mc built since 2025)
  sends ``/minio/admin/v4/<command>`` first and, on ``426 Upgrade Required``,
  retries the same request under ``/v3`` — so serve both prefixes (the
  shapes below are identical) or answer 426 on ``/v4``.
* Requests are SigV4-signed (service ``s3``, region usually ``us-east-1`` or
  empty in minio-py) with ``x-amz-content-sha256`` = hex SHA-256 of the body
  (never UNSIGNED-PAYLOAD); minio-py sends ``Content-Type:
  application/octet-stream`` on every request, madmin only on attach/detach
  (MinIO rejects attach/detach with any other Content-Type).
* "Encrypted" means ``madmin.EncryptData(secret, json)`` (see
  ``madmin_crypto``) where ``secret`` is the secret key of the credential
  that signed the request (for a service account or STS session: its own
  secret, not the parent's). The server decrypts requests and encrypts
  responses with that key.
* MinIO answers success with ``Content-Type: application/json`` (also for the
  encrypted bodies); errors are JSON ``{"Code","Message","Resource",
  "RequestId","HostId",...}`` (madmin parses JSON, then XML, as
  ``ErrorResponse``).
* Success status: madmin-go checks the exact status listed; minio-py accepts
  any of 200, 204, 206.
* Query parameter order is irrelevant (minio-py sorts; Go's ``url.Values``
  encodes sorted too).
"""

from __future__ import annotations

from dataclasses import dataclass, field

ADMIN_PREFIX_V3 = "/minio/admin/v3"
ADMIN_PREFIX_V4 = "/minio/admin/v4"
ADMIN_PREFIXES = (ADMIN_PREFIX_V3, ADMIN_PREFIX_V4)


@dataclass(frozen=True)
class Endpoint:
    """One admin command.

    ``query``: parameters the clients always send; ``optional_query``: ones
    they may send. ``request_shape`` / ``response_shape`` name a TypedDict or
    function in ``api.admin.shapes`` (``None`` = empty body).
    ``clients``: which clients call it ("minio-py", "mc").
    """

    method: str
    path: str
    query: tuple[str, ...]
    encrypted_request: bool
    encrypted_response: bool
    description: str
    success_status: int = 200
    optional_query: tuple[str, ...] = ()
    request_shape: str | None = None
    response_shape: str | None = None
    clients: tuple[str, ...] = ("minio-py", "mc")
    core: bool = True  # False: only newer mc uses it, not required by issue 3
    notes: tuple[str, ...] = field(default=())

    @property
    def command(self) -> str:
        return self.path[len(ADMIN_PREFIX_V3) + 1 :]


def _ep(command: str, method: str, query: tuple[str, ...] = (), **kw) -> Endpoint:
    return Endpoint(method=method, path=f"{ADMIN_PREFIX_V3}/{command}", query=query, **kw)


ENDPOINTS: dict[str, Endpoint] = {
    # ---- users ------------------------------------------------------------------------------
    "add-user": _ep(
        "add-user",
        "PUT",
        ("accessKey",),
        encrypted_request=True,
        encrypted_response=False,
        description="Create a user or update its secret/status (madmin SetUser/AddUser).",
        request_shape="AddOrUpdateUserReq",
        notes=(
            'minio-py body: {"status":"enabled","secretKey":...}; madmin: '
            '{"secretKey":...,"status":...} (+"policy" omitempty).',
            "MinIO refuses accessKey == root or an existing STS/service-account key.",
        ),
    ),
    "remove-user": _ep(
        "remove-user",
        "DELETE",
        ("accessKey",),
        encrypted_request=False,
        encrypted_response=False,
        description="Delete a user.",
    ),
    "list-users": _ep(
        "list-users",
        "GET",
        encrypted_request=False,
        encrypted_response=True,
        description="All users: {accessKey: UserInfo} (secretKey never included).",
        optional_query=("bucket",),
        response_shape="list_users_response",
    ),
    "user-info": _ep(
        "user-info",
        "GET",
        ("accessKey",),
        encrypted_request=False,
        encrypted_response=False,
        description="One user's UserInfo (plain JSON). A user may read its own info.",
        response_shape="user_info",
    ),
    "set-user-status": _ep(
        "set-user-status",
        "PUT",
        ("accessKey", "status"),
        encrypted_request=False,
        encrypted_response=False,
        description="status=enabled|disabled.",
    ),
    # ---- canned policies --------------------------------------------------------------------
    "add-canned-policy": _ep(
        "add-canned-policy",
        "PUT",
        ("name",),
        encrypted_request=False,
        encrypted_response=False,
        description="Create or replace a policy; the body is the raw policy JSON (not encrypted).",
        request_shape="policy document",
    ),
    "remove-canned-policy": _ep(
        "remove-canned-policy",
        "DELETE",
        ("name",),
        encrypted_request=False,
        encrypted_response=False,
        description="Delete a policy.",
    ),
    "list-canned-policies": _ep(
        "list-canned-policies",
        "GET",
        encrypted_request=False,
        encrypted_response=False,
        description="{name: policy document} for every policy (plain JSON).",
        response_shape="list_canned_policies_response",
    ),
    "info-canned-policy": _ep(
        "info-canned-policy",
        "GET",
        ("name",),
        encrypted_request=False,
        encrypted_response=False,
        description=(
            "Without v: the raw policy document (minio-py). With v=2: PolicyInfo "
            "{PolicyName, Policy, CreateDate, UpdateDate} (mc)."
        ),
        optional_query=("v",),
        response_shape="policy_info",
    ),
    "set-user-or-group-policy": _ep(
        "set-user-or-group-policy",
        "PUT",
        ("policyName", "userOrGroup", "isGroup"),
        encrypted_request=False,
        encrypted_response=False,
        description=(
            "Replace the entity's policy set with policyName (comma-separated names; "
            "empty = none). isGroup=true|false. Deprecated in madmin v3, gone in v4; "
            "minio-py's policy_set still uses it."
        ),
        clients=("minio-py",),
    ),
    "idp/builtin/policy/attach": _ep(
        "idp/builtin/policy/attach",
        "POST",
        encrypted_request=True,
        encrypted_response=True,
        description=(
            "Attach policies to a user or group (PolicyAssociationReq) → "
            "PolicyAssociationResp with policiesAttached (only the newly attached)."
        ),
        request_shape="PolicyAssociationReq",
        response_shape="policy_association_response",
        notes=(
            "madmin also accepts 201/204 with no body (older servers); minio-py too.",
            "Nothing to change (all already attached / none attached): 400 "
            'XMinioAdminPolicyChangeAlreadyApplied, "The specified policy change is already in effect."',
        ),
    ),
    "idp/builtin/policy/detach": _ep(
        "idp/builtin/policy/detach",
        "POST",
        encrypted_request=True,
        encrypted_response=True,
        description="Detach policies; response carries policiesDetached.",
        request_shape="PolicyAssociationReq",
        response_shape="policy_association_response",
    ),
    "idp/builtin/policy-entities": _ep(
        "idp/builtin/policy-entities",
        "GET",
        encrypted_request=False,
        encrypted_response=True,
        description="Policy ↔ user/group mappings (PolicyEntitiesResult); repeated user/group/policy params.",
        optional_query=("user", "group", "policy"),
        response_shape="PolicyEntitiesResult",
        core=False,
    ),
    # ---- groups -----------------------------------------------------------------------------
    "update-group-members": _ep(
        "update-group-members",
        "PUT",
        encrypted_request=False,
        encrypted_response=False,
        description=(
            "GroupAddRemove (plain JSON): add members (creating the group), or with "
            "isRemove remove members — removing with no members deletes the (empty) group."
        ),
        request_shape="GroupAddRemove",
    ),
    "groups": _ep(
        "groups",
        "GET",
        encrypted_request=False,
        encrypted_response=False,
        description="JSON array of group names.",
        response_shape="list_groups_response",
    ),
    "group": _ep(
        "group",
        "GET",
        ("group",),
        encrypted_request=False,
        encrypted_response=False,
        description="GroupDesc {name, status, members, policy, updatedAt}.",
        response_shape="group_desc",
    ),
    "set-group-status": _ep(
        "set-group-status",
        "PUT",
        ("group", "status"),
        encrypted_request=False,
        encrypted_response=False,
        description="status=enabled|disabled.",
    ),
    # ---- service accounts -------------------------------------------------------------------
    "add-service-account": _ep(
        "add-service-account",
        "PUT",
        encrypted_request=True,
        encrypted_response=True,
        description=(
            'AddServiceAccountReq → AddServiceAccountResp {"credentials": Credentials}. '
            "No targetUser = for the requester (its parent if it is itself derived)."
        ),
        request_shape="AddServiceAccountReq",
        response_shape="add_service_account_response",
    ),
    "update-service-account": _ep(
        "update-service-account",
        "POST",
        ("accessKey",),
        encrypted_request=True,
        encrypted_response=False,
        description="UpdateServiceAccountReq; answers 204 No Content (madmin requires 204).",
        success_status=204,
        request_shape="UpdateServiceAccountReq",
    ),
    "delete-service-account": _ep(
        "delete-service-account",
        "DELETE",
        ("accessKey",),
        encrypted_request=False,
        encrypted_response=False,
        description=(
            "Delete; answers 204 (madmin requires 204). Another user's key answers "
            "XMinioAdminServiceAccountNotFound, not AccessDenied."
        ),
        success_status=204,
    ),
    "list-service-accounts": _ep(
        "list-service-accounts",
        "GET",
        ("user",),
        encrypted_request=False,
        encrypted_response=True,
        description="ListServiceAccountsResp {accounts: [ServiceAccountInfo]}; empty user = the requester.",
        response_shape="list_service_accounts_response",
    ),
    "info-service-account": _ep(
        "info-service-account",
        "GET",
        ("accessKey",),
        encrypted_request=False,
        encrypted_response=True,
        description=(
            "InfoServiceAccountResp; policy = the embedded policy, or the parent's "
            "combined policy when impliedPolicy, as an indented JSON string."
        ),
        response_shape="info_service_account_response",
    ),
    "info-access-key": _ep(
        "info-access-key",
        "GET",
        ("accessKey",),
        encrypted_request=False,
        encrypted_response=True,
        description="InfoAccessKeyResp: InfoServiceAccountResp + accessKey/userType/userProvider (mc admin accesskey "
        "info).",
        clients=("mc",),
        core=False,
    ),
    "list-access-keys-bulk": _ep(
        "list-access-keys-bulk",
        "GET",
        ("listType",),
        encrypted_request=False,
        encrypted_response=True,
        description=(
            "{user: {serviceAccounts: [ServiceAccountInfo], stsKeys: [...]}} "
            "(mc admin accesskey ls); repeated users=, or all=true; listType "
            "users-only|sts-only|svcacc-only|all."
        ),
        optional_query=("users", "all"),
        clients=("mc",),
        core=False,
    ),
    # ---- configuration (notification targets) ----------------------------------------------
    "set-config-kv": _ep(
        "set-config-kv",
        "PUT",
        encrypted_request=True,
        encrypted_response=False,
        description=(
            "Set a notification target's settings: the decrypted body is config KV text, "
            "'notify_redis:1 address=127.0.0.1:6379 key=events format=namespace' (minio-py "
            "config_set joins key=value pairs with spaces, unquoted). Empty 200 answer with "
            "x-minio-config-applied: true (no restart needed)."
        ),
        request_shape="config KV text",
        notes=(
            "Errors: XMinioConfigError (unknown sub-system or key), "
            "XMinioAdminConfigBadJSON (settings that do not validate, with the reason).",
        ),
    ),
    "get-config-kv": _ep(
        "get-config-kv",
        "GET",
        ("key",),
        encrypted_request=False,
        encrypted_response=True,
        description=(
            "Encrypted config KV text for key=notify_redis:1 (one target), notify_redis "
            "(all of a sub-system) or empty (all targets); '# ENV=value' lines first for "
            "settings from the environment; secrets left out, DSN passwords masked."
        ),
        optional_query=("subSys",),
        response_shape="config KV text",
    ),
    "del-config-kv": _ep(
        "del-config-kv",
        "DELETE",
        encrypted_request=True,
        encrypted_response=False,
        description=(
            "Remove a target: decrypted body 'notify_redis:1' (minio-py config_reset); "
            "'notify_redis:1 key ...' resets those keys to their defaults."
        ),
        request_shape="config KV text",
    ),
    "help-config-kv": _ep(
        "help-config-kv",
        "GET",
        ("subSys", "key"),
        encrypted_request=False,
        encrypted_response=False,
        description=(
            "madmin Help as plain JSON {subSys, description, multipleTargets, keysHelp: "
            "[{key, description, optional, type, multipleTargets}]} for subSys=notify_redis "
            "(key= narrows it to one key); an empty subSys lists the sub-systems. mc calls it "
            "for 'mc admin config set ALIAS notify_redis' without keys."
        ),
        optional_query=("envVars",),
        clients=("mc",),
        core=False,
    ),
    # ---- server -----------------------------------------------------------------------------
    "info": _ep(
        "info",
        "GET",
        encrypted_request=False,
        encrypted_response=False,
        description="InfoMessage (plain JSON); mc sends metrics=false&no-cache=false.",
        optional_query=("metrics", "no-cache"),
        response_shape="info_message",
    ),
    # ---- buckets ----------------------------------------------------------------------------
    "set-bucket-quota": _ep(
        "set-bucket-quota",
        "PUT",
        ("bucket",),
        encrypted_request=False,
        encrypted_response=False,
        description=(
            "madmin BucketQuota as plain JSON {quota (deprecated name of size), size, rate, requests, "
            "quotatype}; Chronicle adds objects. mc quota set / clear, minio-py bucket_quota_set / clear "
            "(sends quota only). All limits 0 clears the quota. Answer: 200, empty body."
        ),
        clients=("minio-py", "mc", "chronicle"),
        core=False,
    ),
    "get-bucket-quota": _ep(
        "get-bucket-quota",
        "GET",
        ("bucket",),
        encrypted_request=False,
        encrypted_response=False,
        description=(
            "The bucket's BucketQuota as plain JSON (quotatype omitted when no quota), with Chronicle's "
            "objects and usage {size, objects}."
        ),
        clients=("minio-py", "mc", "chronicle"),
        core=False,
    ),
    # ---- Chronicle's own ----------------------------------------------------------------------
    "chronicle/targets": _ep(
        "chronicle/targets",
        "GET",
        encrypted_request=False,
        encrypted_response=False,
        description="Notification targets' delivery state: checkpoint, lag, counts, last error.",
        clients=("chronicle",),
        core=False,
    ),
    "chronicle/audit": _ep(
        "chronicle/audit",
        "GET",
        encrypted_request=False,
        encrypted_response=False,
        description="The audit questions: changes from the audit index, or recorded requests (requests=true).",
        optional_query=(
            "bucket",
            "key",
            "prefix",
            "principal",
            "sourceIp",
            "event",
            "status",
            "since",
            "until",
            "after",
            "limit",
            "requests",
        ),
        clients=("chronicle",),
        core=False,
    ),
    # A bucket's history retention (api.admin.bucket_retention), shaped as MinIO's
    # set-bucket-quota / get-bucket-quota: the bucket in the query, JSON in and out.
    "chronicle/set-bucket-retention": _ep(
        "chronicle/set-bucket-retention",
        "PUT",
        ("bucket",),
        encrypted_request=False,
        encrypted_response=False,
        description='Give a bucket its own history retention: body {"retention": "30d"} (12h, 90m, 45s, 0).',
        clients=("chronicle",),
        core=False,
    ),
    "chronicle/get-bucket-retention": _ep(
        "chronicle/get-bucket-retention",
        "GET",
        ("bucket",),
        encrypted_request=False,
        encrypted_response=False,
        description="A bucket's history retention: its own, or the server default.",
        clients=("chronicle",),
        core=False,
    ),
    "chronicle/clear-bucket-retention": _ep(
        "chronicle/clear-bucket-retention",
        "DELETE",
        ("bucket",),
        encrypted_request=False,
        encrypted_response=False,
        description="Return a bucket to the server default history retention.",
        clients=("chronicle",),
        core=False,
    ),
}


def split_admin_path(path: str) -> str | None:
    """``/minio/admin/v3/add-user`` (or ``/v4/``) → ``"add-user"``; other paths → None."""
    for prefix in ADMIN_PREFIXES:
        if path.startswith(prefix + "/"):
            return path[len(prefix) + 1 :]
    return None


def lookup(method: str, path: str) -> Endpoint | None:
    """The endpoint for a request line, or None (unknown command or wrong method)."""
    command = split_admin_path(path)
    if command is None:
        return None
    endpoint = ENDPOINTS.get(command)
    if endpoint is None or endpoint.method != method.upper():
        return None
    return endpoint

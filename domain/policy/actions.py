"""The action names a policy may mention, per service prefix.

A statement's action must be one of these or a wildcard pattern that matches
at least one of them (`s3:*`, `s3:Get*`, `*`); anything else is rejected, as
AWS and MinIO reject it. Names are matched case-insensitively.
"""

from __future__ import annotations

# --- S3 -------------------------------------------------------------------

#: Actions on an object ARN (arn:aws:s3:::bucket/key).
S3_OBJECT_ACTIONS: frozenset[str] = frozenset(
    {
        "s3:AbortMultipartUpload",
        "s3:BypassGovernanceRetention",
        "s3:DeleteObject",
        "s3:DeleteObjectTagging",
        "s3:DeleteObjectVersion",
        "s3:DeleteObjectVersionTagging",
        "s3:GetObject",
        "s3:GetObjectAcl",
        "s3:GetObjectAttributes",
        "s3:GetObjectLegalHold",
        "s3:GetObjectRetention",
        "s3:GetObjectTagging",
        "s3:GetObjectTorrent",
        "s3:GetObjectVersion",
        "s3:GetObjectVersionAcl",
        "s3:GetObjectVersionAttributes",
        "s3:GetObjectVersionForReplication",
        "s3:GetObjectVersionTagging",
        "s3:GetObjectVersionTorrent",
        "s3:ListMultipartUploadParts",
        "s3:ObjectOwnerOverrideToBucketOwner",
        "s3:PutObject",
        "s3:PutObjectAcl",
        "s3:PutObjectFanOut",
        "s3:PutObjectLegalHold",
        "s3:PutObjectRetention",
        "s3:PutObjectTagging",
        "s3:PutObjectVersionAcl",
        "s3:PutObjectVersionTagging",
        "s3:ReplicateDelete",
        "s3:ReplicateObject",
        "s3:ReplicateTags",
        "s3:RestoreObject",
    }
)

#: Actions with no resource (the request resource is "*").
S3_SERVICE_ACTIONS: frozenset[str] = frozenset(
    {
        "s3:ListAllMyBuckets",
        "s3:GetAccountPublicAccessBlock",
        "s3:PutAccountPublicAccessBlock",
        "s3:ListenNotification",
    }
)

#: Actions on a bucket ARN (arn:aws:s3:::bucket).
S3_BUCKET_ACTIONS: frozenset[str] = frozenset(
    {
        "s3:CreateBucket",
        "s3:DeleteBucket",
        "s3:ForceDeleteBucket",
        "s3:HeadBucket",
        "s3:ListBucket",
        "s3:ListBucketVersions",
        "s3:ListBucketMultipartUploads",
        "s3:GetBucketLocation",
        "s3:GetBucketPolicy",
        "s3:PutBucketPolicy",
        "s3:DeleteBucketPolicy",
        "s3:GetBucketPolicyStatus",
        "s3:GetBucketAcl",
        "s3:PutBucketAcl",
        "s3:GetBucketCORS",
        "s3:PutBucketCORS",
        "s3:DeleteBucketCors",
        "s3:GetBucketNotification",
        "s3:PutBucketNotification",
        "s3:ListenBucketNotification",
        "s3:GetBucketTagging",
        "s3:PutBucketTagging",
        "s3:GetBucketVersioning",
        "s3:PutBucketVersioning",
        "s3:GetLifecycleConfiguration",
        "s3:PutLifecycleConfiguration",
        "s3:GetEncryptionConfiguration",
        "s3:PutEncryptionConfiguration",
        "s3:GetBucketObjectLockConfiguration",
        "s3:PutBucketObjectLockConfiguration",
        "s3:GetReplicationConfiguration",
        "s3:PutReplicationConfiguration",
        "s3:ResetBucketReplicationState",
        "s3:GetBucketOwnershipControls",
        "s3:PutBucketOwnershipControls",
        "s3:GetBucketPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
        "s3:GetBucketWebsite",
        "s3:PutBucketWebsite",
        "s3:DeleteBucketWebsite",
        "s3:GetBucketLogging",
        "s3:PutBucketLogging",
        "s3:GetAccelerateConfiguration",
        "s3:PutAccelerateConfiguration",
        "s3:GetBucketRequestPayment",
        "s3:PutBucketRequestPayment",
        "s3:GetAnalyticsConfiguration",
        "s3:PutAnalyticsConfiguration",
        "s3:GetInventoryConfiguration",
        "s3:PutInventoryConfiguration",
        "s3:GetMetricsConfiguration",
        "s3:PutMetricsConfiguration",
        "s3:GetIntelligentTieringConfiguration",
        "s3:PutIntelligentTieringConfiguration",
        "s3:GetBucketQOS",
        "s3:PutBucketQOS",
    }
)

S3_ACTIONS: frozenset[str] = S3_OBJECT_ACTIONS | S3_SERVICE_ACTIONS | S3_BUCKET_ACTIONS

# --- MinIO admin (minio/pkg policy/admin-action.go) -------------------------

ADMIN_ACTIONS: frozenset[str] = frozenset(
    "admin:" + name
    for name in (
        "Heal Decommission Rebalance StorageInfo Prometheus DataUsageInfo ForceUnlock "
        "TopLocksInfo Profiling ServerTrace ConsoleLog KMSCreateKey KMSKeyStatus ServerInfo "
        "OBDInfo LicenseInfo BandwidthMonitor InspectData ServerUpdate ServiceRestart "
        "ServiceStop ServiceFreeze ServiceCordon ConfigUpdate CreateUser DeleteUser ListUsers "
        "EnableUser DisableUser GetUser SiteReplicationAdd SiteReplicationDisable "
        "SiteReplicationRemove SiteReplicationResync SiteReplicationInfo "
        "SiteReplicationOperation CreateServiceAccount UpdateServiceAccount "
        "RemoveServiceAccount ListServiceAccounts ListTemporaryAccounts AddUserToGroup "
        "RemoveUserFromGroup GetGroup ListGroups EnableGroup DisableGroup CreatePolicy "
        "DeletePolicy GetPolicy AttachUserOrGroupPolicy UpdatePolicyAssociation "
        "ListUserPolicies SetBucketQuota GetBucketQuota SetBucketTarget GetBucketTarget "
        "ReplicationDiff ImportBucketMetadata ExportBucketMetadata SetTier ListTier ExportIAM "
        "ImportIAM ListBatchJobs DescribeBatchJob StartBatchJob CancelBatchJob "
        "GenerateBatchJob InventoryControl ClusterInfo PoolList PoolInfo NodeList NodeInfo "
        "SetInfo DriveList DriveInfo"
    ).split()
)

# --- MinIO KMS (minio/pkg policy/kms-action.go) -----------------------------

KMS_ACTIONS: frozenset[str] = frozenset(
    "kms:" + name
    for name in (
        "CreateKey DeleteKey ListKeys ImportKey DescribePolicy AssignPolicy DeletePolicy "
        "SetPolicy GetPolicy ListPolicies DescribeIdentity DescribeSelfIdentity "
        "DeleteIdentity ListIdentities KeyStatus Status API Metrics Version AuditLog "
        "ErrorLog Enable KeyRotate"
    ).split()
)

# --- STS ------------------------------------------------------------------

STS_ACTIONS: frozenset[str] = frozenset(
    "sts:" + name
    for name in (
        "AssumeRole AssumeRoleWithWebIdentity AssumeRoleWithSAML GetSessionToken "
        "GetCallerIdentity GetAccessKeyInfo GetFederationToken TagSession SetSourceIdentity "
        "DecodeAuthorizationMessage"
    ).split()
)

# --- IAM (the AWS IAM query API subset and its neighbours) -------------------

IAM_ACTIONS: frozenset[str] = frozenset(
    "iam:" + name
    for name in (
        "CreateUser GetUser ListUsers DeleteUser UpdateUser TagUser UntagUser ListUserTags "
        "CreateAccessKey ListAccessKeys UpdateAccessKey DeleteAccessKey GetAccessKeyLastUsed "
        "PutUserPolicy GetUserPolicy ListUserPolicies DeleteUserPolicy "
        "AttachUserPolicy DetachUserPolicy ListAttachedUserPolicies "
        "CreateRole GetRole DeleteRole UpdateRole ListRoles UpdateAssumeRolePolicy "
        "TagRole UntagRole ListRoleTags PutRolePolicy GetRolePolicy DeleteRolePolicy "
        "ListRolePolicies AttachRolePolicy DetachRolePolicy ListAttachedRolePolicies "
        "CreateGroup GetGroup DeleteGroup UpdateGroup ListGroups ListGroupsForUser "
        "AddUserToGroup RemoveUserFromGroup PutGroupPolicy GetGroupPolicy DeleteGroupPolicy "
        "ListGroupPolicies AttachGroupPolicy DetachGroupPolicy ListAttachedGroupPolicies "
        "CreatePolicy GetPolicy DeletePolicy ListPolicies CreatePolicyVersion "
        "GetPolicyVersion DeletePolicyVersion ListPolicyVersions SetDefaultPolicyVersion "
        "ListEntitiesForPolicy PassRole GetAccountSummary GetAccountAuthorizationDetails "
        "CreateOpenIDConnectProvider GetOpenIDConnectProvider DeleteOpenIDConnectProvider "
        "ListOpenIDConnectProviders AddClientIDToOpenIDConnectProvider "
        "RemoveClientIDFromOpenIDConnectProvider UpdateOpenIDConnectProviderThumbprint ChangePassword "
        "CreateLoginProfile GetLoginProfile "
        "UpdateLoginProfile DeleteLoginProfile"
    ).split()
)

KNOWN_ACTIONS: frozenset[str] = S3_ACTIONS | ADMIN_ACTIONS | KMS_ACTIONS | STS_ACTIONS | IAM_ACTIONS

#: lower-case name -> canonical spelling
CANONICAL: dict[str, str] = {a.lower(): a for a in KNOWN_ACTIONS}

#: service prefixes this server knows
SERVICES: frozenset[str] = frozenset({"s3", "admin", "kms", "sts", "iam"})

#: services whose statements may omit Resource and whose requests skip
#: resource matching (MinIO: admin and KMS actions are not about a bucket)
RESOURCELESS_SERVICES: frozenset[str] = frozenset({"admin", "kms"})


def service_of(action: str) -> str:
    """The lower-case service prefix of an action ("" for "*")."""
    head, sep, _ = action.partition(":")
    return head.lower() if sep else ""


def scope_of(action: str) -> str:
    """ "object", "bucket" or "service" for a known S3 action, "" otherwise."""
    canonical = CANONICAL.get(action.lower())
    if canonical is None:
        return ""
    if canonical in S3_OBJECT_ACTIONS:
        return "object"
    if canonical in S3_BUCKET_ACTIONS:
        return "bucket"
    if canonical in S3_SERVICE_ACTIONS:
        return "service"
    return ""

"""What authentication reads in the same statement as the caller's credential: the
addressed bucket's facts authorization needs (row and policy), and for a plain GET or HEAD
of an object the addressed version too, so a user's request costs no more round trips than
root's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from api.errors import S3Error
from api.s3.handlers.object_read import check_version, load_inline_async
from projections.namespace.queries import VERSION_COLUMNS
from projections.notifications.subscriptions_generation import GENERATION_COLUMN

if TYPE_CHECKING:
    from api.context import ServerContext

# What authorization reads of the bucket (existence, owner) and the version lookup its versioning.
_BUCKET_COLUMNS = ("name", "owner", "versioning")
_CREDENTIAL_COLUMNS = (
    "access_key",
    "kind",
    "parent_user",
    "sealed_secret",
    "status",
    "policy",
    "expiration_us",
    "token_hash",
    "role",
    "name",
)
_V_COLUMNS = ", ".join(f"v.{c.strip()}" for c in VERSION_COLUMNS.split(","))
_AUTH_SQL = (
    "SELECT "
    + ", ".join(f"k.{c} AS k_{c}" for c in _CREDENTIAL_COLUMNS)
    + ", u.status AS k_parent_status, u.path AS k_parent_path, g.gen AS k_gen, "
    + ", ".join(f"b.{c} AS b_{c}" for c in _BUCKET_COLUMNS)
    + """, c.document AS b_policy{version_columns}
    FROM (SELECT 1 AS one) one
    LEFT JOIN iam_keys k ON k.access_key = ?
    LEFT JOIN iam_users u ON u.name = k.parent_user
    LEFT JOIN iam_generation g ON g.id = 1
    LEFT JOIN ns_buckets b ON b.name = ?
    LEFT JOIN ns_bucket_configs c ON c.bucket = b.name AND c.name = 'policy'{version_join}"""
)
_CREDENTIAL_BUCKET_SQL = _AUTH_SQL.format(version_columns="", version_join="")
# A plain user's GET/HEAD of an object: credential, IAM generation, bucket, bucket policy
# and the addressed version in ONE statement, so the user's path costs no more round trips
# than root's (which reads the bucket and version in one statement too).
_WITH_LATEST_SQL = _AUTH_SQL.format(
    version_columns=f", {GENERATION_COLUMN}, {_V_COLUMNS}",
    version_join="\n    LEFT JOIN ns_versions v ON v.bucket = b.name AND v.key = ? AND v.is_latest",
)
_WITH_VERSION_SQL = _AUTH_SQL.format(
    version_columns=f", {GENERATION_COLUMN}, {_V_COLUMNS}",
    version_join="\n    LEFT JOIN ns_versions v ON v.bucket = b.name AND v.key = ? AND v.version_id = ?",
)
_VERSION_NAMES = tuple(c.strip() for c in VERSION_COLUMNS.split(","))

Facts = tuple[dict[str, Any] | None, str | None]  # the bucket row and its policy's JSON text

# A key this process already knows at the current IAM generation needs only that generation
# read with the bucket (IdentityStore.known): the statement is root's own plus two index
# probes, instead of joining the key and its user as well.
_GEN = "(SELECT gen FROM iam_generation WHERE id = 1) AS k_gen"
_POLICY = "(SELECT document FROM ns_bucket_configs c WHERE c.bucket = b.name AND c.name = 'policy') AS b_policy"
_B_COLUMNS = ", ".join(f"b.{c} AS b_{c}" for c in _BUCKET_COLUMNS)
_KNOWN_BUCKET_SQL = f"SELECT {_GEN}, {_B_COLUMNS}, {_POLICY} FROM ns_buckets b WHERE b.name = ?"
_KNOWN_LATEST_SQL = (
    f"SELECT {_GEN}, {_B_COLUMNS}, {_POLICY}, {GENERATION_COLUMN}, {_V_COLUMNS} FROM ns_buckets b "
    "LEFT JOIN ns_versions v ON v.bucket = b.name AND v.key = ? AND v.is_latest WHERE b.name = ?"
)
_KNOWN_VERSION_SQL = (
    f"SELECT {_GEN}, {_B_COLUMNS}, {_POLICY}, {GENERATION_COLUMN}, {_V_COLUMNS} FROM ns_buckets b "
    "LEFT JOIN ns_versions v ON v.bucket = b.name AND v.key = ? AND v.version_id = ? WHERE b.name = ?"
)


def _facts(row: dict[str, Any]) -> Facts:
    bucket_row = {c: row[f"b_{c}"] for c in _BUCKET_COLUMNS} if row["b_name"] is not None else None
    return bucket_row, row["b_policy"]


def _credential(row: dict[str, Any]) -> dict[str, Any] | None:
    if row["k_access_key"] is None:
        return None
    cred = {c: row[f"k_{c}"] for c in _CREDENTIAL_COLUMNS}
    cred["parent_status"] = row["k_parent_status"]
    cred["parent_path"] = row["k_parent_path"]
    cred["gen"] = row["k_gen"]
    return cred


async def _auth_row(
    ctx: ServerContext,
    access_key: str,
    known_sql: str,
    known_params: tuple[Any, ...],
    full_sql: str,
    full_params: tuple[Any, ...],
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(credential, row) in one statement: the light one when the key's credential is known
    at the generation the statement reads, else (first use, a changed generation, no such
    bucket) the one that reads the credential too."""
    known = ctx.identities.known(access_key)
    if known is not None:
        row = await ctx.fetch_one(known_sql, known_params)
        if row is not None and row["k_gen"] == known["gen"]:
            return known, row
    row = await ctx.fetch_one(full_sql, full_params)
    assert row is not None
    cred = _credential(row)
    if cred is not None:
        ctx.identities.remember(cred)
    return cred, row


async def credential_and_bucket(
    ctx: ServerContext, access_key: str, bucket: str
) -> tuple[dict[str, Any] | None, Facts]:
    """The key's credential row and the bucket's facts (row and policy text) in one statement."""
    cred, row = await _auth_row(
        ctx, access_key, _KNOWN_BUCKET_SQL, (bucket,), _CREDENTIAL_BUCKET_SQL, (access_key, bucket)
    )
    return cred, _facts(row)


async def credential_bucket_version(
    ctx: ServerContext, access_key: str, bucket: str, key: str, version_id: str | None, *, load_inline: bool
) -> tuple[dict[str, Any] | None, Facts, Any]:
    """credential_and_bucket plus the addressed object version, in one statement. The version
    comes back as (versionId, ("row"|"error", value)) for object_read._serve; the
    handler only sees it once authorization allowed the request."""
    if version_id is None:
        cred, row = await _auth_row(
            ctx, access_key, _KNOWN_LATEST_SQL, (key, bucket), _WITH_LATEST_SQL, (access_key, bucket, key)
        )
    else:
        cred, row = await _auth_row(
            ctx,
            access_key,
            _KNOWN_VERSION_SQL,
            (key, version_id, bucket),
            _WITH_VERSION_SQL,
            (access_key, bucket, key, version_id),
        )
    facts = _facts(row)
    found = None
    if facts[0] is not None:
        found = {c: row[c] for c in _VERSION_NAMES}
        found["bucket_versioning"] = row["b_versioning"]
        found["n_gen"] = row["n_gen"]
    try:
        version = check_version(found, bucket, key, version_id)
        if load_inline and not version["is_delete_marker"]:
            version["_inline"] = await load_inline_async(ctx, version)
    except S3Error as err:
        return cred, facts, (version_id, ("error", err))
    except OSError:
        return cred, facts, None  # a small object's bytes vanished meanwhile: the handler reads again
    return cred, facts, (version_id, ("row", version))

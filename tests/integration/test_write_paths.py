"""Every write scenario through every append path leaves the same projection tables.

The store decides by itself which path a batch takes (projections.eventstore.fast_path): on
PostgreSQL the one-statement append of plain PUTs and the pipelined batch, or with
CHRONICLE_FAST_PATH=off the careful path (a savepoint and statements per plan); SQLite has
the careful path only. One history of writes (plain, concurrent, versioned and conditional
PUTs, refused ones, copies, deletes and delete markers, multipart uploads, bucket
configuration and IAM changes) is sent to a server on each path, and the inline projection
tables are compared row by row, ignoring only what differs between any two runs (random
ids, log positions, times, sealed secrets)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from projections.eventstore.inline import INLINE_TABLES
from tests.integration.test_replay import exercise_iam

PATHS = {
    "postgres-fast": ("postgres", {"CHRONICLE_FAST_PATH": "on"}),
    "postgres-careful": ("postgres", {"CHRONICLE_FAST_PATH": "off"}),
    "sqlite": ("sqlite", {}),
}
# Values that differ between two runs of one history: random ids (version, upload, blob,
# aggregate ids), times and log positions, secrets and the keys STS makes up.
_RANDOM_ID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}|\b[A-Z0-9]{20}\b")
_VOLATILE_COLUMNS = re.compile(r"(^|_)(us|position|positions|generation|sealed_secret|token_hash|access_key)$|^id$")
_VOLATILE_TEXT = re.compile(r'"(\w*_us|mtime|created|expiration\w*|time|sealed_secret|token_hash)": ?[^,}]+')


def _failed(call) -> str:  # type: ignore[no-untyped-def]
    try:
        call()
    except ClientError as err:
        return str(err.response["Error"]["Code"])
    return "no error"


def write_history(s3, bucket: str) -> None:
    """Each scenario of the write path, in one order, with the refusals it must give."""
    s3.create_bucket(Bucket=bucket)
    assert _failed(lambda: s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "x"}))
    # Plain PUTs, concurrently (the fast path batches them), then overwritten.
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda i: s3.put_object(Bucket=bucket, Key=f"plain/{i}", Body=b"v%d" % i), range(48)))
    s3.put_object(Bucket=bucket, Key="plain/0", Body=b"again", Metadata={"m": "v"}, ContentType="text/plain")
    assert _failed(lambda: s3.put_object(Bucket=bucket + "-missing", Key="k", Body=b"x")) == "NoSuchBucket"
    # Conditional PUTs, held and refused.
    s3.put_object(Bucket=bucket, Key="cond", Body=b"1", IfNoneMatch="*")
    assert _failed(lambda: s3.put_object(Bucket=bucket, Key="cond", Body=b"2", IfNoneMatch="*")) == "PreconditionFailed"
    etag = s3.head_object(Bucket=bucket, Key="cond")["ETag"]
    assert _failed(lambda: s3.put_object(Bucket=bucket, Key="cond", Body=b"3", IfMatch='"0"')) == "PreconditionFailed"
    s3.put_object(Bucket=bucket, Key="cond", Body=b"4", IfMatch=etag)
    # Copies, tags, ACLs and deletes of an unversioned bucket.
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "plain/1"})
    s3.put_object_tagging(Bucket=bucket, Key="copy", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    s3.put_object_acl(Bucket=bucket, Key="copy", ACL="public-read")
    s3.delete_object(Bucket=bucket, Key="plain/2")
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "plain/3"}, {"Key": "plain/4"}, {"Key": "none"}]})
    # Versioned PUTs, a delete marker, a version deleted, a conditional delete refused.
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="v", Body=b"1")
    second = s3.put_object(Bucket=bucket, Key="v", Body=b"2")
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda i: s3.put_object(Bucket=bucket, Key=f"versioned/{i}", Body=b"x"), range(16)))
    s3.delete_object(Bucket=bucket, Key="v")
    s3.delete_object(Bucket=bucket, Key="v", VersionId=second["VersionId"])
    assert _failed(lambda: s3.delete_object(Bucket=bucket, Key="cond", IfMatch='"0"')) == "PreconditionFailed"
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket=bucket, Key="v", Body=b"3")
    s3.delete_object(Bucket=bucket, Key="versioned/0")
    # Multipart: completed (and a retried completion), aborted, left open; a bad part list.
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mpu")
    part = s3.upload_part(Bucket=bucket, Key="mpu", UploadId=upload["UploadId"], PartNumber=1, Body=b"p" * 1000)
    parts = {"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
    missing = {"Parts": [{"PartNumber": 2, "ETag": part["ETag"]}]}
    assert (
        _failed(
            lambda: s3.complete_multipart_upload(
                Bucket=bucket, Key="mpu", UploadId=upload["UploadId"], MultipartUpload=missing
            )
        )
        == "InvalidPart"
    )
    s3.complete_multipart_upload(Bucket=bucket, Key="mpu", UploadId=upload["UploadId"], MultipartUpload=parts)
    s3.complete_multipart_upload(Bucket=bucket, Key="mpu", UploadId=upload["UploadId"], MultipartUpload=parts)
    aborted = s3.create_multipart_upload(Bucket=bucket, Key="aborted")
    s3.abort_multipart_upload(Bucket=bucket, Key="aborted", UploadId=aborted["UploadId"])
    left = s3.create_multipart_upload(Bucket=bucket, Key="open")
    s3.upload_part(Bucket=bucket, Key="open", UploadId=left["UploadId"], PartNumber=3, Body=b"q")
    s3.upload_part_copy(
        Bucket=bucket, Key="open", UploadId=left["UploadId"], PartNumber=4, CopySource={"Bucket": bucket, "Key": "copy"}
    )
    # Bucket changes: configuration, a refused delete, a bucket deleted and made again.
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "x"}]})
    assert _failed(lambda: s3.delete_bucket(Bucket=bucket)) == "BucketNotEmpty"
    gone = bucket + "-gone"
    s3.create_bucket(Bucket=gone)
    s3.delete_bucket(Bucket=gone)
    s3.create_bucket(Bucket=gone)


def dump(database_url: str | None, data_dir) -> dict[str, list[tuple]]:  # type: ignore[no-untyped-def]
    """The inline projection tables, volatile values left out, rows sorted."""
    from projections.eventstore.recorder import open_store
    from projections.eventstore.tx import Tx

    app = open_store(database_url, data_dir, create_table=False)
    try:
        with app.store.read() as cursor:
            tx = Tx(cursor, app.store.dialect)
            out = {}
            for table in INLINE_TABLES:
                rows = []
                for row in tx.all(f"SELECT * FROM {table}"):
                    kept = []
                    for column, value in sorted(row.items()):
                        if _VOLATILE_COLUMNS.search(column):
                            continue
                        text = bytes(value).decode("latin-1") if isinstance(value, memoryview) else str(value)
                        if column != "etag":  # an MD5, the same on every path
                            text = _VOLATILE_TEXT.sub(r'"\1": _', _RANDOM_ID.sub("<id>", text))
                        # Booleans are integers on SQLite.
                        kept.append((column, {"True": "1", "False": "0"}.get(text, text)))
                    rows.append(tuple(kept))
                out[table] = sorted(rows)
            return out
    finally:
        app.close()


@pytest.fixture(scope="module")
def tables_by_path(tmp_path_factory, pg_template):  # type: ignore[no-untyped-def]
    from tests.helpers.server import ServerFactory
    from tests.helpers.services import drop_pg_database

    factory = ServerFactory(tmp_path_factory.mktemp("write-paths"))
    databases = []
    out = {}
    try:
        for path, (backend, env) in PATHS.items():
            database_url = None
            if backend == "postgres":
                name, database_url = pg_template.copy()
                databases.append(name)
            srv = factory(backend, database_url=database_url, env=env)
            write_history(srv.client(), "paths")
            exercise_iam(srv)
            srv.stop()
            out[path] = dump(database_url, srv.data_dir)
    finally:
        factory.close()
        for name in databases:
            drop_pg_database(name)
    return out


def test_the_history_reaches_every_table(tables_by_path):  # type: ignore[no-untyped-def]
    tables = tables_by_path["sqlite"]
    assert len(tables["ns_versions"]) > 60 and tables["ns_uploads"] and tables["ns_parts"]
    assert tables["iam_users"] and tables["iam_roles"] and tables["iam_groups"]


@pytest.mark.parametrize("path", ["postgres-careful", "sqlite"])
def test_every_path_leaves_the_fast_paths_tables(tables_by_path, path):  # type: ignore[no-untyped-def]
    fast, other = tables_by_path["postgres-fast"], tables_by_path[path]
    for table in INLINE_TABLES:
        assert other[table] == fast[table], table

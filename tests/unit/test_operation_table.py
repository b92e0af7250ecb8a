"""The operation tables are the only dispatch: every row can be reached by a request built
from the row itself, every row names a handler and an IAM action, and names are unique."""

from __future__ import annotations

import pytest

from api.iam.operations import QUERY_OPERATIONS
from api.request import S3Request
from api.s3.addressing import select
from api.s3.operation import ANY, Operation
from api.s3.operations import NO_ACTION, S3_OPERATIONS

# What makes a request match a row's predicate (rows sharing method, level and subresource).
_PREDICATE_HEADERS = {
    "CopyObject": {"x-amz-copy-source": "/src/key"},
    "UploadPartCopy": {"x-amz-copy-source": "/src/key"},
    "PostObject": {"content-type": "multipart/form-data; boundary=x"},
    "QueryAPI": {
        "authorization": "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/sts/aws4_request, "
        "SignedHeaders=host, Signature=00"
    },
}
_PREDICATE_QUERY = {"ListObjectsV2": {"list-type": "2"}}


def sample_request(row: Operation) -> S3Request:
    """A request addressed as the row says: its level, its subresource in the query."""
    level = "object" if row.level == ANY else row.level
    bucket = "" if level == "service" else "bucket"
    key = "dir/key" if level == "object" else ""
    query = {} if row.subresource in ("", ANY) else {row.subresource: ""}
    query.update(_PREDICATE_QUERY.get(row.name, {}))
    headers = {"host": "localhost", "origin": "https://example.com", **_PREDICATE_HEADERS.get(row.name, {})}
    req = S3Request(row.method, "/", "", headers, None, "127.0.0.1", "rid", "http", bucket=bucket, query=query)
    req.key = key
    return req


@pytest.mark.parametrize("row", S3_OPERATIONS.rows, ids=lambda row: row.name)
def test_a_sample_request_of_each_row_resolves_to_that_row(row):
    req = sample_request(row)
    assert S3_OPERATIONS.find(req, req.method, *select(req)) is row


@pytest.mark.parametrize("row", S3_OPERATIONS.rows, ids=lambda row: row.name)
def test_every_row_has_a_handler_and_an_action(row):
    assert callable(row.handler)
    assert row.name and row.name[0].isupper()
    if row.action == NO_ACTION:
        # Only rows whose handler decides who may call them (or nobody needs to).
        assert row.authenticates_itself
    else:
        assert row.action.startswith("s3:")
    assert row.version_action is None or "Version" in row.version_action


def test_names_are_unique_and_each_group_has_at_most_one_row_without_predicate():
    names = [row.name for row in S3_OPERATIONS.rows]
    assert len(names) == len(set(names))
    for key, group in S3_OPERATIONS.groups.items():
        assert sum(1 for row in group if row.when is None) <= 1, key
        assert len({row.action for row in group}) == 1, key  # what an unmatched request is authorized as


def test_requests_no_row_answers_are_authorized_as_their_group():
    plain_post = S3Request("POST", "/", "", {"host": "x"}, None, "", "rid", "http", bucket="bucket", query={})
    assert S3_OPERATIONS.find(plain_post, "POST", "bucket", "") is None
    assert S3_OPERATIONS.group_action("POST", "bucket", "") == "s3:PutObject"
    assert S3_OPERATIONS.group_action("PUT", "bucket", "website") == "s3:*"


def test_versioned_requests_ask_for_the_version_action():
    row = next(r for r in S3_OPERATIONS.rows if r.name == "GetObject")
    req = sample_request(row)
    assert row.iam_action(req) == "s3:GetObject"
    req.query["versionId"] = "null"
    assert row.iam_action(req) == "s3:GetObjectVersion"


def test_query_api_rows():
    names = [name for (_service, name) in QUERY_OPERATIONS]
    assert len(names) == len(set(names))
    for (service, name), row in QUERY_OPERATIONS.items():
        assert row.service == service and row.name == name
        assert callable(row.handler)
        assert row.action == f"{service}:{name}"
    assert {"AssumeRole", "GetSessionToken", "GetCallerIdentity"} <= {n for s, n in QUERY_OPERATIONS if s == "sts"}
    assert ("iam", "CreateUser") in QUERY_OPERATIONS

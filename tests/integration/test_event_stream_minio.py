"""An object event in the event stream carries MinIO's notification record alongside the
change record (`minio`): the very record the MinIO listen API sends for that event, so that
consumers written for MinIO's events keep working. SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
import requests

from tests.conftest import unique_bucket_name
from tests.helpers.change_schema import assert_valid
from tests.integration.test_event_stream import Stream, signed, start


def listen_records(srv, bucket: str, events: str, count: int) -> list[dict]:
    """The first `count` records the MinIO listen API sends from the start of the log."""
    url, hdrs = signed(srv, "GET", f"/{bucket}?events={events}&after=0")
    out: list[dict] = []
    with requests.get(url, headers=hdrs, stream=True, timeout=60) as response:
        assert response.status_code == 200
        for line in response.iter_lines(chunk_size=1):
            if line.strip():
                out += json.loads(line)["Records"]
            if len(out) >= count:
                return out
    raise AssertionError(f"the listen API ended after {len(out)} records")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_object_events_carry_the_record_the_minio_listen_api_sends(server_factory, request, backend):
    srv = start(backend, server_factory, request)
    s3 = srv.client()
    bucket = unique_bucket_name("minio-rec")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="photos/a b+c.jpg", Body=b"jpeg", Metadata={"camera": "x100"})
    s3.delete_object(Bucket=bucket, Key="photos/a b+c.jpg")

    stream = Stream(srv, f"from=beginning&bucket={bucket}")
    created, put, deleted = stream.records(3)
    stream.close()
    assert_valid([created, put, deleted])
    assert [r["event"] for r in (created, put, deleted)] == [
        "Bucket.Created",
        "ObjectVersion.Created",
        "DeleteMarker.Created",
    ]
    listened = listen_records(srv, bucket, "s3%3AObjectCreated%3A%2A&events=s3%3AObjectRemoved%3A%2A", 2)
    assert put["minio"] == listened[0]
    assert deleted["minio"] == listened[1]
    assert put["minio"]["eventName"] == "s3:ObjectCreated:Put"
    assert put["minio"]["s3"]["object"]["key"] == "photos/a b+c.jpg"
    assert created["minio"]["eventName"] == "s3:BucketCreated:*"


def test_records_without_a_minio_notice_have_no_minio_field(server):
    srv = server  # the stream is of its own bucket
    s3 = srv.client()
    bucket = unique_bucket_name("minio-none")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    stream = Stream(srv, f"from=beginning&bucket={bucket}")
    _created, versioning = stream.records(2)
    stream.close()
    assert versioning["event"].startswith("Bucket.") and versioning["event"] != "Bucket.Created"
    assert "minio" not in versioning

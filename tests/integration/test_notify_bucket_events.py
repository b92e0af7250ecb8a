"""s3:BucketCreated:* and s3:BucketRemoved:* reach listen API subscribers only (as in
MinIO, where a bucket's own rules never fire them): a bucket notification configuration
naming them is refused with MinIO's error for an event it does not notify, and changes
nothing; the listen API still streams them. So is a configuration naming an event of a
feature Chronicle does not have (replication, restore, ...): it would never fire."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.conftest import unique_bucket_name
from tests.integration.test_listen import signed_get

pytestmark = pytest.mark.timeout(60)

ARN = "arn:minio:sqs::1:webhook"
ENV = {
    "CHRONICLE_NOTIFY_WEBHOOK_ENABLE_1": "on",
    "CHRONICLE_NOTIFY_WEBHOOK_ENDPOINT_1": "http://127.0.0.1:1/",
}


@pytest.fixture
def hooked(server_factory):
    """A server with a webhook target (nothing listens there: nothing needs to arrive)."""
    srv = server_factory("sqlite", env=ENV)
    return srv, srv.client()


@pytest.mark.parametrize(
    "event",
    [
        "s3:BucketCreated:*",
        "s3:BucketRemoved:*",
        # Events of features Chronicle does not have, or never sends: accepted, they would
        # never fire.
        "s3:Replication:*",
        "s3:ObjectTransition:Complete",
        "s3:ObjectRestore:*",
        "s3:Scanner:ManyVersions",
        "s3:LifecycleDelMarkerExpiration:Delete",
        "s3:ObjectCreated:PutRetention",
        "s3:ObjectAccessed:Attributes",
        "s3:ObjectRemoved:NoOP",
    ],
)
def test_a_configuration_naming_an_event_that_never_fires_is_refused(hooked, event):
    _srv, s3 = hooked
    b = unique_bucket_name("bev")
    s3.create_bucket(Bucket=b)
    before = {"QueueArn": ARN, "Events": ["s3:ObjectCreated:*"]}
    s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={"QueueConfigurations": [before]})
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_notification_configuration(
            Bucket=b,
            NotificationConfiguration={
                "QueueConfigurations": [{"QueueArn": ARN, "Events": ["s3:ObjectRemoved:*", event]}]
            },
        )
    err = exc.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err["Error"]["Code"] == "InvalidArgument"
    assert err["Error"]["Message"] == "A specified event is not supported for notifications."
    got = s3.get_bucket_notification_configuration(Bucket=b)["QueueConfigurations"]
    assert [(q["QueueArn"], q["Events"]) for q in got] == [(ARN, ["s3:ObjectCreated:*"])]


def test_the_listen_api_streams_bucket_events(hooked):
    srv, s3 = hooked
    query = "events=s3%3ABucketCreated%3A%2A&events=s3%3ABucketRemoved%3A%2A"
    stream = signed_get(srv, f"/?{query}")
    b = unique_bucket_name("bev")
    try:
        assert stream.status == 200
        s3.create_bucket(Bucket=b)
        s3.delete_bucket(Bucket=b)
        seen: list[tuple[str, str]] = []
        buf = b""
        deadline = time.monotonic() + 20
        for chunk in stream.stream(256):
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                doc = json.loads(line) if line.strip() else None
                for r in (doc or {}).get("Records") or []:
                    if r["s3"]["bucket"]["name"] == b:
                        seen.append((r["eventName"], r["s3"]["bucket"]["name"]))
            if len(seen) >= 2 or time.monotonic() > deadline:
                break
        assert seen == [("s3:BucketCreated:*", b), ("s3:BucketRemoved:*", b)]
    finally:
        stream.release_conn()
        if stream.connection:
            stream.connection.close()

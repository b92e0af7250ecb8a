"""Put/GetBucketNotificationConfiguration through boto3 against a server with a webhook
target configured in the environment (CHRONICLE_NOTIFY_WEBHOOK_*_1), as MinIO answers."""

from __future__ import annotations

import pytest
import urllib3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.conftest import empty_and_delete_bucket, unique_bucket_name
from tests.helpers.server import ServerFactory

ARN = "arn:minio:sqs::1:webhook"
XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
EMPTY_XML = f'<NotificationConfiguration xmlns="{XMLNS}"></NotificationConfiguration>'.encode()
ENV = {
    "CHRONICLE_NOTIFY_WEBHOOK_ENABLE_1": "on",
    "CHRONICLE_NOTIFY_WEBHOOK_ENDPOINT_1": "http://127.0.0.1:1/",
    "CHRONICLE_NOTIFY_WEBHOOK_AUTH_TOKEN_1": "s3cr3t-token",
    "CHRONICLE_NOTIFY_WEBHOOK_ENABLE_2": "off",
}


@pytest.fixture(scope="module")
def nserver(tmp_path_factory):
    factory = ServerFactory(tmp_path_factory.mktemp("notify-servers"))
    yield factory("sqlite", env=ENV)
    factory.close()


@pytest.fixture(scope="module")
def ns3(nserver):
    return nserver.client()


@pytest.fixture
def nbucket(ns3):
    name = unique_bucket_name("notif")
    ns3.create_bucket(Bucket=name)
    yield name
    empty_and_delete_bucket(ns3, name)


def raw(server, method: str, path: str, body: bytes = b""):
    """A request signed with SigV4 as boto3 would, carrying exactly BODY."""
    import hashlib

    url = f"{server.endpoint}{path}"
    headers = {"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()}
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    S3SigV4Auth(Credentials(server.access_key, server.secret_key), "s3", "us-east-1").add_auth(request)
    return urllib3.request(method, url, body=body, headers=dict(request.headers))


def error_of(call, **kwargs) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    err = exc.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"], err["Error"].get("Message", "")


def queue(**over):
    q = {
        "Id": "rule-1",
        "QueueArn": ARN,
        "Events": ["s3:ObjectCreated:*"],
        "Filter": {
            "Key": {
                "FilterRules": [
                    {"Name": "prefix", "Value": "images/"},
                    {"Name": "suffix", "Value": ".jpg"},
                ]
            }
        },
    }
    q.update(over)
    return q


def test_startup_logs_sqs_arns_like_minio(nserver):
    text = nserver.stderr_text() + nserver.stdout_text()
    lines = [line for line in text.splitlines() if "SQS ARNs:" in line]
    assert len(lines) == 1, text
    # The disabled target is not listed, and no secret reaches the log.
    assert lines[0].endswith(f"SQS ARNs: {ARN}")
    assert "s3cr3t-token" not in text


def test_get_without_configuration_is_empty(nserver, ns3, nbucket):
    resp = ns3.get_bucket_notification_configuration(Bucket=nbucket)
    assert "QueueConfigurations" not in resp
    r = raw(nserver, "GET", f"/{nbucket}?notification")
    assert r.status == 200 and r.data == EMPTY_XML


def test_put_and_get_round_trip(nserver, ns3, nbucket):
    resp = ns3.put_bucket_notification_configuration(
        Bucket=nbucket, NotificationConfiguration={"QueueConfigurations": [queue()]}
    )
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    got = ns3.get_bucket_notification_configuration(Bucket=nbucket)
    assert got["QueueConfigurations"] == [queue()]
    # Go's xml.Marshal of MinIO's config: no declaration, Id, Filter, Event, Queue.
    r = raw(nserver, "GET", f"/{nbucket}?notification")
    assert (
        r.data
        == (
            f'<NotificationConfiguration xmlns="{XMLNS}"><QueueConfiguration><Id>rule-1</Id>'
            "<Filter><S3Key><FilterRule><Name>prefix</Name><Value>images/</Value></FilterRule>"
            "<FilterRule><Name>suffix</Name><Value>.jpg</Value></FilterRule></S3Key></Filter>"
            f"<Event>s3:ObjectCreated:*</Event><Queue>{ARN}</Queue></QueueConfiguration>"
            "</NotificationConfiguration>"
        ).encode()
    )

    # A second PUT replaces the whole configuration.
    second = {"Id": "", "QueueArn": ARN, "Events": ["s3:ObjectRemoved:Delete", "s3:ObjectAccessed:Get"]}
    ns3.put_bucket_notification_configuration(
        Bucket=nbucket, NotificationConfiguration={"QueueConfigurations": [second]}
    )
    got = ns3.get_bucket_notification_configuration(Bucket=nbucket)
    assert [(q["QueueArn"], q["Events"]) for q in got["QueueConfigurations"]] == [
        (ARN, ["s3:ObjectRemoved:Delete", "s3:ObjectAccessed:Get"])
    ]


def test_empty_configuration_removes_the_rules(nserver, ns3, nbucket):
    ns3.put_bucket_notification_configuration(
        Bucket=nbucket, NotificationConfiguration={"QueueConfigurations": [queue()]}
    )
    ns3.put_bucket_notification_configuration(Bucket=nbucket, NotificationConfiguration={})
    assert "QueueConfigurations" not in ns3.get_bucket_notification_configuration(Bucket=nbucket)
    assert raw(nserver, "GET", f"/{nbucket}?notification").data == EMPTY_XML


@pytest.mark.parametrize(
    "arn",
    [
        "arn:minio:sqs::3:webhook",  # no such target
        "arn:minio:sqs::1:redis",  # id exists, other type
        "arn:minio:sqs::2:webhook",  # configured but disabled
        "arn:aws:sqs:us-east-1:1:webhook",  # not a MinIO ARN
    ],
)
def test_unknown_arn_is_invalid_argument(ns3, nbucket, arn):
    status, code, message = error_of(
        ns3.put_bucket_notification_configuration,
        Bucket=nbucket,
        NotificationConfiguration={"QueueConfigurations": [queue(QueueArn=arn)]},
    )
    assert (status, code) == (400, "InvalidArgument")
    assert "destination ARN does not exist" in message
    assert "QueueConfigurations" not in ns3.get_bucket_notification_configuration(Bucket=nbucket)


def test_bad_filter_name_is_invalid_argument(ns3, nbucket):
    bad = queue(Filter={"Key": {"FilterRules": [{"Name": "middle", "Value": "x"}]}})
    status, code, message = error_of(
        ns3.put_bucket_notification_configuration,
        Bucket=nbucket,
        NotificationConfiguration={"QueueConfigurations": [bad]},
    )
    assert (status, code) == (400, "InvalidArgument")
    assert message == "filter rule name must be either prefix or suffix"


def test_raw_xml_errors(nserver, nbucket):
    def put(body: str):
        return raw(nserver, "PUT", f"/{nbucket}?notification", body.encode())

    def code(r) -> str:
        return r.data.split(b"<Code>")[1].split(b"</Code>")[0].decode()

    q = f"<Event>s3:ObjectCreated:Put</Event><Queue>{ARN}</Queue>"
    r = put(
        f'<NotificationConfiguration xmlns="{XMLNS}"><QueueConfiguration>'
        "<Filter><S3Key><FilterRule><Name>Prefix</Name><Value>a</Value></FilterRule></S3Key></Filter>"
        f"{q}</QueueConfiguration></NotificationConfiguration>"
    )
    assert (r.status, code(r)) == (400, "InvalidArgument")
    r = put(f"<NotificationConfiguration><QueueConfiguration>{q}")
    assert (r.status, code(r)) == (400, "MalformedXML")
    r = put("")
    assert (r.status, code(r)) == (400, "MalformedXML")
    r = put(
        f"<NotificationConfiguration><QueueConfiguration><Queue>{ARN}</Queue>"
        "</QueueConfiguration></NotificationConfiguration>"
    )
    assert (r.status, code(r)) == (400, "MalformedXML")  # no event
    r = put(
        "<NotificationConfiguration><QueueConfiguration><Event>s3:Nope</Event>"
        f"<Queue>{ARN}</Queue></QueueConfiguration></NotificationConfiguration>"
    )
    assert (r.status, code(r)) == (400, "InvalidArgument")
    r = put(
        "<NotificationConfiguration><TopicConfiguration><Event>s3:ObjectCreated:Put</Event>"
        "<Topic>arn:aws:sns:us-east-1:1:t</Topic></TopicConfiguration></NotificationConfiguration>"
    )
    assert (r.status, code(r)) == (400, "UnsupportedNotification")
    # Without a namespace it is accepted too (MinIO does), and GET answers the S3 one.
    r = put(f"<NotificationConfiguration><QueueConfiguration>{q}</QueueConfiguration></NotificationConfiguration>")
    assert r.status == 200, r.data


def test_no_such_bucket(ns3):
    name = unique_bucket_name("gone")
    for call, kw in (
        (ns3.get_bucket_notification_configuration, {}),
        (ns3.put_bucket_notification_configuration, {"NotificationConfiguration": {"QueueConfigurations": [queue()]}}),
    ):
        status, code, _ = error_of(call, Bucket=name, **kw)
        assert (status, code) == (404, "NoSuchBucket")


def test_configuration_survives_restart(server_factory):
    srv = server_factory("sqlite", env=ENV)
    s3 = srv.client()
    name = unique_bucket_name("notif")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration={"QueueConfigurations": [queue()]})
    srv.restart()
    assert srv.client().get_bucket_notification_configuration(Bucket=name)["QueueConfigurations"] == [queue()]


def test_registry_describe_redacts_secrets():
    from api.notify.targets import TargetRegistry
    from workers.targets import from_env, redacted

    reg = TargetRegistry.from_configs(from_env(ENV), redact=redacted)
    assert reg.known_arns() == {ARN}
    described = {d["id"]: d for d in reg.describe()}
    assert set(described) == {"1", "2"}
    assert described["1"]["arn"] == ARN and described["1"]["enabled"] is True
    assert described["1"]["settings"]["endpoint"] == "http://127.0.0.1:1/"
    assert described["1"]["settings"]["auth_token"] != "s3cr3t-token"
    assert described["2"]["enabled"] is False
    regional = TargetRegistry.from_configs(from_env(ENV), redact=redacted, region="eu-west-1")
    assert regional.startup_line() == "SQS ARNs: arn:minio:sqs:eu-west-1:1:webhook"
    assert TargetRegistry().startup_line() is None

"""Bucket CORS as a browser and boto3 see it: Put/Get/DeleteBucketCors with AWS's errors,
preflight OPTIONS answered (or refused) from the bucket's rules without credentials, the
matching rule's headers on actual requests, who may change the rules, and the change in the
event stream. SQLite and PostgreSQL (the session's servers)."""

from __future__ import annotations

import hashlib

import pytest
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.conftest import unique_bucket_name
from tests.helpers.change_schema import assert_valid
from tests.integration.test_event_stream import Stream
from tests.integration.test_sts import client, error, make_user

XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
NOT_ALLOWED = "CORSResponse: This CORS request is not allowed."
RULES = [
    {
        "ID": "app",
        "AllowedOrigins": ["https://app.example.com", "https://*.example.org"],
        "AllowedMethods": ["GET", "PUT"],
        "AllowedHeaders": ["Content-Type", "x-amz-meta-*"],
        "ExposeHeaders": ["ETag", "x-amz-meta-owner"],
        "MaxAgeSeconds": 600,
    },
    {"AllowedOrigins": ["*"], "AllowedMethods": ["HEAD"]},
]


@pytest.fixture(params=["sqlite", "postgres"])
def srv(request):
    return request.getfixturevalue("server" if request.param == "sqlite" else "pg_server")


@pytest.fixture
def cors_bucket(srv, make_bucket):
    """A bucket holding key "k", with RULES."""
    s3 = srv.client()
    name = make_bucket(s3)
    s3.put_object(Bucket=name, Key="k", Body=b"data")
    s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": RULES})
    return name


def options(srv, path: str, headers: dict[str, str]) -> requests.Response:
    return requests.options(f"{srv.endpoint}{path}", headers=headers, timeout=10)


def cors_of(response: requests.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


def signed_put(srv, path: str, body: bytes) -> requests.Response:
    """PUT `body` as boto3 would sign it, whatever it holds."""
    url = f"{srv.endpoint}{path}"
    req = AWSRequest(
        method="PUT", url=url, data=body, headers={"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()}
    )
    S3SigV4Auth(Credentials(srv.access_key, srv.secret_key), "s3", "us-east-1").add_auth(req)
    return requests.put(url, data=body, headers=dict(req.headers), timeout=10)


def test_round_trip_replace_and_delete(srv, make_bucket):
    s3 = srv.client()
    name = make_bucket(s3)
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_cors(Bucket=name)
    assert error(exc) == ("NoSuchCORSConfiguration", 404)
    assert exc.value.response["Error"]["BucketName"] == name
    s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": RULES})
    assert s3.get_bucket_cors(Bucket=name)["CORSRules"] == RULES
    replaced = [{"AllowedOrigins": ["https://other.example"], "AllowedMethods": ["DELETE", "POST"]}]
    s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": replaced})
    assert s3.get_bucket_cors(Bucket=name)["CORSRules"] == replaced
    s3.delete_bucket_cors(Bucket=name)
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_cors(Bucket=name)
    assert error(exc) == ("NoSuchCORSConfiguration", 404)
    s3.delete_bucket_cors(Bucket=name)  # nothing to delete answers 204 too
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_cors(Bucket=unique_bucket_name("gone"), CORSConfiguration={"CORSRules": RULES})
    assert error(exc) == ("NoSuchBucket", 404)


@pytest.mark.parametrize(
    ("rules", "code", "message"),
    [
        ([], "MalformedXML", None),
        ([{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}], "InvalidRequest", "Unsupported method is PATCH"),
        ([{"AllowedOrigins": ["*"], "AllowedMethods": ["get"]}], "InvalidRequest", "Unsupported method is get"),
        (
            [{"AllowedOrigins": ["https://*.a.*"], "AllowedMethods": ["GET"]}],
            "InvalidRequest",
            'AllowedOrigin "https://*.a.*" can not have more than one wildcard.',
        ),
        (
            [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "AllowedHeaders": ["x-*-*"]}],
            "InvalidRequest",
            'AllowedHeader "x-*-*" can not have more than one wildcard.',
        ),
        ([{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}] * 101, "MalformedXML", None),
        ([{"ID": "i" * 256, "AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}], "InvalidArgument", None),
    ],
)
def test_invalid_configurations_are_refused_and_change_nothing(server, s3, bucket, rules, code, message):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    assert error(exc) == (code, 400)
    if message:
        assert message in exc.value.response["Error"]["Message"]
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == RULES


@pytest.mark.parametrize(
    "body",
    [
        b"<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>",
        b"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>",
        b"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
        b"<MaxAgeSeconds>soon</MaxAgeSeconds></CORSRule></CORSConfiguration>",
        b"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
        b"<Colour>red</Colour></CORSRule></CORSConfiguration>",
        b"<CORSConfiguration><Rule/></CORSConfiguration>",
        b"<Tagging/>",
        b"<CORSConfiguration><CORSRule>",
    ],
)
def test_malformed_documents(server, bucket, body):
    response = signed_put(server, f"/{bucket}?cors", body)
    assert response.status_code == 400
    assert "<Code>MalformedXML</Code>" in response.text


def test_expose_header_http_cannot_carry_is_refused(server, bucket):
    body = (
        f'<CORSConfiguration xmlns="{XMLNS}"><CORSRule><AllowedOrigin>*</AllowedOrigin>'
        "<AllowedMethod>GET</AllowedMethod><ExposeHeader>a&#10;b</ExposeHeader></CORSRule></CORSConfiguration>"
    ).encode()
    response = signed_put(server, f"/{bucket}?cors", body)
    assert response.status_code == 400 and "<Code>InvalidArgument</Code>" in response.text


def test_preflight_allowed(srv, cors_bucket):
    response = options(
        srv,
        f"/{cors_bucket}/k",
        {
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type,X-Amz-Meta-Colour",
        },
    )
    assert response.status_code == 200 and response.content == b""
    assert cors_of(response) == {
        "access-control-allow-origin": "https://app.example.com",
        "access-control-allow-methods": "GET, PUT",
        "access-control-allow-headers": "content-type, x-amz-meta-colour",
        "access-control-expose-headers": "ETag, x-amz-meta-owner",
        "access-control-max-age": "600",
        "access-control-allow-credentials": "true",
    }
    assert response.headers["Vary"] == VARY
    # A wildcard origin pattern echoes the origin; a rule for every origin answers "*".
    wild = options(srv, f"/{cors_bucket}", {"Origin": "https://x.example.org", "Access-Control-Request-Method": "GET"})
    assert wild.status_code == 200 and cors_of(wild)["access-control-allow-origin"] == "https://x.example.org"
    anyone = options(srv, f"/{cors_bucket}/k", {"Origin": "http://elsewhere", "Access-Control-Request-Method": "HEAD"})
    assert anyone.status_code == 200
    assert cors_of(anyone) == {"access-control-allow-origin": "*", "access-control-allow-methods": "HEAD"}


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        {"Origin": "https://app.example.com", "Access-Control-Request-Method": "DELETE"},
        {
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "content-type, authorization",
        },
        {"Origin": "https://example.org", "Access-Control-Request-Method": "GET"},  # "*." needs its dot
    ],
)
def test_preflight_not_allowed(srv, cors_bucket, headers):
    response = options(srv, f"/{cors_bucket}/k", headers)
    assert response.status_code == 403
    assert "<Code>AccessForbidden</Code>" in response.text and NOT_ALLOWED in response.text
    assert f"<Method>{headers['Access-Control-Request-Method']}</Method>" in response.text
    assert cors_of(response) == {}


def test_preflight_refusals_before_the_rules(srv, make_bucket, cors_bucket):
    s3 = srv.client()
    bucket = make_bucket(s3)
    server = srv
    no_origin = options(server, f"/{cors_bucket}/k", {"Access-Control-Request-Method": "GET"})
    assert no_origin.status_code == 400 and "Origin request header needed" in no_origin.text
    no_method = options(server, f"/{cors_bucket}/k", {"Origin": "https://app.example.com"})
    assert no_method.status_code == 400 and "<Code>BadRequest</Code>" in no_method.text
    preflight = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"}
    unconfigured = options(server, f"/{bucket}/k", preflight)
    assert unconfigured.status_code == 403
    assert "CORSResponse: CORS is not enabled for this bucket." in unconfigured.text
    missing = options(server, f"/{unique_bucket_name('gone')}/k", preflight)
    assert missing.status_code == 403 and "CORSResponse: Bucket not found" in missing.text
    # Once deleted, the rules allow nothing.
    s3.delete_bucket_cors(Bucket=cors_bucket)
    assert options(server, f"/{cors_bucket}/k", preflight).status_code == 403


def test_actual_requests_carry_the_matching_rules_headers(srv, cors_bucket):
    s3 = srv.client()
    origin = {"Origin": "https://app.example.com"}
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": cors_bucket, "Key": "k"})
    got = requests.get(get_url, headers=origin, timeout=10)
    assert got.status_code == 200 and got.content == b"data"
    assert cors_of(got) == {
        "access-control-allow-origin": "https://app.example.com",
        "access-control-allow-methods": "GET, PUT",
        "access-control-expose-headers": "ETag, x-amz-meta-owner",
        "access-control-max-age": "600",
        "access-control-allow-credentials": "true",
    }
    assert got.headers["Vary"] == VARY
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": cors_bucket, "Key": "new"})
    put = requests.put(put_url, data=b"new", headers=origin, timeout=10)
    assert put.status_code == 200 and cors_of(put)["access-control-allow-origin"] == "https://app.example.com"
    # An error answer carries them too, so the page can read it.
    missing_url = s3.generate_presigned_url("get_object", Params={"Bucket": cors_bucket, "Key": "nope"})
    missing = requests.get(missing_url, headers=origin, timeout=10)
    assert missing.status_code == 404 and cors_of(missing)["access-control-allow-origin"] == "https://app.example.com"
    # No Origin, an origin no rule allows, or a method the rule does not list: no CORS headers.
    assert cors_of(requests.get(get_url, timeout=10)) == {}
    other = requests.get(get_url, headers={"Origin": "https://evil.example"}, timeout=10)
    assert other.status_code == 200 and cors_of(other) == {} and "Vary" not in other.headers
    delete_url = s3.generate_presigned_url("delete_object", Params={"Bucket": cors_bucket, "Key": "new"})
    deleted = requests.delete(delete_url, headers=origin, timeout=10)
    assert deleted.status_code == 204 and cors_of(deleted) == {}
    # HEAD from anywhere: the rule for every origin answers "*", without credentials.
    head_url = s3.generate_presigned_url("head_object", Params={"Bucket": cors_bucket, "Key": "k"})
    head = requests.head(head_url, headers={"Origin": "http://any"}, timeout=10)
    assert head.status_code == 200
    assert cors_of(head) == {"access-control-allow-origin": "*", "access-control-allow-methods": "HEAD"}


def test_who_may_read_and_change_the_rules(srv, cors_bucket):
    server, s3 = srv, srv.client()
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:GetBucketCORS"], "Resource": [f"arn:aws:s3:::{cors_bucket}"]}],
    }
    _name, key, secret = make_user(server, policy)
    reader = client(server, "s3", key, secret)
    assert reader.get_bucket_cors(Bucket=cors_bucket)["CORSRules"] == RULES
    for call in (
        lambda: reader.put_bucket_cors(Bucket=cors_bucket, CORSConfiguration={"CORSRules": RULES[1:]}),
        lambda: reader.delete_bucket_cors(Bucket=cors_bucket),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc) == ("AccessDenied", 403)
    assert s3.get_bucket_cors(Bucket=cors_bucket)["CORSRules"] == RULES


def test_changes_are_in_the_event_stream(srv, cors_bucket):
    srv.client().delete_bucket_cors(Bucket=cors_bucket)
    stream = Stream(srv, f"from=beginning&bucket={cors_bucket}")
    try:
        records = stream.records(4)  # the bucket created, the object, the rules set, then deleted
    finally:
        stream.close()
    assert_valid(records)
    changes = [r for r in records if r["event"].startswith("Bucket.Configuration")]
    assert [(r["event"], r["data"]["subresource"]) for r in changes[:2]] == [
        ("Bucket.ConfigurationSet", "cors"),
        ("Bucket.ConfigurationDeleted", "cors"),
    ]
    assert changes[0]["data"]["document"]["CORSRules"][0]["AllowedOrigins"] == RULES[0]["AllowedOrigins"]
    assert changes[0]["bucket"] == cors_bucket and changes[0]["kind"] == "bucket"

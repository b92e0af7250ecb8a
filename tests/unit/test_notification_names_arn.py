"""Event names (MinIO internal/event/name.go) and ARNs (internal/event/arn.go, arn_test.go)."""

import pytest

from domain.errors import DomainError
from domain.notifications import ARN, expand, expand_all, parse_arn, parse_name
from domain.notifications import names as n


def test_object_created_wildcard_expands_in_minio_order():
    assert expand("s3:ObjectCreated:*") == (
        "s3:ObjectCreated:CompleteMultipartUpload",
        "s3:ObjectCreated:Copy",
        "s3:ObjectCreated:Post",
        "s3:ObjectCreated:Put",
        "s3:ObjectCreated:PutRetention",
        "s3:ObjectCreated:PutLegalHold",
        "s3:ObjectCreated:PutTagging",
        "s3:ObjectCreated:DeleteTagging",
    )


def test_other_wildcards():
    assert expand("s3:ObjectRemoved:*") == (
        "s3:ObjectRemoved:Delete",
        "s3:ObjectRemoved:DeleteMarkerCreated",
        "s3:ObjectRemoved:NoOP",
        "s3:ObjectRemoved:DeleteAllVersions",
    )
    assert expand("s3:ObjectAccessed:*") == (
        "s3:ObjectAccessed:Get",
        "s3:ObjectAccessed:Head",
        "s3:ObjectAccessed:GetRetention",
        "s3:ObjectAccessed:GetLegalHold",
        "s3:ObjectAccessed:Attributes",
    )
    assert set(expand("s3:Replication:*")) == {
        "s3:Replication:OperationFailedReplication",
        "s3:Replication:OperationCompletedReplication",
        "s3:Replication:OperationNotTracked",
        "s3:Replication:OperationMissedThreshold",
        "s3:Replication:OperationReplicatedAfterThreshold",
    }
    assert expand("s3:ObjectRestore:*") == ("s3:ObjectRestore:Post", "s3:ObjectRestore:Completed")
    assert expand("s3:ObjectTransition:*") == (
        "s3:ObjectTransition:Failed",
        "s3:ObjectTransition:Complete",
    )
    # Bucket events are single names despite the '*'.
    assert expand("s3:BucketCreated:*") == ("s3:BucketCreated:*",)
    assert expand("s3:ObjectCreated:Put") == ("s3:ObjectCreated:Put",)
    assert expand_all(["s3:ObjectCreated:Put", "s3:ObjectCreated:*"]) == frozenset(expand("s3:ObjectCreated:*"))


@pytest.mark.parametrize(
    "name",
    [
        "s3:ObjectAccessed:*",
        "s3:ObjectAccessed:Get",
        "s3:ObjectAccessed:GetRetention",
        "s3:ObjectAccessed:GetLegalHold",
        "s3:ObjectAccessed:Head",
        "s3:ObjectAccessed:Attributes",
        "s3:ObjectCreated:Put",
        "s3:ObjectCreated:PutTagging",
        "s3:ObjectCreated:DeleteTagging",
        "s3:ObjectRemoved:NoOP",
        "s3:ObjectRemoved:DeleteAllVersions",
        "s3:BucketCreated:*",
        "s3:BucketRemoved:*",
        "s3:LifecycleDelMarkerExpiration:Delete",
        "s3:Scanner:BigPrefix",
        "s3:ObjectTransition:*",
    ],
)
def test_parse_known_names(name):
    assert parse_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "s3:ObjectCreated:put",
        "s3:ObjectTagging:Put",
        " s3:ObjectCreated:Put",
        "s3:*",
        "s3:Scanner:*",
    ],
)
def test_parse_unknown_name_is_minio_error(name):
    with pytest.raises(DomainError) as ei:
        parse_name(name)
    assert ei.value.code == "InvalidArgument"
    assert ei.value.message == "A specified event is not supported for notifications."
    assert ei.value.reason == f"invalid event name '{name}'"


def test_thirty_two_single_names_and_masks():
    assert len(n.SINGLE_NAMES) == 32
    assert n.mask("s3:ObjectAccessed:Get") == 1
    assert n.mask("s3:ObjectCreated:*") == sum(n.mask(x) for x in expand("s3:ObjectCreated:*"))


# -- ARN: cases from MinIO's arn_test.go ----------------------------------------------------


def test_arn_string():
    assert str(ARN("", "", "")) == ""
    assert str(ARN("", "1", "webhook")) == "arn:minio:sqs::1:webhook"
    assert str(ARN("us-east-1", "1", "webhook")) == "arn:minio:sqs:us-east-1:1:webhook"


@pytest.mark.parametrize(
    "s",
    [
        "",
        "arn:minio:sqs:::",
        "arn:minio:sqs::1:webhook:remote",
        "arn:aws:sqs::1:webhook",
        "arn:minio:sns::1:webhook",
        "arn:minio:sqs::1:",
        "arn:minio:sqs:::webhook",
    ],
)
def test_parse_arn_invalid(s):
    with pytest.raises(DomainError) as ei:
        parse_arn(s)
    assert ei.value.code == "InvalidArgument"
    assert ei.value.message == (
        "A specified destination ARN does not exist or is not well-formed. Verify the destination ARN."
    )


def test_parse_arn_valid():
    assert parse_arn("arn:minio:sqs::1:webhook") == ARN("", "1", "webhook")
    assert parse_arn("arn:minio:sqs:us-east-1:1:webhook") == ARN("us-east-1", "1", "webhook")
    a = parse_arn("arn:minio:sqs::_:postgresql")
    assert (a.id, a.type, a.target_id) == ("_", "postgresql", ("_", "postgresql"))
    assert str(a) == "arn:minio:sqs::_:postgresql"

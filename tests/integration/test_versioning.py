"""Bucket versioning as AWS documents it: Put/GetBucketVersioning,
ListObjectVersions, GET/HEAD/DELETE by versionId, delete markers, and the
`null` version of unversioned and suspended buckets."""

from __future__ import annotations

import time

from tests.helpers.s3 import s3_error


def versions_of(s3, bucket, **kw):
    resp = s3.list_object_versions(Bucket=bucket, **kw)
    return resp.get("Versions", []), resp.get("DeleteMarkers", [])


def hdr(resp, name):
    return resp["ResponseMetadata"]["HTTPHeaders"].get(name)


def test_new_bucket_has_no_versioning_status(s3, bucket):
    resp = s3.get_bucket_versioning(Bucket=bucket)
    assert "Status" not in resp


def test_enable_and_suspend_versioning(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"


def test_invalid_versioning_status_is_rejected(s3, bucket):
    with s3_error(status=400):  # MalformedXML / IllegalVersioningConfigurationException
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Sometimes"})
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)


def test_versioning_on_missing_bucket(s3, bucket_name):
    with s3_error("NoSuchBucket", 404):
        s3.get_bucket_versioning(Bucket=bucket_name)


def test_unversioned_bucket_lists_null_version(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert "VersionId" not in put  # no x-amz-version-id in an unversioned bucket
    versions, markers = versions_of(s3, bucket)
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in versions] == [("k", "null", True)]
    assert markers == []


def test_enabled_bucket_keeps_every_version(s3, make_bucket):
    bucket = make_bucket(versioning="Enabled")
    v1 = s3.put_object(Bucket=bucket, Key="doc", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="doc", Body=b"two")["VersionId"]
    assert v1 and v2 and v1 != v2 and "null" not in (v1, v2)

    versions, _ = versions_of(s3, bucket)
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [(v2, True), (v1, False)]
    assert [v["Size"] for v in versions] == [3, 3]

    latest = s3.get_object(Bucket=bucket, Key="doc")
    assert latest["Body"].read() == b"two"
    assert latest["VersionId"] == v2
    old = s3.get_object(Bucket=bucket, Key="doc", VersionId=v1)
    assert old["Body"].read() == b"one"
    assert old["VersionId"] == v1
    assert s3.head_object(Bucket=bucket, Key="doc", VersionId=v1)["ContentLength"] == 3


def test_delete_creates_delete_marker(s3, make_bucket):
    bucket = make_bucket(versioning="Enabled")
    v1 = s3.put_object(Bucket=bucket, Key="doc", Body=b"one")["VersionId"]
    resp = s3.delete_object(Bucket=bucket, Key="doc")
    assert resp["DeleteMarker"] is True
    marker_id = resp["VersionId"]
    assert marker_id and marker_id != v1

    # The key looks gone: 404 with x-amz-delete-marker: true.
    with s3_error("NoSuchKey", 404) as exc:
        s3.get_object(Bucket=bucket, Key="doc")
    headers = exc.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers.get("x-amz-delete-marker") == "true"
    assert headers.get("x-amz-version-id") == marker_id
    with s3_error(status=404) as exc:
        s3.head_object(Bucket=bucket, Key="doc")
    assert exc.value.response["ResponseMetadata"]["HTTPHeaders"].get("x-amz-delete-marker") == "true"
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0

    versions, markers = versions_of(s3, bucket)
    assert [(m["Key"], m["VersionId"], m["IsLatest"]) for m in markers] == [("doc", marker_id, True)]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [(v1, False)]
    # The old version is still readable by id.
    assert s3.get_object(Bucket=bucket, Key="doc", VersionId=v1)["Body"].read() == b"one"


def test_get_delete_marker_by_version_id_is_method_not_allowed(s3, make_bucket):
    bucket = make_bucket(versioning="Enabled")
    s3.put_object(Bucket=bucket, Key="doc", Body=b"one")
    marker_id = s3.delete_object(Bucket=bucket, Key="doc")["VersionId"]
    with s3_error("MethodNotAllowed", 405) as exc:
        s3.get_object(Bucket=bucket, Key="doc", VersionId=marker_id)
    assert exc.value.response["ResponseMetadata"]["HTTPHeaders"].get("x-amz-delete-marker") == "true"


def test_deleting_the_delete_marker_restores_object(s3, make_bucket):
    bucket = make_bucket(versioning="Enabled")
    s3.put_object(Bucket=bucket, Key="doc", Body=b"one")
    marker_id = s3.delete_object(Bucket=bucket, Key="doc")["VersionId"]
    resp = s3.delete_object(Bucket=bucket, Key="doc", VersionId=marker_id)
    assert resp["DeleteMarker"] is True
    assert resp["VersionId"] == marker_id
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"one"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["doc"]


def test_delete_specific_version_permanently(s3, make_bucket):
    bucket = make_bucket(versioning="Enabled")
    v1 = s3.put_object(Bucket=bucket, Key="doc", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="doc", Body=b"two")["VersionId"]
    resp = s3.delete_object(Bucket=bucket, Key="doc", VersionId=v2)
    assert resp["VersionId"] == v2
    assert not resp.get("DeleteMarker")
    # The previous version becomes current again.
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"one"
    versions, markers = versions_of(s3, bucket)
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [(v1, True)]
    assert markers == []
    with s3_error("NoSuchVersion", 404):
        s3.get_object(Bucket=bucket, Key="doc", VersionId=v2)


def test_version_id_of_another_key_is_no_such_version(s3, make_bucket):
    bucket = make_bucket(versioning="Enabled")
    other = s3.put_object(Bucket=bucket, Key="other", Body=b"x")["VersionId"]
    s3.put_object(Bucket=bucket, Key="doc", Body=b"x")
    with s3_error("NoSuchVersion", 404):
        s3.get_object(Bucket=bucket, Key="doc", VersionId=other)


def test_null_version_survives_enabling(s3, bucket):
    s3.put_object(Bucket=bucket, Key="doc", Body=b"before")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    new = s3.put_object(Bucket=bucket, Key="doc", Body=b"after")["VersionId"]
    assert new != "null"
    versions, _ = versions_of(s3, bucket)
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [(new, True), ("null", False)]
    got = s3.get_object(Bucket=bucket, Key="doc", VersionId="null")
    assert got["Body"].read() == b"before"


def test_suspended_bucket_overwrites_null_version_only(s3, make_bucket):
    bucket = make_bucket(versioning="Enabled")
    kept = s3.put_object(Bucket=bucket, Key="doc", Body=b"enabled")["VersionId"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket=bucket, Key="doc", Body=b"null-1")
    s3.put_object(Bucket=bucket, Key="doc", Body=b"null-2")
    versions, _ = versions_of(s3, bucket)
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [("null", True), (kept, False)]
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"null-2"
    assert s3.get_object(Bucket=bucket, Key="doc", VersionId=kept)["Body"].read() == b"enabled"


def test_suspended_delete_makes_null_delete_marker(s3, make_bucket):
    bucket = make_bucket(versioning="Enabled")
    kept = s3.put_object(Bucket=bucket, Key="doc", Body=b"enabled")["VersionId"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    resp = s3.delete_object(Bucket=bucket, Key="doc")
    assert resp["DeleteMarker"] is True
    versions, markers = versions_of(s3, bucket)
    assert [(m["VersionId"], m["IsLatest"]) for m in markers] == [("null", True)]
    assert [v["VersionId"] for v in versions] == [kept]


def test_list_versions_orders_keys_then_newest_first(s3, make_bucket):
    bucket = make_bucket(versioning="Enabled")
    ids = {}
    for key in ("b", "a"):
        ids[key] = []
        for n in range(3):
            ids[key].append(s3.put_object(Bucket=bucket, Key=key, Body=f"{key}{n}".encode())["VersionId"])
            time.sleep(0.01)
    versions, _ = versions_of(s3, bucket)
    assert [(v["Key"], v["VersionId"]) for v in versions] == [("a", i) for i in reversed(ids["a"])] + [
        ("b", i) for i in reversed(ids["b"])
    ]


def test_list_versions_pagination_returns_each_version_once(s3, make_bucket):
    bucket = make_bucket(versioning="Enabled")
    expected = []
    for key in ("k1", "k2", "k3"):
        for _n in range(3):
            expected.append((key, s3.put_object(Bucket=bucket, Key=key, Body=b"x")["VersionId"]))
    s3.delete_object(Bucket=bucket, Key="k2")
    seen, marker_count = [], 0
    kw = {}
    for _ in range(100):
        resp = s3.list_object_versions(Bucket=bucket, MaxKeys=2, **kw)
        page = resp.get("Versions", []) + resp.get("DeleteMarkers", [])
        assert len(page) <= 2
        seen += [(v["Key"], v["VersionId"]) for v in resp.get("Versions", [])]
        marker_count += len(resp.get("DeleteMarkers", []))
        if not resp["IsTruncated"]:
            break
        kw = {"KeyMarker": resp["NextKeyMarker"], "VersionIdMarker": resp["NextVersionIdMarker"]}
    assert sorted(seen) == sorted(expected)
    assert len(seen) == len(set(seen))
    assert marker_count == 1


def test_delete_objects_with_version_ids(s3, make_bucket):
    bucket = make_bucket(versioning="Enabled")
    v1 = s3.put_object(Bucket=bucket, Key="doc", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="doc", Body=b"two")["VersionId"]
    resp = s3.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": "doc", "VersionId": v1}, {"Key": "doc", "VersionId": v2}]},
    )
    assert sorted(d["VersionId"] for d in resp["Deleted"]) == sorted([v1, v2])
    versions, markers = versions_of(s3, bucket)
    assert versions == [] and markers == []


def test_delete_objects_without_version_creates_markers(s3, make_bucket):
    bucket = make_bucket(versioning="Enabled")
    s3.put_object(Bucket=bucket, Key="doc", Body=b"one")
    resp = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "doc"}]})
    deleted = resp["Deleted"][0]
    assert deleted["Key"] == "doc"
    assert deleted["DeleteMarker"] is True
    assert deleted["DeleteMarkerVersionId"]
    _, markers = versions_of(s3, bucket)
    assert [m["VersionId"] for m in markers] == [deleted["DeleteMarkerVersionId"]]


def test_copy_from_specific_version(s3, make_bucket):
    bucket = make_bucket(versioning="Enabled")
    v1 = s3.put_object(Bucket=bucket, Key="doc", Body=b"one")["VersionId"]
    s3.put_object(Bucket=bucket, Key="doc", Body=b"two")
    resp = s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "doc", "VersionId": v1})
    assert resp["CopySourceVersionId"] == v1
    assert resp["VersionId"]
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == b"one"

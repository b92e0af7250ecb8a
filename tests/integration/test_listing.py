"""ListObjects (v1) and ListObjectsV2 as AWS documents them: prefix, delimiter
and CommonPrefixes, pagination, start-after, encoding-type=url, fetch-owner and
UTF-8 binary key order."""

from __future__ import annotations

import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers.s3 import md5_etag, s3_error

TREE = [
    "photos/2006/feb/b.jpg",
    "photos/2006/jan/a.jpg",
    "photos/2006/jan/c.jpg",
    "photos/2007/d.jpg",
    "photos/index.html",
    "readme.txt",
    "videos/v.mp4",
    "zeta",
]


def fill(s3, bucket, keys):
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=k.encode()), keys))


def utf8_sorted(keys):
    return sorted(keys, key=lambda k: k.encode("utf-8"))


@pytest.fixture
def tree(s3, bucket):
    fill(s3, bucket, TREE)
    return bucket


def keys_of(resp):
    return [o["Key"] for o in resp.get("Contents", [])]


def prefixes_of(resp):
    return [p["Prefix"] for p in resp.get("CommonPrefixes", [])]


# -- basics --------------------------------------------------------------------


def test_list_v2_all_keys_in_order_with_details(s3, tree):
    resp = s3.list_objects_v2(Bucket=tree)
    assert keys_of(resp) == utf8_sorted(TREE)
    assert resp["KeyCount"] == len(TREE)
    assert resp["IsTruncated"] is False
    assert resp["Name"] == tree
    first = resp["Contents"][0]
    assert first["Size"] == len(first["Key"].encode())
    assert first["ETag"] == md5_etag(first["Key"].encode())
    assert first["StorageClass"] == "STANDARD"
    assert "LastModified" in first
    assert "Owner" not in first  # only with fetch-owner=true


def test_list_v2_fetch_owner(s3, tree):
    resp = s3.list_objects_v2(Bucket=tree, FetchOwner=True, MaxKeys=1)
    assert resp["Contents"][0]["Owner"]["ID"]


def test_list_v1_all_keys_with_owner(s3, tree):
    resp = s3.list_objects(Bucket=tree)
    assert keys_of(resp) == utf8_sorted(TREE)
    assert resp["IsTruncated"] is False
    assert resp["Contents"][0]["Owner"]["ID"]


def test_list_empty_bucket(s3, bucket):
    resp = s3.list_objects_v2(Bucket=bucket)
    assert resp["KeyCount"] == 0
    assert "Contents" not in resp
    assert resp["IsTruncated"] is False


def test_list_missing_bucket_is_no_such_bucket(s3, bucket_name):
    with s3_error("NoSuchBucket", 404):
        s3.list_objects(Bucket=bucket_name)


# -- prefix / delimiter --------------------------------------------------------


@pytest.mark.parametrize("version", [1, 2])
def test_prefix_filters_keys(s3, tree, version):
    lister = s3.list_objects_v2 if version == 2 else s3.list_objects
    resp = lister(Bucket=tree, Prefix="photos/2006/")
    assert keys_of(resp) == [
        "photos/2006/feb/b.jpg",
        "photos/2006/jan/a.jpg",
        "photos/2006/jan/c.jpg",
    ]
    assert resp["Prefix"] == "photos/2006/"
    assert keys_of(lister(Bucket=tree, Prefix="nothing-here")) == []


@pytest.mark.parametrize("version", [1, 2])
def test_delimiter_groups_common_prefixes(s3, tree, version):
    lister = s3.list_objects_v2 if version == 2 else s3.list_objects
    resp = lister(Bucket=tree, Delimiter="/")
    assert prefixes_of(resp) == ["photos/", "videos/"]
    assert keys_of(resp) == ["readme.txt", "zeta"]
    assert resp["Delimiter"] == "/"
    if version == 2:
        assert resp["KeyCount"] == 4  # keys and common prefixes both count


@pytest.mark.parametrize("version", [1, 2])
def test_prefix_and_delimiter(s3, tree, version):
    lister = s3.list_objects_v2 if version == 2 else s3.list_objects
    resp = lister(Bucket=tree, Prefix="photos/", Delimiter="/")
    assert prefixes_of(resp) == ["photos/2006/", "photos/2007/"]
    assert keys_of(resp) == ["photos/index.html"]
    resp = lister(Bucket=tree, Prefix="photos/2006/", Delimiter="/")
    assert prefixes_of(resp) == ["photos/2006/feb/", "photos/2006/jan/"]
    assert keys_of(resp) == []


def test_non_slash_delimiter(s3, bucket):
    fill(s3, bucket, ["a-1", "a-2", "b-1", "c"])
    resp = s3.list_objects_v2(Bucket=bucket, Delimiter="-")
    assert prefixes_of(resp) == ["a-", "b-"]
    assert keys_of(resp) == ["c"]


# -- pagination ----------------------------------------------------------------


def collect_v2(s3, bucket, **kw):
    keys, prefixes, pages = [], [], 0
    token = None
    while True:
        args = dict(Bucket=bucket, **kw)
        if token:
            args["ContinuationToken"] = token
        resp = s3.list_objects_v2(**args)
        pages += 1
        assert resp["KeyCount"] == len(resp.get("Contents", [])) + len(resp.get("CommonPrefixes", []))
        assert resp["KeyCount"] <= kw.get("MaxKeys", 1000)
        keys += keys_of(resp)
        prefixes += prefixes_of(resp)
        if not resp["IsTruncated"]:
            assert "NextContinuationToken" not in resp
            return keys, prefixes, pages
        token = resp["NextContinuationToken"]
        assert token
        assert pages < 1000, "pagination does not end"


def collect_v1(s3, bucket, **kw):
    keys, prefixes, pages = [], [], 0
    marker = None
    while True:
        args = dict(Bucket=bucket, **kw)
        if marker:
            args["Marker"] = marker
        resp = s3.list_objects(**args)
        pages += 1
        page_keys, page_prefixes = keys_of(resp), prefixes_of(resp)
        keys += page_keys
        prefixes += page_prefixes
        if not resp["IsTruncated"]:
            return keys, prefixes, pages
        if "Delimiter" in kw:
            # AWS returns NextMarker only when a delimiter was given.
            marker = resp["NextMarker"]
        else:
            marker = resp.get("NextMarker") or page_keys[-1]
        assert pages < 1000, "pagination does not end"


MANY = [f"dir{d}/file{f:02d}" for d in range(3) for f in range(7)] + [f"top{t:02d}" for t in range(9)]


def test_v2_max_keys_pagination_returns_every_key_once(s3, bucket):
    fill(s3, bucket, MANY)
    keys, prefixes, pages = collect_v2(s3, bucket, MaxKeys=4)
    assert keys == utf8_sorted(MANY)
    assert prefixes == []
    assert pages == -(-len(MANY) // 4)


def test_v2_pagination_with_delimiter(s3, bucket):
    fill(s3, bucket, MANY)
    keys, prefixes, _ = collect_v2(s3, bucket, MaxKeys=2, Delimiter="/")
    assert prefixes == ["dir0/", "dir1/", "dir2/"]
    assert keys == [f"top{t:02d}" for t in range(9)]


def test_v1_marker_pagination_returns_every_key_once(s3, bucket):
    fill(s3, bucket, MANY)
    keys, prefixes, _ = collect_v1(s3, bucket, MaxKeys=5)
    assert keys == utf8_sorted(MANY)
    assert prefixes == []


def test_v1_pagination_with_delimiter_uses_next_marker(s3, bucket):
    fill(s3, bucket, MANY)
    keys, prefixes, _ = collect_v1(s3, bucket, MaxKeys=3, Delimiter="/")
    assert prefixes == ["dir0/", "dir1/", "dir2/"]
    assert keys == [f"top{t:02d}" for t in range(9)]


def test_boto3_paginator_collects_every_key_once(s3, bucket):
    fill(s3, bucket, MANY)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 7})
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    assert keys == utf8_sorted(MANY)


def test_v1_marker_skips_up_to_and_including_marker(s3, tree):
    resp = s3.list_objects(Bucket=tree, Marker="photos/2007/d.jpg")
    assert keys_of(resp) == ["photos/index.html", "readme.txt", "videos/v.mp4", "zeta"]
    assert resp["Marker"] == "photos/2007/d.jpg"


def test_v2_start_after(s3, tree):
    resp = s3.list_objects_v2(Bucket=tree, StartAfter="photos/2007/d.jpg")
    assert keys_of(resp) == ["photos/index.html", "readme.txt", "videos/v.mp4", "zeta"]
    assert resp["StartAfter"] == "photos/2007/d.jpg"
    # A start-after that is not itself a key works too.
    assert keys_of(s3.list_objects_v2(Bucket=tree, StartAfter="r"))[0] == "readme.txt"


def test_v2_max_keys_zero(s3, tree):
    resp = s3.list_objects_v2(Bucket=tree, MaxKeys=0)
    assert resp["KeyCount"] == 0
    assert "Contents" not in resp


# -- encoding and order --------------------------------------------------------


def test_encoding_type_url_encodes_keys_and_prefixes(s3, bucket):
    keys = ["a b+c/é.txt", "plain/x", "sp ace/y"]
    fill(s3, bucket, keys)
    resp = s3.list_objects_v2(Bucket=bucket, EncodingType="url")  # boto3 leaves values encoded
    assert resp["EncodingType"] == "url"
    listed = keys_of(resp)
    assert "a b+c/é.txt" not in listed, "keys must be URL-encoded"
    assert [urllib.parse.unquote_plus(k) for k in listed] == utf8_sorted(keys)
    resp = s3.list_objects_v2(Bucket=bucket, EncodingType="url", Delimiter="/")
    assert [urllib.parse.unquote_plus(p) for p in prefixes_of(resp)] == [
        "a b+c/",
        "plain/",
        "sp ace/",
    ]


def test_key_with_control_character_lists_through_boto3_default(s3, bucket):
    # XML 1.0 cannot carry \x01: such keys are refused (tests/integration/test_key_text.py).
    # Tab, LF and DEL it carries; boto3 asks for encoding-type=url and decodes them.
    with s3_error("InvalidArgument", 400):
        s3.put_object(Bucket=bucket, Key="ctrl\x01char", Body=b"x")
    keys = ["ctrl\tchar", "ctrl\nchar", "ctrl\x7fchar"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    assert keys_of(s3.list_objects_v2(Bucket=bucket)) == utf8_sorted(keys)
    assert keys_of(s3.list_objects(Bucket=bucket)) == utf8_sorted(keys)


ORDER_KEYS = ["a", "B", "é", "~", "a/b", "Z", "0", "a-", "a0", "ab", "\u00ff", "\u4e2d"]


def test_keys_listed_in_utf8_byte_order(s3, bucket):
    fill(s3, bucket, ORDER_KEYS)
    expected = utf8_sorted(ORDER_KEYS)
    assert expected[:4] == ["0", "B", "Z", "a"]  # not locale order
    assert keys_of(s3.list_objects_v2(Bucket=bucket)) == expected
    assert keys_of(s3.list_objects(Bucket=bucket)) == expected
    keys, _, _ = collect_v2(s3, bucket, MaxKeys=1)
    assert keys == expected


def test_common_prefixes_in_utf8_byte_order(s3, bucket):
    fill(s3, bucket, [f"{p}/x" for p in ("a", "B", "é", "~", "a-")])
    resp = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert prefixes_of(resp) == ["B/", "a-/", "a/", "~/", "é/"]

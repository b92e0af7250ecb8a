"""Rules the domain enforces on writes: a multipart completion's part list, and the
judgement of preconditions on the rows the store read."""

from __future__ import annotations

import pytest

from domain.aggregates import MultipartUpload
from domain.errors import DomainError
from domain.preconditions import HasNoPolicies, ObjectMatches, Refused, VersionMatches, WithinQuota

MIN = 5

UPLOADED = {
    1: {"etag": "a" * 32, "size": 5, "checksum": {"CRC32": "x"}},
    2: {"etag": "b" * 32, "size": 3, "checksum": {}},
    3: {"etag": "c" * 32, "size": 1, "checksum": {}},
}


def _code(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value.code


def test_complete_takes_the_named_parts_in_order():
    chosen = MultipartUpload.chosen_parts("u", [(1, "a" * 32, {"CRC32": "x"}), (3, "c" * 32, {})], UPLOADED, MIN)
    assert [p["etag"] for p in chosen] == ["a" * 32, "c" * 32]


@pytest.mark.parametrize(
    ("requested", "code"),
    [
        ([(2, "b" * 32, {}), (1, "a" * 32, {})], "InvalidPartOrder"),
        ([(1, "a" * 32, {}), (1, "a" * 32, {})], "InvalidPartOrder"),
        ([(1, "a" * 32, {}), (4, "d" * 32, {})], "InvalidPart"),
        ([(1, "f" * 32, {})], "InvalidPart"),
        ([(1, "a" * 32, {"CRC32": "other"})], "InvalidPart"),
        ([(2, "b" * 32, {}), (3, "c" * 32, {})], "EntityTooSmall"),
    ],
)
def test_complete_refuses_a_bad_part_list(requested, code):
    assert _code(lambda: MultipartUpload.chosen_parts("u", requested, UPLOADED, MIN)) == code


def test_a_small_last_part_is_allowed():
    assert len(MultipartUpload.chosen_parts("u", [(1, "a" * 32, {}), (2, "b" * 32, {})], UPLOADED, MIN)) == 2


def test_conditional_write_judgement():
    live = {"etag": "e" * 32}
    assert _code(lambda: ObjectMatches("b", "k", if_none_match="*").judge(live)) == "PreconditionFailed"
    ObjectMatches("b", "k", if_none_match="*").judge(None)
    assert _code(lambda: ObjectMatches("b", "k", if_match='"e"').judge(live)) == "PreconditionFailed"
    assert _code(lambda: ObjectMatches("b", "k", if_match="*").judge(None)) == "NoSuchKey"
    ObjectMatches("b", "k", if_match=f'W/"{"e" * 32}"').judge(live)


def test_conditional_delete_ignores_a_missing_target_or_a_marker():
    VersionMatches("b", "k", etag='"x"').judge(None)
    VersionMatches("b", "k", etag='"x"').judge({"is_delete_marker": True})
    target = {"is_delete_marker": False, "etag": "e", "mtime_us": 2_500_000, "size": 3}
    VersionMatches("b", "k", etag='"e"', mtime_us=2_000_000, size=3).judge(target)
    assert _code(lambda: VersionMatches("b", "k", size=4).judge(target)) == "PreconditionFailed"


def test_iam_refusals_carry_their_status():
    with pytest.raises(Refused) as caught:
        HasNoPolicies("group", "g").judge({"members": ["u"], "policies": []}, False)
    assert (caught.value.code, caught.value.status) == ("DeleteConflict", 409)
    HasNoPolicies("group", "g").judge(None, True)  # a missing group: DeleteGroup answers NoSuchEntity itself


def test_a_quota_counts_the_bucket_after_the_write():
    fits = WithinQuota("b", "k", 4)
    fits.judge((10, 0), (6, 3), None)  # exactly at the quota: allowed
    assert _code(lambda: WithinQuota("b", "k", 5).judge((10, 0), (6, 3), None)) == "XMinioAdminBucketQuotaExceeded"
    # Replacing the null version frees its room, and never adds an object.
    WithinQuota("b", "k", 5).judge((10, 4), (10, 4), {"size": 5, "is_delete_marker": False})
    assert _code(lambda: WithinQuota("b", "k", 0).judge((0, 4), (0, 4), None)) == "XMinioAdminBucketQuotaExceeded"
    WithinQuota("b", "k", 0).judge((0, 4), (0, 4), {"size": 0, "is_delete_marker": False})
    # Writing over a delete marker adds an object; a part adds bytes only; no quota, no limit.
    assert _code(lambda: fits.judge((0, 1), (0, 1), {"size": 0, "is_delete_marker": True})) == (
        "XMinioAdminBucketQuotaExceeded"
    )
    WithinQuota("b", None, 4).judge((10, 1), (6, 1), None)
    WithinQuota("b", "k", 1 << 40).judge((0, 0), (1 << 40, 1 << 30), None)

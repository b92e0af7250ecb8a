"""The API name a request counts under follows the router's own choice of subresource, so
the request metrics name the call the router serves (its precedence included)."""

from __future__ import annotations

from itertools import permutations

import pytest

from api.metrics.s3_api_names import _REFUSED, API_NAMES, NOT_FOUND, api_index
from api.request import S3Request
from api.s3.addressing import BUCKET_SUBRESOURCES, OBJECT_SUBRESOURCES, select
from api.s3.operations import S3_OPERATIONS


async def _receive() -> dict:
    return {}


def request(method: str, bucket: str, key: str, query: dict[str, str], **headers: str) -> S3Request:
    req = S3Request(method, "/", "", headers, _receive, "", "id", "http")
    req.bucket, req.key, req.query = bucket, key, query
    return req


@pytest.mark.parametrize(
    ("bucket", "key", "subresources"),
    [("b", "", BUCKET_SUBRESOURCES), ("b", "k", OBJECT_SUBRESOURCES)],
)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD"])
def test_the_name_is_that_of_the_route_the_router_selects(bucket, key, subresources, method):
    queries = [{}, {"prefix": "p"}]
    queries += [{sub: ""} for sub in subresources]
    queries += [{a: "", "max-keys": "1", b: ""} for a, b in permutations(subresources, 2)]
    for query in queries:
        req = request(method, bucket, key, query)
        operation = S3_OPERATIONS.find(req, method, *select(req))
        expected = operation.metric if operation is not None else _REFUSED.get((method, *select(req)), NOT_FOUND)
        assert API_NAMES[api_index(req)] == expected, query


def test_names_that_depend_on_more_than_the_route():
    assert API_NAMES[api_index(request("PUT", "b", "k", {}, **{"x-amz-copy-source": "/a/b"}))] == "copyobject"
    copy_part = request("PUT", "b", "k", {"uploadId": "u", "partNumber": "1"}, **{"x-amz-copy-source": "/a/b"})
    assert API_NAMES[api_index(copy_part)] == "copyobjectpart"
    assert API_NAMES[api_index(request("GET", "b", "", {"list-type": "2"}))] == "listobjectsv2"
    assert API_NAMES[api_index(request("GET", "b", "", {}))] == "listobjectsv1"
    assert API_NAMES[api_index(request("GET", "", "", {}))] == "listbuckets"
    form = request("POST", "b", "", {}, **{"content-type": "multipart/form-data; boundary=x"})
    assert API_NAMES[api_index(form)] == "postpolicybucket"
    assert API_NAMES[api_index(request("PATCH", "b", "k", {}))] == "methodnotallowed"
    # Not S3 calls in MinIO's counting: STS / IAM query API, CORS preflight.
    assert api_index(request("POST", "", "", {})) == -1
    assert api_index(request("OPTIONS", "b", "k", {})) == -1

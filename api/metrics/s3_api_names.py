"""The S3 API name of a request, as MinIO labels its request metrics (``api="putobject"``):
its handler's name without "Handler", lower-cased, or the name MinIO gives the calls it
rejects ("publicaccessblock", "torrent"). Taken from the request's row in the operation
table (api.s3.operations), so a dashboard built on MinIO groups the same calls.

Names are indexes into ``API_NAMES``: the request metrics keep one row of counters per
name, fixed before the server forks its workers.
"""

from __future__ import annotations

from api.request import S3Request
from api.s3.addressing import BUCKET_SUBRESOURCES, OBJECT_SUBRESOURCES
from api.s3.operation import Operation
from api.s3.operations import S3_OPERATIONS

# Calls with no row in the operation table (Chronicle refuses them) keep the name MinIO
# gives them (cmd/api-router.go; rejectedObjAPIs / rejectedBucketAPIs).
_REFUSED: dict[tuple[str, str, str], str] = {
    ("DELETE", "bucket", "acl"): "acl",
    ("PUT", "bucket", "lifecycle"): "putbucketlifecycle",
    ("DELETE", "bucket", "lifecycle"): "deletebucketlifecycle",
    ("PUT", "bucket", "replication"): "putbucketreplicationconfig",
    ("DELETE", "bucket", "replication"): "deletebucketreplicationconfig",
    ("PUT", "bucket", "website"): "website",
    ("DELETE", "bucket", "website"): "deletebucketwebsite",
    ("DELETE", "object", "acl"): "acl",
    ("POST", "object", "select"): "selectobjectcontent",
}
for _method in ("GET", "PUT", "DELETE"):
    _REFUSED.setdefault((_method, "object", "torrent"), "torrent")
    for _sub in ("inventory", "metrics", "analytics", "intelligent-tiering"):
        _REFUSED[(_method, "bucket", _sub)] = _sub
for _method in ("PUT", "DELETE"):
    for _sub in ("logging", "accelerate", "requestPayment"):
        _REFUSED[(_method, "bucket", _sub)] = _sub.lower()

NOT_FOUND = "notfound"  # MinIO's router: no route for the path and query
METHOD_NOT_ALLOWED = "methodnotallowed"  # a method no S3 route takes
_SPECIAL = (NOT_FOUND, METHOD_NOT_ALLOWED)

_ROWS = tuple(row for row in S3_OPERATIONS.rows if row.metric)
API_NAMES: tuple[str, ...] = tuple(dict.fromkeys([*(r.metric for r in _ROWS), *_REFUSED.values(), *_SPECIAL]))
_INDEX = {name: i for i, name in enumerate(API_NAMES)}
_S3_METHODS = frozenset(("GET", "PUT", "POST", "DELETE", "HEAD"))


def _indexed(group: tuple[Operation, ...]) -> tuple[tuple[object, int], ...]:
    return tuple((row.when, _INDEX[row.metric] if row.metric else -1) for row in group)


# (method, level, subresource) -> ((predicate or None, index), ...), as the table's groups.
_BY_KEY: dict[tuple[str, str, str], tuple[tuple[object, int], ...]] = {
    key: _indexed(group) for key, group in S3_OPERATIONS.groups.items() if "*" not in key
}
for _key, _name in _REFUSED.items():
    _BY_KEY.setdefault(_key, ((None, _INDEX[_name]),))
# Routes a plain dict lookup answers (one row, no predicate): nearly every request.
_PLAIN = {key: group[0][1] for key, group in _BY_KEY.items() if len(group) == 1 and group[0][0] is None}


# The precedence among subresources (api.s3.addressing.select takes the first of its
# list that the query names): looking the query's few keys up here costs less than testing
# the query for each of the router's ~30 names.
_BUCKET_RANK = {sub: rank for rank, sub in enumerate(BUCKET_SUBRESOURCES)}
_OBJECT_RANK = {sub: rank for rank, sub in enumerate(OBJECT_SUBRESOURCES)}


def api_index(req: S3Request) -> int:
    """The index in API_NAMES of this S3 request's API; -1 for calls MinIO does not count
    as S3 requests (STS and IAM query calls on ``POST /``, CORS preflights)."""
    method = req.method
    query = req.query
    sub = ""
    if req.key:
        level = "object"
        if query:
            sub = _subresource(query, _OBJECT_RANK)
    elif req.bucket:
        level = "bucket"
        if query:
            sub = _subresource(query, _BUCKET_RANK)
    else:
        level = "service"
        if "events" in query:
            sub = "events"
    key = (method, level, sub)
    index = _PLAIN.get(key)
    if index is not None:
        return index
    group = _BY_KEY.get(key)
    if group is not None:
        for when, found in group:
            if when is None or when(req):  # type: ignore[operator]
                return found
    if method == "OPTIONS" or (method == "POST" and level == "service"):
        return -1
    return _INDEX[NOT_FOUND if method in _S3_METHODS else METHOD_NOT_ALLOWED]


def _subresource(query: dict[str, str], ranks: dict[str, int]) -> str:
    """What api.s3.addressing.select finds: the query's subresource of highest precedence."""
    found, best = "", len(ranks)
    for key in query:
        rank = ranks.get(key, best)
        if rank < best:
            found, best = key, rank
    return found

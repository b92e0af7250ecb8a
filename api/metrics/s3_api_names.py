"""The S3 API name of a request, as MinIO labels its request metrics (``api="putobject"``):
its handler's name without "Handler", lower-cased, or the name MinIO gives the calls it
rejects ("publicaccessblock", "torrent"). Computed from what Chronicle's router looks at
(method, level, subresource), so a dashboard built on MinIO groups the same calls.

Names are indexes into ``API_NAMES``: the request metrics keep one row of counters per
name, fixed before the server forks its workers.
"""

from __future__ import annotations

from api.request import S3Request
from api.s3.router import BUCKET_SUBRESOURCES, OBJECT_SUBRESOURCES

# (method, level, subresource) -> MinIO's name (cmd/api-router.go, lower-cased as MinIO
# exports it). Calls MinIO refuses by name keep that name (rejectedObjAPIs / rejectedBucketAPIs).
_ROUTES: dict[tuple[str, str, str], str] = {
    ("GET", "service", ""): "listbuckets",
    ("GET", "service", "events"): "listennotification",
    ("PUT", "bucket", ""): "putbucket",
    ("HEAD", "bucket", ""): "headbucket",
    ("DELETE", "bucket", ""): "deletebucket",
    ("GET", "bucket", ""): "listobjectsv1",
    ("POST", "bucket", ""): "postpolicybucket",
    ("GET", "bucket", "versions"): "listobjectversions",
    ("GET", "bucket", "location"): "getbucketlocation",
    ("GET", "bucket", "versioning"): "getbucketversioning",
    ("PUT", "bucket", "versioning"): "putbucketversioning",
    ("GET", "bucket", "tagging"): "getbuckettagging",
    ("PUT", "bucket", "tagging"): "putbuckettagging",
    ("DELETE", "bucket", "tagging"): "deletebuckettagging",
    ("POST", "bucket", "delete"): "deletemultipleobjects",
    ("GET", "bucket", "uploads"): "listmultipartuploads",
    ("GET", "bucket", "acl"): "getbucketacl",
    ("PUT", "bucket", "acl"): "putbucketacl",
    ("DELETE", "bucket", "acl"): "acl",
    ("GET", "bucket", "policy"): "getbucketpolicy",
    ("PUT", "bucket", "policy"): "putbucketpolicy",
    ("DELETE", "bucket", "policy"): "deletebucketpolicy",
    ("GET", "bucket", "policyStatus"): "getbucketpolicystatus",
    ("GET", "bucket", "notification"): "getbucketnotification",
    ("PUT", "bucket", "notification"): "putbucketnotification",
    ("GET", "bucket", "events"): "listennotification",
    ("GET", "bucket", "cors"): "getbucketcors",
    ("PUT", "bucket", "cors"): "putbucketcors",
    ("DELETE", "bucket", "cors"): "deletebucketcors",
    ("GET", "bucket", "lifecycle"): "getbucketlifecycle",
    ("PUT", "bucket", "lifecycle"): "putbucketlifecycle",
    ("DELETE", "bucket", "lifecycle"): "deletebucketlifecycle",
    ("GET", "bucket", "encryption"): "getbucketencryption",
    ("PUT", "bucket", "encryption"): "putbucketencryption",
    ("DELETE", "bucket", "encryption"): "deletebucketencryption",
    ("GET", "bucket", "object-lock"): "getbucketobjectlockconfig",
    ("PUT", "bucket", "object-lock"): "putbucketobjectlockconfig",
    ("GET", "bucket", "replication"): "getbucketreplicationconfig",
    ("PUT", "bucket", "replication"): "putbucketreplicationconfig",
    ("DELETE", "bucket", "replication"): "deletebucketreplicationconfig",
    ("GET", "bucket", "website"): "getbucketwebsite",
    ("PUT", "bucket", "website"): "website",
    ("DELETE", "bucket", "website"): "deletebucketwebsite",
    ("GET", "bucket", "logging"): "getbucketlogging",
    ("GET", "bucket", "accelerate"): "getbucketaccelerate",
    ("GET", "bucket", "requestPayment"): "getbucketrequestpayment",
    ("PUT", "object", ""): "putobject",
    ("GET", "object", ""): "getobject",
    ("HEAD", "object", ""): "headobject",
    ("DELETE", "object", ""): "deleteobject",
    ("POST", "object", "uploads"): "newmultipartupload",
    ("PUT", "object", "uploadId"): "putobjectpart",
    ("POST", "object", "uploadId"): "completemultipartupload",
    ("DELETE", "object", "uploadId"): "abortmultipartupload",
    ("GET", "object", "uploadId"): "listobjectparts",
    ("GET", "object", "tagging"): "getobjecttagging",
    ("PUT", "object", "tagging"): "putobjecttagging",
    ("DELETE", "object", "tagging"): "deleteobjecttagging",
    ("GET", "object", "acl"): "getobjectacl",
    ("PUT", "object", "acl"): "putobjectacl",
    ("DELETE", "object", "acl"): "acl",
    ("GET", "object", "attributes"): "getobjectattributes",
    ("GET", "object", "retention"): "getobjectretention",
    ("PUT", "object", "retention"): "putobjectretention",
    ("GET", "object", "legal-hold"): "getobjectlegalhold",
    ("PUT", "object", "legal-hold"): "putobjectlegalhold",
    ("POST", "object", "restore"): "postrestoreobject",
    ("POST", "object", "select"): "selectobjectcontent",
}
for _method in ("GET", "PUT", "DELETE"):
    _ROUTES[(_method, "object", "torrent")] = "torrent"
    for _sub, _name in (
        ("publicAccessBlock", "publicaccessblock"),
        ("ownershipControls", "ownershipcontrols"),
        ("inventory", "inventory"),
        ("metrics", "metrics"),
        ("analytics", "analytics"),
        ("intelligent-tiering", "intelligent-tiering"),
    ):
        _ROUTES[(_method, "bucket", _sub)] = _name
for _method in ("PUT", "DELETE"):
    for _sub in ("logging", "accelerate", "requestPayment"):
        _ROUTES[(_method, "bucket", _sub)] = _sub.lower()

NOT_FOUND = "notfound"  # MinIO's router: no route for the path and query
METHOD_NOT_ALLOWED = "methodnotallowed"  # a method no S3 route takes
_SPECIAL = ("copyobject", "copyobjectpart", "listobjectsv2", NOT_FOUND, METHOD_NOT_ALLOWED)

API_NAMES: tuple[str, ...] = tuple(dict.fromkeys([*_ROUTES.values(), *_SPECIAL]))
_INDEX = {name: i for i, name in enumerate(API_NAMES)}
_ROUTE_INDEX = {route: _INDEX[name] for route, name in _ROUTES.items()}
_S3_METHODS = frozenset(("GET", "PUT", "POST", "DELETE", "HEAD"))
_COPY_OBJECT = _INDEX["copyobject"]
_COPY_PART = _INDEX["copyobjectpart"]
_LIST_V2 = _INDEX["listobjectsv2"]
_PUT_OBJECT = _ROUTE_INDEX[("PUT", "object", "")]
_PUT_PART = _ROUTE_INDEX[("PUT", "object", "uploadId")]
_LIST_V1 = _ROUTE_INDEX[("GET", "bucket", "")]
_POST_POLICY = _ROUTE_INDEX[("POST", "bucket", "")]


# The router's precedence among subresources (api.s3.router.select takes the first of its
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
    index = _ROUTE_INDEX.get((method, level, sub))
    if index is None:
        if method == "OPTIONS" or (method == "POST" and level == "service"):
            return -1
        return _INDEX[NOT_FOUND if method in _S3_METHODS else METHOD_NOT_ALLOWED]
    if index == _PUT_OBJECT or index == _PUT_PART:
        if "x-amz-copy-source" in req.headers:
            return _COPY_OBJECT if index == _PUT_OBJECT else _COPY_PART
    elif index == _LIST_V1:
        if req.query.get("list-type") == "2":
            return _LIST_V2
    elif index == _POST_POLICY:
        if not req.headers.get("content-type", "").startswith("multipart/form-data"):
            return _INDEX[NOT_FOUND]
    return index


def _subresource(query: dict[str, str], ranks: dict[str, int]) -> str:
    """What api.s3.router.select finds: the query's subresource of highest precedence."""
    found, best = "", len(ranks)
    for key in query:
        rank = ranks.get(key, best)
        if rank < best:
            found, best = key, rank
    return found

"""A small, fast AWS SigV4 signer for the load generator (header auth and presigned URLs).

The signing key is derived once per (date, region) and cached; per request the work is
one canonical request, one SHA-256 and one HMAC. ``self_test`` checks the output against
botocore's SigV4Auth / S3SigV4QueryAuth so the fast path cannot drift from the reference.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from urllib.parse import quote

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED = "UNSIGNED-PAYLOAD"
_SIGNED = "host;x-amz-content-sha256;x-amz-date"


def _q(value: str, safe: str = "-_.~") -> str:
    return quote(value, safe=safe)


def canonical_query(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted((_q(k), _q(v)) for k, v in pairs))


class Signer:
    def __init__(self, access_key: str, secret_key: str, region: str = "us-east-1", service: str = "s3"):
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.service = service
        self._keys: dict[str, bytes] = {}
        self._sec = -1
        self._amz_date = ""

    def signing_key(self, date: str) -> bytes:
        key = self._keys.get(date)
        if key is None:
            k = hmac.new(("AWS4" + self.secret_key).encode(), date.encode(), hashlib.sha256).digest()
            for part in (self.region, self.service, "aws4_request"):
                k = hmac.new(k, part.encode(), hashlib.sha256).digest()
            self._keys[date] = key = k
        return key

    def amz_date(self, now: float | None = None) -> str:
        if now is not None:
            return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        sec = int(time.time())
        if sec != self._sec:  # format once per second
            self._sec = sec
            self._amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(sec))
        return self._amz_date

    def headers(
        self,
        method: str,
        host: str,
        path: str,
        query: list[tuple[str, str]] | None = None,
        payload_hash: str = EMPTY_SHA256,
        now: float | None = None,
    ) -> dict[str, str]:
        """Headers for header-auth SigV4. ``path`` is the raw (unencoded) path."""
        amz_date = self.amz_date(now)
        date = amz_date[:8]
        scope = f"{date}/{self.region}/{self.service}/aws4_request"
        creq = (
            f"{method}\n{_q(path, '/-_.~')}\n{canonical_query(query or [])}\n"
            f"host:{host}\nx-amz-content-sha256:{payload_hash}\nx-amz-date:{amz_date}\n\n"
            f"{_SIGNED}\n{payload_hash}"
        )
        sts = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(creq.encode()).hexdigest()}"
        sig = hmac.new(self.signing_key(date), sts.encode(), hashlib.sha256).hexdigest()
        return {
            "Host": host,
            "x-amz-date": amz_date,
            "x-amz-content-sha256": payload_hash,
            "Authorization": f"AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, "
            f"SignedHeaders={_SIGNED}, Signature={sig}",
        }

    def presign(
        self,
        method: str,
        host: str,
        path: str,
        expires: int = 3600,
        now: float | None = None,
        scheme: str = "http",
    ) -> str:
        amz_date = self.amz_date(now)
        date = amz_date[:8]
        scope = f"{date}/{self.region}/{self.service}/aws4_request"
        pairs = [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", f"{self.access_key}/{scope}"),
            ("X-Amz-Date", amz_date),
            ("X-Amz-Expires", str(expires)),
            ("X-Amz-SignedHeaders", "host"),
        ]
        cq = canonical_query(pairs)
        creq = f"{method}\n{_q(path, '/-_.~')}\n{cq}\nhost:{host}\n\nhost\n{UNSIGNED}"
        sts = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(creq.encode()).hexdigest()}"
        sig = hmac.new(self.signing_key(date), sts.encode(), hashlib.sha256).hexdigest()
        return f"{scheme}://{host}{_q(path, '/-_.~')}?{cq}&X-Amz-Signature={sig}"


def self_test(signer: Signer) -> None:
    """Raise AssertionError unless this signer agrees with botocore for a header-signed PUT,
    a LIST with a query, and a presigned GET (signed at the timestamp botocore chose)."""
    import calendar

    from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    creds = Credentials(signer.access_key, signer.secret_key)
    host = "127.0.0.1:9000"
    body = b"x" * 1024
    body_hash = hashlib.sha256(body).hexdigest()

    def ts(amz_date: str) -> float:
        return float(calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ")))

    cases = [
        ("PUT", "/bench-put/put/0/00000001", [], body_hash, body),
        (
            "GET",
            "/bench-big",
            [("list-type", "2"), ("max-keys", "1000"), ("prefix", "m/"), ("delimiter", "/")],
            EMPTY_SHA256,
            b"",
        ),
    ]
    for method, path, query, phash, data in cases:
        qs = canonical_query(query)
        url = f"http://{host}{path}" + (f"?{qs}" if qs else "")
        req = AWSRequest(method=method, url=url, data=data, headers={"x-amz-content-sha256": phash})
        S3SigV4Auth(creds, "s3", signer.region).add_auth(req)
        ours = signer.headers(method, host, path, query, phash, now=ts(req.headers["X-Amz-Date"]))
        assert req.headers["Authorization"] == ours["Authorization"], (
            req.headers["Authorization"],
            ours["Authorization"],
        )
    req = AWSRequest(method="GET", url=f"http://{host}/bench-get/get/obj-0-1m")
    S3SigV4QueryAuth(creds, "s3", signer.region, expires=3600).add_auth(req)
    amz_date = re.search(r"X-Amz-Date=(\w+)", req.url).group(1)
    ours_url = signer.presign("GET", host, "/bench-get/get/obj-0-1m", 3600, now=ts(amz_date))
    assert ours_url.split("X-Amz-Signature=")[1] == req.url.split("X-Amz-Signature=")[1], (
        ours_url,
        req.url,
    )


def signing_cost(signer: Signer, n: int = 20000) -> dict[str, float]:
    """Per-request signing cost of this signer and of botocore's, in microseconds."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    host = "127.0.0.1:9000"
    t0 = time.perf_counter()
    for i in range(n):
        signer.headers("PUT", host, f"/bench-put/put/0/{i:08d}", None, EMPTY_SHA256)
    fast = (time.perf_counter() - t0) / n * 1e6
    auth = S3SigV4Auth(Credentials(signer.access_key, signer.secret_key), "s3", signer.region)
    m = max(1, n // 10)
    t0 = time.perf_counter()
    for i in range(m):
        req = AWSRequest(
            method="PUT",
            url=f"http://{host}/bench-put/put/0/{i:08d}",
            data=b"",
            headers={"x-amz-content-sha256": EMPTY_SHA256},
        )
        auth.add_auth(req)
    slow = (time.perf_counter() - t0) / m * 1e6
    return {"fast_us": fast, "botocore_us": slow}

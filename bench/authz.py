"""The `authz` scenario: the cost of authorization (issue 3).

GET of 1 KiB objects at concurrency 32, as root and as a plain IAM user whose access
comes through two attached policies and a bucket policy, alternating rounds, best of
each side. Target: user rate >= 0.8x root rate.

Setup (as root, outside the timed windows): bucket ``bench-authz`` with ``obj/0..99``
(1 KiB) and ``secret/x``; through the MinIO admin API (minio-py ``MinioAdmin``) a user,
two custom policies attached to it; a bucket policy through boto3. Before timing, the
user's GET of ``obj/0`` must succeed and its PUT and its GET of ``secret/x`` must be
denied, so the policies really are evaluated on the measured path.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

from bench.sigv4 import Signer

BUCKET = "bench-authz"
USER = "benchuser"
NOBJ = 100
ACCOUNT = "000000000000"

# two custom identity policies, neither using ${aws:username}
READ_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ReadObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [f"arn:aws:s3:::{BUCKET}/*"],
        },
        {
            "Sid": "ListBucket",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": [f"arn:aws:s3:::{BUCKET}"],
        },
    ],
}
DENY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "NoSecrets",
            "Effect": "Deny",
            "Action": ["s3:*"],
            "Resource": [f"arn:aws:s3:::{BUCKET}/secret/*"],
        },
        {
            "Sid": "NoWritesElsewhere",
            "Effect": "Deny",
            "Action": ["s3:PutObject", "s3:DeleteObject"],
            "Resource": ["arn:aws:s3:::other-bucket/*"],
        },
    ],
}


def bucket_policy(user_arn: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "UserReadsObjects",
                "Effect": "Allow",
                "Principal": {"AWS": [user_arn]},
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{BUCKET}/obj/*"],
            },
            {
                "Sid": "LoopbackOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["s3:*"],
                "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
                "Condition": {"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}},
            },
        ],
    }


def setup(servers: Any, base: dict[str, Any], log: Any, load: Any, s3: Any) -> dict[str, Any]:
    """Create the bucket, objects, user, policies and bucket policy; verify the user's rights.
    Returns the user's load-generator credentials and the object keys."""
    import boto3
    from botocore.config import Config
    from minio import MinioAdmin
    from minio.credentials import StaticProvider

    chost = f"127.0.0.1:{servers.chronicle_port}"
    root = Signer(servers.user, servers.password)
    keys = [f"obj/{i:03d}" for i in range(NOBJ)]

    async def make_bucket() -> None:
        status, body = await s3(chost, root, "PUT", f"/{BUCKET}")
        if status != 200:
            raise RuntimeError(f"CreateBucket {BUCKET}: {status} {body[:200]!r}")
        status, body = await s3(chost, root, "PUT", f"/{BUCKET}/secret/x", body=b"s" * 1024)
        if status != 200:
            raise RuntimeError(f"PUT secret/x as root: {status} {body[:200]!r}")

    asyncio.run(make_bucket())
    keys_file = servers.workdir / "authz-keys.txt"
    keys_file.write_text("\n".join(keys))
    seeded = load(
        servers,
        "chronicle",
        dict(
            base,
            op="put",
            bucket=BUCKET,
            body_size=1024,
            concurrency=16,
            mode="keys",
            keys_file=str(keys_file),
        ),
        1,
    )
    if seeded["ok"] != len(keys):
        raise RuntimeError(f"could not seed {BUCKET}: {seeded['errors']} {seeded['first_error']}")

    # -- the IAM user and its two policies, through the MinIO admin API
    secret = secrets.token_hex(16)
    admin = MinioAdmin(
        endpoint=chost,
        credentials=StaticProvider(servers.user, servers.password),
        secure=False,
    )
    admin.user_add(USER, secret)
    admin.policy_add("bench-authz-read", policy=READ_POLICY)
    admin.policy_add("bench-authz-deny", policy=DENY_POLICY)
    admin.attach_policy(["bench-authz-read", "bench-authz-deny"], user=USER)
    info = json.loads(admin.user_info(USER))
    attached = sorted(p for p in (info.get("policyName") or "").split(",") if p)
    log(f"  IAM user {USER}: status {info.get('status')}, policies {attached}")

    # -- the bucket policy, through boto3
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/{USER}"
    boto = boto3.client(
        "s3",
        endpoint_url=f"http://{chost}",
        aws_access_key_id=servers.user,
        aws_secret_access_key=servers.password,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    boto.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(bucket_policy(user_arn)))
    stored = json.loads(boto.get_bucket_policy(Bucket=BUCKET)["Policy"])
    log(f"  bucket policy on {BUCKET}: {len(stored.get('Statement', []))} statements")

    # -- the user's rights, checked before timing
    user = Signer(USER, secret)

    async def verify() -> dict[str, int]:
        out = {
            "user_get_obj": (await s3(chost, user, "GET", f"/{BUCKET}/{keys[0]}"))[0],
            "user_put_obj": (await s3(chost, user, "PUT", f"/{BUCKET}/obj/new", body=b"x"))[0],
            "user_get_secret": (await s3(chost, user, "GET", f"/{BUCKET}/secret/x"))[0],
            "root_get_secret": (await s3(chost, root, "GET", f"/{BUCKET}/secret/x"))[0],
        }
        return out

    checks = asyncio.run(verify())
    expect = {
        "user_get_obj": 200,
        "user_put_obj": 403,
        "user_get_secret": 403,
        "root_get_secret": 200,
    }
    log("  checks: " + ", ".join(f"{k}={v}" for k, v in checks.items()))
    bad = {k: v for k, v in checks.items() if v != expect[k]}
    if bad:
        raise RuntimeError(f"authz setup: unexpected statuses {bad} (expected {expect})")
    return {
        "keys": keys,
        "access_key": USER,
        "secret_key": secret,
        "policies": attached,
        "checks": checks,
    }

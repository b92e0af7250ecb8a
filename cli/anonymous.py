"""`chronicle admin anonymous set none|download|upload|public BUCKET[/PREFIX]` and
`chronicle admin anonymous get BUCKET[/PREFIX]`: the bucket policies `mc anonymous` writes
(MinIO's canned anonymous statements, other statements kept), through the S3 API of a
running server (Get/Put/DeleteBucketPolicy, signed by boto3)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cli.share import add_connection_options, s3_client, split_target
from domain.policy import anonymous_kind, anonymous_policy

KINDS = ("none", "private", "download", "upload", "public")


def _current(client: Any, bucket: str) -> str | None:
    from botocore.exceptions import ClientError  # noqa: PLC0415 - start-up cost: botocore loads only when S3 is called

    try:
        return client.get_bucket_policy(Bucket=bucket)["Policy"]  # type: ignore[no-any-return]
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "NoSuchBucketPolicy":
            return None
        raise


def _fail(err: Exception) -> int:
    from botocore.exceptions import ClientError  # noqa: PLC0415 - start-up cost: botocore loads only when S3 is called

    if isinstance(err, ClientError):
        e = err.response.get("Error", {})
        print(f"chronicle: {e.get('Code')}: {e.get('Message')}", file=sys.stderr)
        return 1
    raise err


def cmd_set(args: argparse.Namespace) -> int:
    bucket, prefix = split_target(args.target, need_key=False)
    client = s3_client(args)
    try:
        existing = _current(client, bucket)
        policy = anonymous_policy(args.kind, bucket, prefix, existing)
        if policy is None:
            if existing is not None:
                client.delete_bucket_policy(Bucket=bucket)
        else:
            client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    except Exception as err:  # noqa: BLE001 - S3 errors become one line
        return _fail(err)
    target = f"{bucket}/{prefix}" if prefix else bucket
    if getattr(args, "json", False):
        print(json.dumps({"status": "success", "bucket": target, "permission": args.kind}))
    else:
        print(f"Access permission for `{target}` is set to `{args.kind}`")
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    bucket, prefix = split_target(args.target, need_key=False)
    client = s3_client(args)
    try:
        kind = anonymous_kind(_current(client, bucket), bucket, prefix)
    except Exception as err:  # noqa: BLE001
        return _fail(err)
    target = f"{bucket}/{prefix}" if prefix else bucket
    if getattr(args, "json", False):
        print(json.dumps({"status": "success", "bucket": target, "permission": kind}))
    else:
        print(f"Access permission for `{target}` is `{kind}`")
    return 0


def register(subparsers: Any) -> None:
    """Adds `anonymous set|get` to the `chronicle admin` subcommands."""
    anon = subparsers.add_parser(
        "anonymous", help="anonymous (public) access to a bucket or prefix, like `mc anonymous`"
    )
    sub = anon.add_subparsers(dest="anonymous_command", metavar="set|get")
    sub.required = True
    set_ = sub.add_parser("set", help="none | download | upload | public for BUCKET[/PREFIX]")
    set_.add_argument("kind", choices=KINDS)
    set_.add_argument("target", metavar="BUCKET[/PREFIX]")
    set_.set_defaults(func=cmd_set)
    get = sub.add_parser("get", help="what anonymous users may do with BUCKET[/PREFIX]")
    get.add_argument("target", metavar="BUCKET[/PREFIX]")
    get.set_defaults(func=cmd_get)
    for p in (set_, get):
        add_connection_options(p)
        p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")

"""`chronicle ls s3://BUCKET[/PREFIX] [--as-of T]` and `chronicle cat s3://BUCKET/KEY [--as-of T]`:
list keys and print an object's bytes, today or as they were at a past time or log position.
Client-side, like `chronicle share`: signed by boto3 with the connection options, the as-of
sent as the `x-chronicle-as-of` header (the event hook the README shows)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cli.share import add_connection_options, s3_client

AS_OF_HEADER = "x-chronicle-as-of"


def _client(args: argparse.Namespace) -> Any:
    client = s3_client(args)
    if args.as_of:
        value = str(args.as_of)

        def add_as_of(request: Any, **_: Any) -> None:
            request.headers[AS_OF_HEADER] = value

        client.meta.events.register("before-sign.s3.*", add_as_of)
    return client


def _target(text: str, *, need_key: bool) -> tuple[str, str]:
    path = text[len("s3://") :] if text.startswith("s3://") else text
    bucket, _, rest = path.partition("/")
    if not bucket or (need_key and not rest):
        raise SystemExit(f"expected s3://BUCKET/{'KEY' if need_key else '[PREFIX]'}, got {text!r}")
    return bucket, rest


def _failed(command: str, err: Any) -> int:
    error = getattr(err, "response", {}).get("Error", {})
    print(f"chronicle {command}: {error.get('Code') or err}: {error.get('Message', '')}".rstrip(": "), file=sys.stderr)
    return 1


def cmd_ls(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - start-up cost (boto3)

    bucket, prefix = _target(args.target, need_key=False)
    client = _client(args)
    params = {"Bucket": bucket, "Prefix": prefix}
    if not args.recursive:
        params["Delimiter"] = "/"
    try:
        for page in client.get_paginator("list_objects_v2").paginate(**params):
            for p in page.get("CommonPrefixes", []):
                print(f"{'PRE':>30} {p['Prefix']}")
            for o in page.get("Contents", []):
                print(f"{o['LastModified']:%Y-%m-%d %H:%M:%S} {o['Size']:>10} {o['Key']}")
    except (ClientError, BotoCoreError) as err:
        return _failed("ls", err)
    return 0


def cmd_cat(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - start-up cost (boto3)

    bucket, key = _target(args.target, need_key=True)
    client = _client(args)
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        out = sys.stdout.buffer
        for chunk in body.iter_chunks(1024 * 1024):
            out.write(chunk)
        out.flush()
    except (ClientError, BotoCoreError) as err:
        return _failed("cat", err)
    return 0


def register(subparsers: Any) -> None:
    as_of_help = "as of a past time (ISO 8601, e.g. 2026-11-20T09:00:00Z) or log position"
    ls = subparsers.add_parser("ls", help="list keys (optionally as of a past time or log position)")
    ls.add_argument("target", metavar="s3://BUCKET[/PREFIX]")
    ls.add_argument("--as-of", metavar="TIME|POSITION", help=as_of_help)
    ls.add_argument("--recursive", action="store_true", help="every key under the prefix, not folders")
    add_connection_options(ls)
    ls.set_defaults(func=cmd_ls)
    cat = subparsers.add_parser("cat", help="write an object's bytes to stdout (optionally as of a past time)")
    cat.add_argument("target", metavar="s3://BUCKET/KEY")
    cat.add_argument("--as-of", metavar="TIME|POSITION", help=as_of_help)
    add_connection_options(cat)
    cat.set_defaults(func=cmd_cat)

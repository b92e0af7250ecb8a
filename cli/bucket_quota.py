"""`chronicle admin bucket quota set BUCKET [--size 10GiB] [--objects N]`, `... get BUCKET`
and `... clear BUCKET`: a bucket's hard quota through MinIO's admin API (set-bucket-quota,
get-bucket-quota), as `mc quota set ALIAS/BUCKET --size 10GiB` sets it; `--objects` is
Chronicle's own limit on the number of object versions."""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from cli.admin_client import AdminCLIError, ServerError, admin_client, common_options
from cli.admin_format import friendly

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "ki": 1024,
    "kib": 1024,
    "mi": 1024**2,
    "mib": 1024**2,
    "gi": 1024**3,
    "gib": 1024**3,
    "ti": 1024**4,
    "tib": 1024**4,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str) -> int:
    """'10GiB' -> 10737418240, '5MB' -> 5000000, '123' -> 123 (mc's units)."""
    match = _SIZE.match(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size: write e.g. 10GiB, 500MB or 1048576")
    return int(float(match.group(1)) * _UNITS[unit])


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of objects")
    return int(text)


def human(size: int) -> str:
    for unit, factor in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} B"


def describe(bucket: str, doc: dict[str, Any]) -> str:
    size, objects = int(doc.get("size") or doc.get("quota") or 0), int(doc.get("objects") or 0)
    usage = doc.get("usage") or {}
    used = f"uses {human(int(usage.get('size', 0)))} in {usage.get('objects', 0)} objects"
    if not size and not objects:
        return f"Bucket {bucket} has no quota ({used})."
    limits = [f"{human(size)} ({size} bytes)"] if size else []
    limits += [f"{objects} objects"] if objects else []
    return f"Bucket {bucket} has a hard quota of {' and '.join(limits)}; it {used}."


def _run(args: argparse.Namespace) -> int:
    client = admin_client(args)
    bucket = args.bucket
    try:
        if args.quota_command == "set":
            if args.size is None and args.objects is None:
                print("chronicle admin: give --size and/or --objects (clear removes the quota)", file=sys.stderr)
                return 2
            body = {"size": args.size or 0, "quotatype": "hard", "objects": args.objects or 0}
            client.call("PUT", "set-bucket-quota", {"bucket": bucket}, body)
        elif args.quota_command == "clear":
            client.call("PUT", "set-bucket-quota", {"bucket": bucket}, {"size": 0, "objects": 0})
        doc = client.call("GET", "get-bucket-quota", {"bucket": bucket})
    except ServerError as err:
        message = f"bucket {bucket} does not exist" if err.code == "NoSuchBucket" else friendly(err)
        print(f"chronicle admin: {message}", file=sys.stderr)
        return 1
    except AdminCLIError as err:
        print(f"chronicle admin: {err}", file=sys.stderr)
        return 1
    if getattr(args, "json", False):
        print(json.dumps(doc, indent=2))
    else:
        print(describe(bucket, doc))
    return 0


def register(bucket_settings: Any) -> None:
    """Adds `quota set|get|clear` to the settings of `chronicle admin bucket`."""
    quota = bucket_settings.add_parser(
        "quota", help="a bucket's hard quota: most bytes and most objects, like `mc quota`"
    )
    sub = quota.add_subparsers(dest="quota_command", metavar="set|get|clear", required=True)
    set_ = sub.add_parser("set", parents=[common_options()], help="set the hard quota (0 for no limit)")
    set_.add_argument("--size", type=parse_size, help="most bytes of all versions, e.g. 10GiB, 500MB")
    set_.add_argument("--objects", type=_count, help="most object versions (delete markers not counted)")
    get = sub.add_parser("get", parents=[common_options()], help="show the quota and what the bucket uses")
    clear = sub.add_parser("clear", parents=[common_options()], help="remove the quota")
    for p in (set_, get, clear):
        p.add_argument("bucket", metavar="BUCKET")
        p.set_defaults(func=_run)

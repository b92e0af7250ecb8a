"""`chronicle share download|upload BUCKET/KEY [--expires 7d]`: a presigned GET URL, or a
presigned POST form (with the curl command that uses it), like `mc share`. Signed locally
with SigV4 by boto3 with the configured credentials: the link carries that identity's
permissions at use time.

Connection (as `chronicle admin`, and shared with `chronicle admin anonymous`): --endpoint
or CHRONICLE_ADMIN_ENDPOINT (default http://127.0.0.1:9000), --access-key / --secret-key or
CHRONICLE_ADMIN_ACCESS_KEY / CHRONICLE_ADMIN_SECRET_KEY (falling back to CHRONICLE_ROOT_USER /
CHRONICLE_ROOT_PASSWORD), CHRONICLE_REGION (default us-east-1).
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from typing import Any

from cli.settings import ChronicleSettings

MAX_EXPIRES = 7 * 24 * 3600  # SigV4 presigned URLs live at most 7 days
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d+)([smhdw])")


def parse_duration(text: str) -> int:
    """Seconds in "7d", "1h30m", "90s" or a plain number of seconds."""
    value = text.strip().lower()
    if value.isdigit():
        return int(value)
    pos, total = 0, 0
    for m in _DURATION.finditer(value):
        if m.start() != pos:
            break
        total += int(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(value) or not value:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (use e.g. 7d, 12h, 30m, 45s)")
    return total


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """--endpoint / --access-key / --secret-key, left unset when not given (so options of the
    same name on an enclosing parser keep their value)."""
    parser.add_argument(
        "--endpoint",
        default=argparse.SUPPRESS,
        help="server URL (or CHRONICLE_ADMIN_ENDPOINT; default http://127.0.0.1:9000)",
    )
    parser.add_argument(
        "--access-key",
        dest="admin_access_key",
        metavar="KEY",
        default=argparse.SUPPRESS,
        help="access key to sign with (or CHRONICLE_ADMIN_ACCESS_KEY, else CHRONICLE_ROOT_USER)",
    )
    parser.add_argument(
        "--secret-key",
        dest="admin_secret_key",
        metavar="SECRET",
        default=argparse.SUPPRESS,
        help="its secret key (or CHRONICLE_ADMIN_SECRET_KEY, else CHRONICLE_ROOT_PASSWORD)",
    )
    parser.add_argument(
        "--insecure", action="store_true", default=argparse.SUPPRESS, help="do not verify the server's TLS certificate"
    )


def connection(args: argparse.Namespace) -> dict[str, Any]:
    settings: ChronicleSettings = args.chronicle_settings
    endpoint = getattr(args, "endpoint", None) or settings.admin_endpoint
    if "://" not in endpoint:
        endpoint = "http://" + endpoint
    access = getattr(args, "admin_access_key", None) or settings.admin_access_key or settings.root_user
    secret = getattr(args, "admin_secret_key", None) or settings.admin_secret_key or settings.root_password
    if not access or not secret:
        raise SystemExit(
            "no credentials: pass --access-key and --secret-key, or set CHRONICLE_ADMIN_ACCESS_KEY and "
            "CHRONICLE_ADMIN_SECRET_KEY (or CHRONICLE_ROOT_USER and CHRONICLE_ROOT_PASSWORD)"
        )
    return {
        "endpoint": endpoint.rstrip("/"),
        "access_key": access,
        "secret_key": secret,
        "region": settings.client_region,
        "verify": not getattr(args, "insecure", False),
    }


def s3_client(args: argparse.Namespace) -> Any:
    import boto3  # noqa: PLC0415 - start-up cost: boto3 loads only for the commands that talk S3
    from botocore.config import Config  # noqa: PLC0415 - start-up cost (as boto3)

    c = connection(args)
    return boto3.session.Session().client(
        "s3",
        endpoint_url=c["endpoint"],
        aws_access_key_id=c["access_key"],
        aws_secret_access_key=c["secret_key"],
        region_name=c["region"],
        verify=c["verify"],
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"total_max_attempts": 2}),
    )


def split_target(target: str, *, need_key: bool) -> tuple[str, str]:
    bucket, _, rest = target.strip("/").partition("/")
    if not bucket or (need_key and not rest):
        raise SystemExit(f"expected BUCKET/{'KEY' if need_key else '[PREFIX]'}, got {target!r}")
    return bucket, rest


def _missing(client: Any, bucket: str, key: str | None) -> str | None:
    """Why a link to BUCKET (/KEY) could not work, as `mc share` checks before signing: the
    bucket or the object does not exist, or the signing identity may not see it."""
    # boto3 loads only for the commands that talk S3 (start-up cost of every other command).
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - start-up cost (see above)

    try:
        if key is not None:
            try:
                client.head_object(Bucket=bucket, Key=key)
                return None
            except ClientError as err:
                if _status(err) != 404:
                    raise
            client.head_bucket(Bucket=bucket)  # which of the two is missing
            return f"object {bucket}/{key} does not exist"
        client.head_bucket(Bucket=bucket)
        return None
    except ClientError as err:
        if _status(err) == 404:
            return f"bucket {bucket} does not exist"
        if _status(err) == 403:
            return f"access denied to {bucket}/{key or ''} for these credentials"
        return f"{bucket}/{key or ''}: {err}"
    except BotoCoreError as err:
        return str(err)


def _status(err: Any) -> int:
    return int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def cmd_share(args: argparse.Namespace) -> int:
    bucket, key = split_target(args.target, need_key=True)
    expires = args.expires
    if not 1 <= expires <= MAX_EXPIRES:
        print("--expires must be between 1s and 7d", file=sys.stderr)
        return 2
    client = s3_client(args)
    problem = _missing(client, bucket, key if args.mode == "download" else None)
    if problem:
        print(f"chronicle share: {problem}", file=sys.stderr)
        return 1
    if args.mode == "download":
        url = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires)
        if args.json:
            print(json.dumps({"url": url, "expires": expires}))
        else:
            print(url)
        return 0
    post = client.generate_presigned_post(bucket, key, ExpiresIn=expires)
    if args.json:
        print(json.dumps({**post, "expires": expires}))
        return 0
    form = " ".join(f"-F {shlex.quote(f'{k}={v}')}" for k, v in post["fields"].items())
    print(f"curl {shlex.quote(post['url'])} {form} -F file=@<FILE>")
    return 0


def register(subparsers: Any) -> None:
    """`share download|upload BUCKET/KEY [--expires 7d]` on the top-level parser."""
    share = subparsers.add_parser("share", help="print a presigned download URL or upload form (like `mc share`)")
    share.add_argument("mode", choices=("download", "upload"))
    share.add_argument("target", metavar="BUCKET/KEY")
    share.add_argument(
        "--expires",
        type=parse_duration,
        default=MAX_EXPIRES,
        help="lifetime, e.g. 7d, 12h, 30m, 45s (default and maximum 7d)",
    )
    share.add_argument("--json", action="store_true", help="print JSON")
    add_connection_options(share)
    share.set_defaults(func=cmd_share)

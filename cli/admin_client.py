"""The client of a running server's MinIO admin API that `chronicle admin` uses: requests
signed with SigV4 (botocore), bodies encrypted as madmin does, errors in words."""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from typing import Any
from urllib.parse import quote

import urllib3

from api.admin.madmin_crypto import decrypt_data, encrypt_data
from cli.settings import DEFAULT_ADMIN_ENDPOINT, ChronicleSettings

DEFAULT_ENDPOINT = DEFAULT_ADMIN_ENDPOINT
PREFIX = "/minio/admin/v3/"
JSON_TYPE = "application/octet-stream"


class AdminCLIError(Exception):
    """A failure to report on stderr (exit code 1)."""


class UsageError(Exception):
    """Bad arguments (exit code 2)."""


class ServerError(AdminCLIError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{message} ({code})" if code else message)
        self.status = status
        self.code = code
        self.server_message = message


class AdminClient:
    """Signs requests with botocore's SigV4Auth (service s3) and speaks madmin's encryption."""

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        *,
        insecure: bool = False,
        region: str = "us-east-1",
        region_for_arns: str = "",
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        if not re.match(r"^https?://", self.endpoint):
            raise UsageError(f"--endpoint must be an http:// or https:// URL, not {endpoint!r}")
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        # Target ARNs carry a region only when the server was given one (as MinIO).
        self.region_for_arns = region_for_arns
        kwargs: dict[str, Any] = {"retries": False, "timeout": urllib3.Timeout(connect=10, read=120)}
        if insecure:
            kwargs["cert_reqs"] = "CERT_NONE"
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self.http = urllib3.PoolManager(**kwargs)

    def call(
        self,
        method: str,
        command: str,
        query: dict[str, str] | None = None,
        body: bytes | dict[str, Any] | list[Any] | None = None,
        *,
        encrypt: bool = False,
        decrypt: bool = False,
        raw: bool = False,
    ) -> Any:
        """Send one admin command; return the decoded JSON answer (None for an empty one)."""
        # botocore loads when a command calls the server: a start-up cost every other
        # `chronicle` command (and --help) would pay.
        from botocore.auth import SigV4Auth  # noqa: PLC0415 - start-up cost (see above)
        from botocore.awsrequest import AWSRequest  # noqa: PLC0415 - start-up cost (see above)
        from botocore.credentials import Credentials  # noqa: PLC0415 - start-up cost (see above)

        payload = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
        if encrypt:
            payload = encrypt_data(self.secret_key, payload)
        qs = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted((query or {}).items()))
        url = f"{self.endpoint}{PREFIX}{command}" + (f"?{qs}" if qs else "")
        headers = {
            "Content-Type": JSON_TYPE,
            "X-Amz-Content-SHA256": hashlib.sha256(payload).hexdigest(),
            "User-Agent": "chronicle-admin",
        }
        request = AWSRequest(method=method, url=url, data=payload, headers=headers)
        SigV4Auth(Credentials(self.access_key, self.secret_key), "s3", self.region).add_auth(request)
        try:
            resp = self.http.request(method, url, body=payload or None, headers=dict(request.headers.items()))
        except Exception as exc:  # noqa: BLE001 - urllib3's connection errors
            reason = getattr(exc, "reason", None) or exc
            raise AdminCLIError(f"cannot reach the server at {self.endpoint}: {reason}") from None
        data = resp.data
        if resp.status >= 300:
            code, message = "", data.decode(errors="replace").strip() or f"HTTP {resp.status}"
            try:
                err = json.loads(data)
                code, message = err.get("Code", ""), err.get("Message", message)
            except ValueError:
                pass
            raise ServerError(resp.status, code, message)
        if decrypt and data:
            try:
                data = decrypt_data(self.secret_key, data)
            except Exception as exc:  # noqa: BLE001
                raise AdminCLIError(f"could not decrypt the server's answer: {exc}") from None
        if not data:
            return None
        if raw:
            return data.decode(errors="replace")
        try:
            return json.loads(data)
        except ValueError:
            return data.decode(errors="replace")


def admin_client(args: argparse.Namespace) -> AdminClient:
    settings: ChronicleSettings = args.chronicle_settings
    endpoint = getattr(args, "endpoint", None) or settings.admin_endpoint
    access = getattr(args, "admin_access_key", None) or settings.admin_access_key or settings.root_user
    secret = getattr(args, "admin_secret_key", None) or settings.admin_secret_key or settings.root_password
    if not access or not secret:
        raise UsageError(
            "no credentials: pass --access-key and --secret-key, or set CHRONICLE_ADMIN_ACCESS_KEY and "
            "CHRONICLE_ADMIN_SECRET_KEY (or CHRONICLE_ROOT_USER and CHRONICLE_ROOT_PASSWORD)"
        )
    return AdminClient(
        endpoint,
        access,
        secret,
        insecure=bool(getattr(args, "insecure", False)),
        region=settings.client_region,
        region_for_arns=settings.region,
    )


def common_options(*, keys: bool = True) -> argparse.ArgumentParser:
    """Connection options, accepted before or after the subcommand."""
    p = argparse.ArgumentParser(add_help=False)
    S = argparse.SUPPRESS
    p.add_argument(
        "--endpoint", default=S, help=f"server URL (or CHRONICLE_ADMIN_ENDPOINT; default {DEFAULT_ENDPOINT})"
    )
    if keys:
        p.add_argument(
            "--access-key",
            dest="admin_access_key",
            metavar="KEY",
            default=S,
            help="access key to sign with (or CHRONICLE_ADMIN_ACCESS_KEY, else CHRONICLE_ROOT_USER)",
        )
        p.add_argument(
            "--secret-key",
            dest="admin_secret_key",
            metavar="SECRET",
            default=S,
            help="its secret key (or CHRONICLE_ADMIN_SECRET_KEY, else CHRONICLE_ROOT_PASSWORD)",
        )
    p.add_argument("--json", action="store_true", default=S, help="print JSON for scripts")
    p.add_argument("--insecure", action="store_true", default=S, help="do not verify the server's TLS certificate")
    return p

"""`chronicle admin anonymous set|get` and `chronicle share download|upload`, run as a user runs
them (the `chronicle` entry point in a subprocess) against a real server."""

from __future__ import annotations

import json
import os
import subprocess
import time

import requests

from tests.helpers.s3 import parse_error_xml, raw_get
from tests.helpers.server import REPO_ROOT, chronicle_command


def chronicle(server, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    for name in (
        "CHRONICLE_ADMIN_ACCESS_KEY",
        "CHRONICLE_ADMIN_SECRET_KEY",
        "CHRONICLE_ROOT_USER",
        "CHRONICLE_ROOT_PASSWORD",
    ):
        env.pop(name, None)
    env["CHRONICLE_ADMIN_ENDPOINT"] = server.endpoint
    env["CHRONICLE_ADMIN_ACCESS_KEY"] = server.access_key
    env["CHRONICLE_ADMIN_SECRET_KEY"] = server.secret_key
    proc = subprocess.run(
        chronicle_command(*args), cwd=str(REPO_ROOT), env=env, capture_output=True, text=True, timeout=60
    )
    if check:
        assert proc.returncode == 0, (
            f"chronicle {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def test_anonymous_download_then_none(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="hello.txt", Body=b"hi there")
    obj = f"{server.endpoint}/{bucket}/hello.txt"
    assert raw_get(obj)[0] == 403
    out = chronicle(server, "admin", "anonymous", "get", bucket).stdout
    assert "private" in out
    chronicle(server, "admin", "anonymous", "set", "download", bucket)
    status, _, body = raw_get(obj)
    assert (status, body) == (200, b"hi there")
    assert raw_get(f"{server.endpoint}/{bucket}/up.txt", method="PUT", data=b"x")[0] == 403
    got = json.loads(chronicle(server, "admin", "anonymous", "get", bucket, "--json").stdout)
    assert got["permission"] == "download"
    chronicle(server, "admin", "anonymous", "set", "none", bucket)
    status, _, body = raw_get(obj)
    assert status == 403 and parse_error_xml(body)["Code"] == "AccessDenied"
    assert "private" in chronicle(server, "admin", "anonymous", "get", bucket).stdout


def test_anonymous_prefix_and_upload(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="pub/a", Body=b"a")
    s3.put_object(Bucket=bucket, Key="priv/b", Body=b"b")
    chronicle(server, "admin", "anonymous", "set", "download", f"{bucket}/pub")
    assert raw_get(f"{server.endpoint}/{bucket}/pub/a")[2] == b"a"
    assert raw_get(f"{server.endpoint}/{bucket}/priv/b")[0] == 403
    assert "download" in chronicle(server, "admin", "anonymous", "get", f"{bucket}/pub").stdout
    chronicle(server, "admin", "anonymous", "set", "public", f"{bucket}/drop")
    assert raw_get(f"{server.endpoint}/{bucket}/drop/new", method="PUT", data=b"dropped")[0] == 200
    assert s3.get_object(Bucket=bucket, Key="drop/new")["Body"].read() == b"dropped"
    # the other prefix keeps its access
    assert raw_get(f"{server.endpoint}/{bucket}/pub/a")[0] == 200


def test_anonymous_set_on_missing_bucket_fails(server, bucket_name):
    proc = chronicle(server, "admin", "anonymous", "set", "download", bucket_name, check=False)
    assert proc.returncode == 1
    assert "NoSuchBucket" in proc.stderr


def test_share_download_url_works_then_expires(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"shared content")
    url = chronicle(server, "share", "download", f"{bucket}/doc.txt", "--expires", "7d").stdout.strip()
    assert url.startswith(server.endpoint) and "X-Amz-Signature=" in url and "X-Amz-Expires=604800" in url
    assert raw_get(url)[2] == b"shared content"
    short = chronicle(server, "share", "download", f"{bucket}/doc.txt", "--expires", "1s").stdout.strip()
    time.sleep(2.2)
    status, _, body = raw_get(short)
    assert status == 403 and parse_error_xml(body)["Code"] == "AccessDenied"


def test_share_upload_form(server, s3, bucket):
    out = json.loads(chronicle(server, "share", "upload", f"{bucket}/incoming.bin", "--expires", "1h", "--json").stdout)
    resp = requests.post(out["url"], data=out["fields"], files={"file": ("f", b"uploaded via form")}, timeout=30)
    assert resp.status_code == 204, resp.text
    assert s3.get_object(Bucket=bucket, Key="incoming.bin")["Body"].read() == b"uploaded via form"
    text = chronicle(server, "share", "upload", f"{bucket}/incoming.bin").stdout
    assert text.startswith("curl ") and "file=@<FILE>" in text


def test_share_rejects_bad_arguments(server):
    assert chronicle(server, "share", "download", "just-a-bucket", check=False).returncode != 0
    assert chronicle(server, "share", "download", "b/k", "--expires", "8d", check=False).returncode == 2
    assert chronicle(server, "share", "download", "b/k", "--expires", "soon", check=False).returncode == 2


def test_share_of_a_missing_object_or_bucket_says_so(server, s3, bucket, bucket_name):
    """As `mc share`: an error and a nonzero exit, not a URL that answers 404."""
    for mode, target, what in (
        ("download", f"{bucket}/absent.txt", f"object {bucket}/absent.txt does not exist"),
        ("download", f"{bucket_name}/doc.txt", f"bucket {bucket_name} does not exist"),
        ("upload", f"{bucket_name}/doc.txt", f"bucket {bucket_name} does not exist"),
    ):
        for extra in ((), ("--json",)):
            proc = chronicle(server, "share", mode, target, *extra, check=False)
            assert proc.returncode == 1, proc
            assert proc.stdout == "" and what in proc.stderr and "Traceback" not in proc.stderr
    # A delete marker hides the object: nothing to share either.
    s3.put_object(Bucket=bucket, Key="gone.txt", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="gone.txt")
    proc = chronicle(server, "share", "download", f"{bucket}/gone.txt", check=False)
    assert proc.returncode == 1 and "does not exist" in proc.stderr

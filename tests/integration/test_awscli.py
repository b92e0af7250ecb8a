"""The aws cli (awscli from PyPI) against a real server, as a user runs it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest


@pytest.fixture
def aws(server, tmp_path):
    """aws(*args) -> CompletedProcess; runs `aws ARGS --endpoint-url ENDPOINT`."""
    config = tmp_path / "aws-config"
    config.write_text("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=server.access_key,
        AWS_SECRET_ACCESS_KEY=server.secret_key,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(config),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        AWS_MAX_ATTEMPTS="1",
        AWS_PAGER="",
    )

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "awscli", *args, "--endpoint-url", server.endpoint]
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        if check and res.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} exited {res.returncode}\nstdout:\n{res.stdout[-3000:]}\n"
                f"stderr:\n{res.stderr[-3000:]}\nserver stderr:\n{server.stderr_text()[-3000:]}"
            )
        return res

    return run


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_tree(root: Path) -> dict[str, bytes]:
    files = {
        "index.html": b"<h1>hi</h1>",
        "css/site.css": b"body{}" * 100,
        "img/logo.bin": os.urandom(70_000),
        "docs/a/b/deep.txt": b"deep",
        "docs/space name.txt": b"spaces",
        "empty.txt": b"",
    }
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        # In the past, so `sync` compares sizes and times deterministically
        # (S3 LastModified has one-second precision).
        past = time.time() - 3600
        os.utime(p, (past, past))
    return files


def test_cp_20_mib_up_and_back_identical(aws, bucket, tmp_path, s3):
    src = tmp_path / "big.bin"
    with open(src, "wb") as f:
        for _ in range(20):
            f.write(os.urandom(1024 * 1024))
    aws("s3", "cp", str(src), f"s3://{bucket}/big/big.bin")  # multipart (> 8 MiB)
    head = s3.head_object(Bucket=bucket, Key="big/big.bin")
    assert head["ContentLength"] == 20 * 1024 * 1024
    # aws cli uploads 8 MiB parts: ETag = md5 of the parts' md5 digests + "-3".
    data = src.read_bytes()
    part_md5s = b"".join(hashlib.md5(data[i : i + 8 * 1024 * 1024]).digest() for i in range(0, len(data), 8 << 20))
    assert head["ETag"] == f'"{hashlib.md5(part_md5s).hexdigest()}-3"'
    back = tmp_path / "back.bin"
    aws("s3", "cp", f"s3://{bucket}/big/big.bin", str(back))
    assert back.stat().st_size == 20 * 1024 * 1024
    assert sha256_file(back) == sha256_file(src)


def test_cp_small_file_and_ls(aws, bucket, tmp_path):
    src = tmp_path / "note.txt"
    src.write_bytes(b"small note\n")
    aws("s3", "cp", str(src), f"s3://{bucket}/notes/note.txt")
    out = aws("s3", "ls", f"s3://{bucket}/notes/").stdout
    assert "note.txt" in out
    assert "11 " in out  # size column
    buckets = aws("s3", "ls").stdout
    assert bucket in buckets


def test_sync_tree_up_ls_and_down(aws, bucket, tmp_path):
    up = tmp_path / "up"
    files = make_tree(up)
    aws("s3", "sync", str(up), f"s3://{bucket}/site")

    listing = aws("s3", "ls", "--recursive", f"s3://{bucket}/").stdout
    listed = {}
    for line in listing.splitlines():
        # "2026-11-22 21:30:00       1234 site/css/site.css"
        date, time_, size, key = line.split(None, 3)
        listed[key] = int(size)
    assert listed == {f"site/{rel}": len(data) for rel, data in files.items()}

    # A second sync has nothing to do.
    again = aws("s3", "sync", str(up), f"s3://{bucket}/site").stdout
    assert again.strip() == ""

    down = tmp_path / "down"
    aws("s3", "sync", f"s3://{bucket}/site", str(down))
    got = {str(p.relative_to(down)): p.read_bytes() for p in down.rglob("*") if p.is_file()}
    assert got == files


def test_rm_recursive_empties_prefix(aws, bucket, tmp_path, s3):
    up = tmp_path / "up"
    files = make_tree(up)
    aws("s3", "sync", str(up), f"s3://{bucket}/gone")
    s3.put_object(Bucket=bucket, Key="stay/here", Body=b"x")
    out = aws("s3", "rm", "--recursive", f"s3://{bucket}/gone").stdout
    assert out.count("delete:") == len(files)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["stay/here"]
    # `aws s3 ls` exits 1 when nothing matches.
    assert aws("s3", "ls", "--recursive", f"s3://{bucket}/gone/", check=False).stdout.strip() == ""


def test_mb_and_rb(aws, bucket_name, s3):
    aws("s3", "mb", f"s3://{bucket_name}")
    s3.head_bucket(Bucket=bucket_name)
    aws("s3", "rb", f"s3://{bucket_name}")
    assert bucket_name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]

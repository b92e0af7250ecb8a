"""Witnesses: places outside the database where signed chain checkpoints are published, so
that someone who can rewrite the database cannot also rewrite what was already published.

`CHRONICLE_CHAIN_PUBLISH` lists them, comma-separated:

- `file:/path/checkpoints.jsonl` — one JSON line appended (and fsynced) per checkpoint;
- `http://...` / `https://...` — a webhook: each checkpoint POSTed as JSON, published once
  the receiver answers 2xx;
- `s3://bucket/prefix` — any S3 endpoint (`CHRONICLE_CHAIN_PUBLISH_S3_ENDPOINT`,
  `..._ACCESS_KEY`, `..._SECRET_KEY`, `..._REGION`): one object per checkpoint,
  `prefix/<position, 20 digits>.json`.

A checkpoint counts as published once every witness took it; until then the linker tries
again. `chronicle verify --chain --published SOURCE` reads them back from a file, an S3
prefix or a URL answering JSON lines.
"""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import boto3
from botocore.config import Config

from domain.chain import Checkpoint

TIMEOUT = 10.0


class WitnessError(ValueError):
    """A witness setting that cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class S3Account:
    """Where and as whom s3:// witnesses are written (`CHRONICLE_CHAIN_PUBLISH_S3_*`)."""

    endpoint: str = ""
    access_key: str = ""
    secret_key: str = ""
    region: str = ""


@dataclass(frozen=True)
class S3Place:
    bucket: str
    prefix: str
    endpoint: str
    access_key: str
    secret_key: str
    region: str

    def client(self):  # type: ignore[no-untyped-def]
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint or None,
            aws_access_key_id=self.access_key or None,
            aws_secret_access_key=self.secret_key or None,
            region_name=self.region or "us-east-1",
            config=Config(s3={"addressing_style": "path"}, connect_timeout=TIMEOUT, read_timeout=TIMEOUT),
        )

    def key(self, position: int) -> str:
        return f"{self.prefix.strip('/') + '/' if self.prefix.strip('/') else ''}{position:020d}.json"


def witnesses(spec: str, account: S3Account) -> list[Callable[[Checkpoint], None]]:
    """The publish functions of a CHRONICLE_CHAIN_PUBLISH value (raises WitnessError)."""
    out: list[Callable[[Checkpoint], None]] = []
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        if item.startswith("file:"):
            out.append(_file_witness(item[len("file:") :]))
        elif item.startswith(("http://", "https://")):
            out.append(_webhook_witness(item))
        elif item.startswith("s3://"):
            out.append(_s3_witness(s3_place(item, account)))
        else:
            raise WitnessError(
                f"CHRONICLE_CHAIN_PUBLISH: {item!r} is not file:/path, http(s)://... or s3://bucket/prefix"
            )
    return out


def publish_to_all(targets: Iterable[Callable[[Checkpoint], None]]) -> Callable[[Checkpoint], None]:
    fns = list(targets)

    def publish(cp: Checkpoint) -> None:
        for fn in fns:
            fn(cp)

    return publish


def s3_place(url: str, account: S3Account) -> S3Place:
    parsed = urllib.parse.urlparse(url)
    if not parsed.netloc:
        raise WitnessError(f"{url}: name a bucket, s3://bucket/prefix")
    return S3Place(
        bucket=parsed.netloc,
        prefix=parsed.path.lstrip("/"),
        endpoint=account.endpoint,
        access_key=account.access_key,
        secret_key=account.secret_key,
        region=account.region,
    )


def _line(cp: Checkpoint) -> bytes:
    return json.dumps(cp.to_json(), sort_keys=True).encode()


def _file_witness(path: str) -> Callable[[Checkpoint], None]:
    if not path:
        raise WitnessError("CHRONICLE_CHAIN_PUBLISH: file: needs a path, file:/path/checkpoints.jsonl")

    def publish(cp: Checkpoint) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, _line(cp) + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)

    return publish


def _webhook_witness(url: str) -> Callable[[Checkpoint], None]:
    def publish(cp: Checkpoint) -> None:
        request = urllib.request.Request(
            url, data=_line(cp), headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - an operator's URL
            if not 200 <= response.status < 300:
                raise OSError(f"{url} answered {response.status}")

    return publish


def _s3_witness(place: S3Place) -> Callable[[Checkpoint], None]:
    client = place.client()

    def publish(cp: Checkpoint) -> None:
        client.put_object(
            Bucket=place.bucket, Key=place.key(cp.position), Body=_line(cp), ContentType="application/json"
        )

    return publish


def read_published(source: str, account: S3Account) -> list[Checkpoint]:
    """The checkpoints a witness holds: a JSON-lines file, an s3://bucket/prefix, or a URL
    answering JSON lines."""
    if source.startswith("s3://"):
        place = s3_place(source, account)
        client = place.client()
        out = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=place.bucket, Prefix=place.prefix):
            for item in page.get("Contents", []):
                body = client.get_object(Bucket=place.bucket, Key=item["Key"])["Body"].read()
                out.append(Checkpoint.from_json(json.loads(body)))
        return out
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=TIMEOUT) as response:  # noqa: S310 - an operator's URL
            text = response.read().decode()
    else:
        with open(source.removeprefix("file:")) as f:
            text = f.read()
    return [Checkpoint.from_json(json.loads(line)) for line in text.splitlines() if line.strip()]

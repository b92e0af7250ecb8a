"""Admin API bodies: server information (madmin-go info-commands.go)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def info_message(
    *,
    deployment_id: str,
    endpoint: str,
    version: str,
    uptime_seconds: int,
    buckets: int,
    objects: int,
    versions: int = 0,
    delete_markers: int = 0,
    usage_bytes: int = 0,
    region: str = "",
    sqs_arns: Iterable[str] = (),
    drives: Iterable[Mapping[str, Any]] = (),
    state: str = "online",
    mode: str = "online",
    commit_id: str = "",
) -> dict[str, Any]:
    """madmin ``InfoMessage`` with the fields ``mc admin info`` prints.

    ``mode`` ("online"), ``deploymentID``, ``region``, ``sqsARN``, counts under
    ``buckets``/``objects``/``versions``/``deletemarkers`` ({"count"}),
    ``usage`` ({"size"}), ``backend`` (backendType "Erasure"/"FS"; mc prints
    drive counts for Erasure), ``servers`` (ServerProperties: ``state``,
    ``endpoint``, ``uptime`` seconds, ``version``, ``commitID``, ``network``
    {endpoint: "online"}, ``drives`` [Disk], ``edition``, ``mem_stats``).
    """
    drives = [dict(d) for d in drives]
    server: dict[str, Any] = {
        "state": state,
        "endpoint": endpoint,
        "scheme": "http",
        "uptime": int(uptime_seconds),
        "version": version,
        "commitID": commit_id,
        "network": {endpoint: "online"},
        "drives": drives,
        "poolNumber": 1,
        "poolNumbers": [1],
        "mem_stats": {"Alloc": 0, "TotalAlloc": 0, "Mallocs": 0, "Frees": 0, "HeapAlloc": 0},
        "edition": "",
        "is_leader": True,
        "ilm_expiry_in_progress": False,
        "api_version": {"backend": {k: {"major": 0, "minor": 0, "patch": 0} for k in ("current", "max", "min")}},
    }
    message: dict[str, Any] = {"mode": mode, "deploymentID": deployment_id}
    if region:
        message["region"] = region
    arns = list(sqs_arns)
    if arns:
        message["sqsARN"] = arns
    message.update(
        {
            "buckets": {"count": buckets},
            "objects": {"count": objects},
            "versions": {"count": versions},
            "deletemarkers": {"count": delete_markers},
            "usage": {"size": usage_bytes},
            "services": {},
            "backend": {
                "backendType": "FS",
                "onlineDisks": len(drives),
                "offlineDisks": 0,
                "standardSCParity": 0,
                "rrSCParity": 0,
                "totalSets": [1],
                "totalDrivesPerSet": [len(drives)],
            },
            "servers": [server],
        }
    )
    return message


def drive(endpoint: str, *, path: str, total: int, used: int, available: int, uuid: str = "") -> dict[str, Any]:
    """madmin ``Disk`` with what mc shows (state "ok", space figures)."""
    disk: dict[str, Any] = {
        "endpoint": endpoint,
        "path": path,
        "state": "ok",
        "major": 0,
        "minor": 0,
        "totalspace": total,
        "usedspace": used,
        "availspace": available,
        "used_inodes": 0,
        "local": True,
        "pool_index": 0,
        "set_index": 0,
        "disk_index": 0,
    }
    if uuid:
        disk["uuid"] = uuid
    return disk

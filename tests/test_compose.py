"""Static checks of compose/: no Docker engine runs here, so the compose file
and Dockerfile are checked for consistency instead of being run."""

from __future__ import annotations

import re
import shlex
import urllib.parse
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

REPO = Path(__file__).resolve().parents[1]
COMPOSE_DIR = REPO / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose():
    doc = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(doc, dict) and isinstance(doc.get("services"), dict)
    return doc


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


def command_of(svc) -> list[str]:
    cmd = svc.get("command") or []
    return shlex.split(cmd) if isinstance(cmd, str) else list(cmd)


def chronicle_services(services) -> dict:
    return {
        name: svc
        for name, svc in services.items()
        if isinstance(svc.get("build"), dict) and svc["build"].get("dockerfile", "").endswith("compose/Dockerfile")
    }


def api_nodes(services) -> dict:
    return {n: s for n, s in chronicle_services(services).items() if command_of(s)[:1] == ["serve"]}


def depends(svc) -> dict:
    dep = svc.get("depends_on") or {}
    if isinstance(dep, list):
        return {d: {"condition": "service_started"} for d in dep}
    return dep


def test_compose_parses_with_expected_services(services):
    assert "postgres" in services
    assert "migrate" in services
    assert len(api_nodes(services)) >= 2, "at least two API nodes behind the load balancer"


def test_every_depends_on_target_exists(services):
    for name, svc in services.items():
        for target in depends(svc):
            assert target in services, f"{name} depends on unknown service {target}"


def test_named_volumes_and_configs_are_declared(compose, services):
    declared_volumes = set((compose.get("volumes") or {}).keys())
    declared_configs = set((compose.get("configs") or {}).keys())
    for name, svc in services.items():
        for vol in svc.get("volumes", []):
            source = vol.split(":", 1)[0] if isinstance(vol, str) else vol.get("source")
            if not source.startswith((".", "/", "~")):
                assert source in declared_volumes, f"{name} uses undeclared volume {source}"
        for cfg in svc.get("configs", []):
            source = cfg if isinstance(cfg, str) else cfg["source"]
            assert source in declared_configs, f"{name} uses undeclared config {source}"


def test_chronicle_services_share_database_and_secrets(services):
    nodes = chronicle_services(services)
    assert "migrate" in nodes
    envs = [nodes[n]["environment"] for n in sorted(nodes)]
    for key in (
        "CHRONICLE_DATABASE_URL",
        "CHRONICLE_MASTER_KEY",
        "CHRONICLE_ROOT_USER",
        "CHRONICLE_ROOT_PASSWORD",
    ):
        values = {env.get(key) for env in envs}
        assert len(values) == 1 and None not in values, f"{key} differs or is missing: {values}"


def test_database_url_points_at_postgres_service(services):
    env = services["migrate"]["environment"]
    url = urllib.parse.urlsplit(env["CHRONICLE_DATABASE_URL"])
    assert url.scheme in ("postgresql", "postgres")
    assert url.hostname in services, f"database host {url.hostname} is not a service"
    pg_env = services[url.hostname]["environment"]
    assert url.username == pg_env["POSTGRES_USER"]
    assert url.password == pg_env["POSTGRES_PASSWORD"]
    assert url.path.lstrip("/") == pg_env["POSTGRES_DB"]
    assert url.port in (None, 5432)


def test_migrate_runs_once_before_api_nodes(services):
    assert command_of(services["migrate"]) == ["migrate"]
    assert depends(services["migrate"])["postgres"]["condition"] == "service_healthy"
    assert services["postgres"].get("healthcheck"), "postgres needs a healthcheck for service_healthy"
    for name, svc in api_nodes(services).items():
        assert depends(svc)["migrate"]["condition"] == "service_completed_successfully", name


def test_api_nodes_listen_on_all_interfaces_and_share_blobs(services):
    blob_mounts = set()
    for name, svc in api_nodes(services).items():
        cmd = command_of(svc)
        address = cmd[cmd.index("--address") + 1]
        assert address.startswith("0.0.0.0:"), f"{name} must listen beyond loopback in a container"
        data_dir = cmd[cmd.index("--data-dir") + 1]
        mounts = {v.split(":")[0] for v in svc["volumes"] if v.split(":")[1] == data_dir}
        assert mounts, f"{name}: --data-dir {data_dir} is not on a volume"
        blob_mounts |= mounts
    assert len(blob_mounts) == 1, "API nodes must share one blob volume"


def test_load_balancer_targets_every_api_node(compose, services):
    nodes = api_nodes(services)
    lb = [(name, svc) for name, svc in services.items() if "nginx" in str(svc.get("image", ""))]
    if not lb:
        pytest.skip("no load balancer in the compose file")
    name, svc = lb[0]
    conf = ""
    for cfg in svc.get("configs", []):
        source = cfg if isinstance(cfg, str) else cfg["source"]
        conf += compose["configs"][source].get("content", "")
    upstreams = set(re.findall(r"server\s+([\w.-]+:\d+)\s*;", conf))
    for node, node_svc in nodes.items():
        cmd = command_of(node_svc)
        port = cmd[cmd.index("--address") + 1].rsplit(":", 1)[1]
        assert f"{node}:{port}" in upstreams, f"{name} does not balance to {node}:{port}"
    # SigV4 signs Host: it must reach the nodes unchanged ($$ escapes $ in compose).
    assert re.search(r"proxy_set_header\s+Host\s+\$\$http_host", conf)
    assert "client_max_body_size 0" in conf
    assert set(depends(svc)) >= set(nodes)


def test_dockerfile_builds_the_package(services):
    build = services["migrate"]["build"]
    context = (COMPOSE_DIR / build["context"]).resolve()
    assert context == REPO
    dockerfile = context / build["dockerfile"]
    text = dockerfile.read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    assert re.search(r"pip install .*\.", text)
    assert '"chronicle"' in text  # ENTRYPOINT is the installed console script
    for src in re.findall(r"^COPY\s+(\S+)\s+\S+", text, re.M):
        assert (context / src).exists(), f"Dockerfile copies {src}, which is not in the repository"
    # Everything pyproject packages must be copied in, or `pip install .` misses it.
    for pkg in ("domain", "projections", "api", "workers", "cli"):
        assert re.search(rf"^COPY\s+{pkg}\s", text, re.M), f"Dockerfile does not copy {pkg}/"

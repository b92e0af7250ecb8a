"""Start and stop real `chronicle serve` processes for the integration tests.

The server is started exactly as a user starts it (the `chronicle` entry point,
``cli.main:main``), on a free loopback port, with a fresh data directory. Its
stdout/stderr go to files so a failed start can show what the server said.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers.services import is_migrated_copy

REPO_ROOT = Path(__file__).resolve().parents[2]

START_TIMEOUT = float(os.environ.get("CHRONICLE_TEST_START_TIMEOUT", "20"))
STOP_TIMEOUT = 10.0

# `python -c` keeps sys.argv[1:] as the command's arguments, so argparse (or
# click) inside main() sees exactly what `chronicle ...` would have seen.
_ENTRY = "import sys; from cli.main import main; sys.exit(main())"


def chronicle_command(*args: str) -> list[str]:
    """The argv that runs `chronicle ARGS...` with the interpreter running the tests."""
    return [sys.executable, "-c", _ENTRY, *args]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def master_key() -> str:
    return secrets.token_hex(32)


def make_self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost, made with `cryptography`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chronicle-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class ServerStartError(RuntimeError):
    pass


@dataclass
class ChronicleServer:
    """One `chronicle serve` process (restartable on the same port and data dir)."""

    data_dir: Path
    log_dir: Path
    env: dict[str, str]
    port: int
    access_key: str
    secret_key: str
    tls: bool = False
    cert_file: Path | None = None
    key_file: Path | None = None
    domain: str | None = None
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None
    _starts: int = 0

    # -- addresses -------------------------------------------------------
    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def stdout_path(self) -> Path:
        return self.log_dir / "stdout.log"

    @property
    def stderr_path(self) -> Path:
        return self.log_dir / "stderr.log"

    # -- output ------------------------------------------------------------
    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stdout_text(self) -> str:
        try:
            return self.stdout_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- lifecycle -------------------------------------------------------
    def command(self) -> list[str]:
        args = ["serve", "--address", self.address, "--data-dir", str(self.data_dir)]
        if self.tls:
            args += ["--tls-cert", str(self.cert_file), "--tls-key", str(self.key_file)]
        if self.domain:
            args += ["--domain", self.domain]
        return chronicle_command(*args, *self.extra_args)

    def start(self, timeout: float = START_TIMEOUT) -> ChronicleServer:
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("server already running")
        self._starts += 1
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Append, so restarts keep the earlier runs' output for diagnosis.
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            marker = f"\n--- chronicle start #{self._starts} ---\n".encode()
            out.write(marker)
            err.write(marker)
            out.flush()
            err.flush()
            self.proc = subprocess.Popen(
                self.command(),
                cwd=str(REPO_ROOT),
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own process group: we can stop all it spawns
            )
        self.wait_live(timeout)
        return self

    def health(self, which: str = "live", timeout: float = 2.0) -> int:
        """HTTP status of /minio/health/<which> (0 when no answer)."""
        ctx = None
        if self.tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        url = f"{self.endpoint}/minio/health/{which}"
        try:
            with urllib.request.urlopen(url, timeout=timeout, context=ctx) as resp:
                return resp.status
        except urllib.error.HTTPError as e:
            return e.code
        except (OSError, ssl.SSLError):
            return 0

    def wait_live(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            code = self.proc.poll() if self.proc else -1
            if code is not None:
                raise ServerStartError(
                    f"chronicle serve exited with code {code} before answering "
                    f"/minio/health/live\ncommand: {self.command()}\n"
                    f"stderr:\n{self.stderr_text()[-8000:]}\nstdout:\n{self.stdout_text()[-2000:]}"
                )
            if self.health("live", timeout=1.0) == 200:
                return
            if time.monotonic() > deadline:
                self.stop()
                raise ServerStartError(
                    f"chronicle serve did not answer 200 on /minio/health/live within "
                    f"{timeout:.0f}s\ncommand: {self.command()}\n"
                    f"stderr:\n{self.stderr_text()[-8000:]}\nstdout:\n{self.stdout_text()[-2000:]}"
                )
            time.sleep(0.1)

    def _signal_group(self, sig: int) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:  # pragma: no cover - not our group any more
            self.proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL the server (and anything it spawned), as a crash would."""
        if self.proc is None:
            return
        self._signal_group(signal.SIGKILL)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left in its group (workers, children) goes too.
        self._signal_group(signal.SIGKILL)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass

    def restart(self, timeout: float = START_TIMEOUT) -> ChronicleServer:
        self.stop()
        return self.start(timeout)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- clients -----------------------------------------------------------
    def client(self, service: str = "s3", **config_kwargs):
        return s3_client(self, service=service, **config_kwargs)


# One boto3 session for every client the tests make: a session loads botocore's data files
# (0.1 s of CPU per client with a session each, 0.02 s with one shared). Each client still
# has its own connections, configuration and event hooks (botocore copies them per client).
_SESSION: Any = None
_SESSION_LOCK = threading.Lock()


def _shared_session(boto3: Any) -> Any:
    global _SESSION
    if _SESSION is None:
        _SESSION = boto3.session.Session()
    return _SESSION


def s3_client(server: ChronicleServer, service: str = "s3", **config_kwargs):
    """A boto3 client for SERVER: path-style, us-east-1, no retries (errors surface)."""
    import boto3
    from botocore.config import Config

    cfg = dict(
        region_name="us-east-1",
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        retries={"total_max_attempts": 1, "mode": "standard"},  # no retries: errors surface
        connect_timeout=10,
        read_timeout=60,
    )
    cfg.update(config_kwargs)
    with _SESSION_LOCK:  # a boto3 session is not thread-safe; its clients are
        return _shared_session(boto3).client(
            service,
            endpoint_url=server.endpoint,
            aws_access_key_id=server.access_key,
            aws_secret_access_key=server.secret_key,
            region_name="us-east-1",
            config=Config(**cfg),
            verify=False if server.tls else None,
        )


class ServerFactory:
    """Creates servers; `close()` stops every one it created."""

    def __init__(self, base_dir: Path):
        self.base_dir = Path(base_dir)
        self.servers: list[ChronicleServer] = []

    def base_env(self) -> dict[str, str]:
        env = dict(os.environ)
        # A test's own choice of backend wins over whatever the shell had.
        for name in ("CHRONICLE_DATABASE_URL", "CHRONICLE_MASTER_KEY", "CHRONICLE_DOMAIN"):
            env.pop(name, None)
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def __call__(
        self,
        backend: str = "sqlite",
        *,
        database_url: str | None = None,
        tls: bool = False,
        domain: str | None = None,
        env: dict[str, str] | None = None,
        data_dir: Path | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        master_key_hex: str | None = None,
        migrate: bool = True,
        start: bool = True,
        port: int | None = None,
        extra_args: list[str] | None = None,
        timeout: float = START_TIMEOUT,
    ) -> ChronicleServer:
        if backend not in ("sqlite", "postgres"):
            raise ValueError(f"unknown backend {backend!r}")
        name = f"srv-{len(self.servers)}-{uuid.uuid4().hex[:6]}"
        root = self.base_dir / name
        access_key = access_key or "chronicleroot"
        secret_key = secret_key or ("secret-" + secrets.token_hex(12))
        full_env = self.base_env()
        full_env["CHRONICLE_ROOT_USER"] = access_key
        full_env["CHRONICLE_ROOT_PASSWORD"] = secret_key
        if backend == "postgres":
            if not database_url:
                raise ValueError("backend='postgres' needs database_url (use the pg_url fixture)")
            full_env["CHRONICLE_DATABASE_URL"] = database_url
            full_env["CHRONICLE_MASTER_KEY"] = master_key_hex or master_key()
        if domain:
            full_env["CHRONICLE_DOMAIN"] = domain
        if env:
            full_env.update(env)
        cert = key = None
        if tls:
            cert, key = make_self_signed_cert(root / "tls")
        server = ChronicleServer(
            data_dir=Path(data_dir) if data_dir else root / "data",
            log_dir=root / "logs",
            env=full_env,
            port=port or free_port(),
            access_key=access_key,
            secret_key=secret_key,
            tls=tls,
            cert_file=cert,
            key_file=key,
            domain=domain,
            extra_args=list(extra_args or []),
        )
        self.servers.append(server)
        # A copy of the migrated template is what `chronicle migrate` would leave (see
        # tests/helpers/pg_template.py): migrating it again would change nothing.
        if backend == "postgres" and migrate and not is_migrated_copy(database_url):
            run_migrate(full_env, root / "logs")
        if start:
            self._start(server, timeout, pick_port=port is None)
        return server

    @staticmethod
    def _start(server: ChronicleServer, timeout: float, pick_port: bool) -> None:
        # Another xdist worker may grab the port between free_port() and bind:
        # on "address in use" try again on a new port.
        for attempt in range(3):
            try:
                server.start(timeout)
                return
            except ServerStartError as e:
                text = str(e).lower()
                if pick_port and attempt < 2 and ("address already in use" in text or "errno 98" in text):
                    server.port = free_port()
                    continue
                raise

    def close(self) -> None:
        for server in self.servers:
            try:
                server.stop()
            except Exception:  # pragma: no cover - best effort at teardown
                pass
        self.servers.clear()


def run_migrate(env: dict[str, str], log_dir: Path, timeout: float = 120) -> None:
    """`chronicle migrate` with ENV; raises with its output if it fails."""
    log_dir.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(
        chronicle_command("migrate"),
        cwd=str(REPO_ROOT),
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
    )
    (log_dir / "migrate.log").write_bytes(res.stdout + b"\n--- stderr ---\n" + res.stderr)
    if res.returncode != 0:
        raise RuntimeError(
            f"chronicle migrate failed with code {res.returncode}\n"
            f"stderr:\n{res.stderr.decode(errors='replace')[-8000:]}\n"
            f"stdout:\n{res.stdout.decode(errors='replace')[-2000:]}"
        )

"""Values in MinIO's target settings: on/off, whole numbers, host:port, table names and
go-sql-driver DSNs. Errors are ``ConfigError`` and say what to fix."""

from __future__ import annotations

import re
import unicodedata
import urllib.parse
from dataclasses import dataclass, field


class ConfigError(ValueError):
    """A notification target setting is missing or malformed."""


_TRUE = {"on", "true", "yes", "1", "enable", "enabled", "t", "y"}
_FALSE = {"off", "false", "no", "0", "disable", "disabled", "f", "n", ""}


def parse_bool(value: str, what: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise ConfigError(f"{what} must be 'on' or 'off', not {value!r}")


def parse_int(value: str, what: str) -> int:
    try:
        return int(value.strip() or "0")
    except ValueError:
        raise ConfigError(f"{what} must be a whole number, not {value!r}") from None


def split_host_port(address: str, default_port: int, *, what: str) -> tuple[str, int]:
    """``host:port``, ``host`` or ``[v6]:port`` → (host, port)."""
    a = address.strip()
    if not a:
        raise ConfigError(f"{what} is empty; use host:port, e.g. 127.0.0.1:{default_port}")
    if a.startswith("["):
        host, _, rest = a[1:].partition("]")
        port_s = rest[1:] if rest.startswith(":") else ""
        if rest and not rest.startswith(":"):
            raise ConfigError(f"{what} {address!r} is not host:port")
    elif a.count(":") == 1:
        host, port_s = a.split(":")
    elif ":" in a:  # bare IPv6
        host, port_s = a, ""
    else:
        host, port_s = a, ""
    if not host:
        raise ConfigError(f"{what} {address!r} has no host; use host:port")
    if not port_s:
        return host, default_port
    if not port_s.isdigit() or not 0 < int(port_s) < 65536:
        raise ConfigError(f"{what} {address!r} has an invalid port; use host:port")
    return host, int(port_s)


def validate_postgres_table(name: str) -> None:
    """As MinIO: a quoted identifier (no quote inside), or a letter/underscore followed by
    letters, digits, ``_`` or ``$``."""
    if re.fullmatch(r'"[^"]+"', name):
        return
    cleaned = []
    for ch in name:
        if ch in "_$":
            cleaned.append(ch)
        elif ch.isdigit():
            cleaned.append("0")
        elif unicodedata.category(ch).startswith("L"):
            cleaned.append("a")
        else:
            cleaned = None
            break
    if cleaned is None or not re.fullmatch(r"[a_][a0_$]*", "".join(cleaned)):
        raise ConfigError(
            f"notify_postgres: invalid PostgreSQL table {name!r}: use letters, digits, _ and $ "
            'starting with a letter or _, or a "quoted identifier"'
        )


@dataclass
class MySQLDSN:
    user: str = ""
    password: str = ""
    net: str = "tcp"  # tcp | unix
    host: str = "127.0.0.1"
    port: int = 3306
    unix_socket: str = ""
    database: str = ""
    params: dict[str, str] = field(default_factory=dict)


def go_duration_seconds(value: str, what: str) -> float:
    """A Go duration (``5s``, ``1m30s``, ``500ms``) in seconds; ``what`` names the setting in
    the error (``notify_mysql: dsn_string timeout``)."""
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    total, pos = 0.0, 0
    for m in re.finditer(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", value):
        if m.start() != pos:
            break
        total += float(m.group(1)) * units[m.group(2)]
        pos = m.end()
    if pos != len(value) or not value:
        raise ConfigError(f"{what}={value!r} is not a Go duration like 5s")
    return total


def parse_mysql_dsn(dsn: str) -> MySQLDSN:
    """go-sql-driver DSN: ``[user[:password]@][net[(addr)]]/dbname[?param=value&...]``."""
    out = MySQLDSN()
    slash = dsn.rfind("/")
    if slash < 0:
        raise ConfigError(
            "notify_mysql: dsn_string must look like user:password@tcp(host:3306)/database "
            "(the /database part is missing)"
        )
    head, tail = dsn[:slash], dsn[slash + 1 :]
    dbname, _, query = tail.partition("?")
    out.database = urllib.parse.unquote(dbname)
    for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True):
        out.params[k] = v
    at = head.rfind("@")
    userinfo, netaddr = (head[:at], head[at + 1 :]) if at >= 0 else ("", head)
    out.user, _, out.password = userinfo.partition(":")
    if netaddr:
        m = re.fullmatch(r"([a-z0-9]+)(?:\((.*)\))?", netaddr)
        if not m:
            raise ConfigError(
                f"notify_mysql: dsn_string network part {netaddr!r} must be tcp(host:port) or unix(/path/to/socket)"
            )
        out.net, addr = m.group(1), m.group(2) or ""
        if out.net == "unix":
            out.unix_socket = addr or "/tmp/mysql.sock"
        elif out.net in ("tcp", "tcp4", "tcp6"):
            out.net = "tcp"
            if addr:
                out.host, out.port = split_host_port(addr, 3306, what="notify_mysql: dsn_string address")
        else:
            raise ConfigError(f"notify_mysql: dsn_string network {out.net!r} is not supported; use tcp or unix")
    for go_key in ("timeout", "readTimeout", "writeTimeout"):
        if go_key in out.params:
            go_duration_seconds(out.params[go_key], f"notify_mysql: dsn_string {go_key}")
    tls = out.params.get("tls", "false").lower()
    if tls not in ("true", "false", "1", "0", "skip-verify", "preferred"):
        raise ConfigError(f"notify_mysql: dsn_string tls={tls!r}: use true, false, skip-verify or preferred")
    return out


def validate_mysql_table(name: str) -> None:
    """A (database-qualified) table: each part plain letters/digits/_/$ or `backquoted`."""
    part = r"(?:[A-Za-z0-9_$\u0080-\uffff]+|`[^`]+`)"
    if not re.fullmatch(rf"{part}(?:\.{part})?", name):
        raise ConfigError(
            f"notify_mysql: invalid MySQL table {name!r}: use letters, digits, _ and $, or a `backquoted` name"
        )


def parse_bool_lenient(value: str) -> bool:
    return value.strip().lower() in _TRUE

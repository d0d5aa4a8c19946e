"""Services the agent can reach: cloud metadata, container runtimes, Kubernetes, local databases,
SSH agents and the outside world.

Nothing leaves the machine except the metadata probes (link-local addresses that never route off
the host) and, only when ``--probe-egress HOST`` names a target, TCP handshakes to that host.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import stat
import struct
from pathlib import Path
from urllib.parse import urlsplit

from corral.audit.checks.base import Out, expand, read_head
from corral.audit.checks.credentials import kubeconfig_paths, parse_kubeconfig
from corral.audit.checks.net import http_probe, parallel, tcp_open, unix_connect
from corral.audit.config import AuditConfig, Endpoint
from corral.audit.model import Severity

# ---------------------------------------------------------------------------------------------
# Cloud metadata
# ---------------------------------------------------------------------------------------------


def check_metadata(cfg: AuditConfig, out: Out) -> None:
    endpoints = list(cfg.metadata_endpoints)
    for endpoint, result in parallel(
        lambda e: _probe_metadata(e, cfg.probe_timeout), endpoints, cfg.probe_timeout * 3 + 0.5
    ):
        if isinstance(result, BaseException):
            out.could_not(f"metadata endpoint {endpoint.url}", result)
        elif result is not None:
            severity, detail = result
            out.add(
                "CR-AUD-020", endpoint.url, severity=severity, detail=f"{endpoint.name}: {detail}"
            )


def _probe_metadata(endpoint: Endpoint, timeout: float) -> tuple[Severity, str] | None:
    if not tcp_open(endpoint.host, endpoint.port, timeout):
        return None
    answer = http_probe(endpoint.host, endpoint.port, endpoint.path, endpoint.headers, timeout)
    if answer is None:
        return "high", "TCP port open (no HTTP answer)"
    if answer.status == 200:
        return "critical", "answers metadata requests (HTTP 200)"
    if answer.status == 401 and endpoint.path.startswith("/latest/"):
        token = http_probe(
            endpoint.host,
            endpoint.port,
            "/latest/api/token",
            (("X-aws-ec2-metadata-token-ttl-seconds", "60"),),
            timeout,
            method="PUT",
        )
        if token is not None and token.status == 200:
            return "critical", "IMDSv2: a session token can be minted (HTTP 200 on PUT)"
    return "high", f"answers HTTP {answer.status}"


# ---------------------------------------------------------------------------------------------
# Container runtime sockets
# ---------------------------------------------------------------------------------------------

RUNTIME_SOCKETS = (
    "var/run/docker.sock",
    "run/docker.sock",
    "run/containerd/containerd.sock",
    "var/run/containerd/containerd.sock",
    "run/k3s/containerd/containerd.sock",
    "run/podman/podman.sock",
    "run/crio/crio.sock",
    "var/run/crio/crio.sock",
    "run/buildkit/buildkitd.sock",
    "var/run/cri-dockerd.sock",
)
_RUNTIME_USER_SOCKETS = ("docker.sock", "podman/podman.sock", "containerd/containerd.sock")


def check_container_sockets(cfg: AuditConfig, out: Out) -> None:
    candidates = [cfg.root / rel for rel in RUNTIME_SOCKETS]
    runtime_dir = cfg.env.get("XDG_RUNTIME_DIR")
    if runtime_dir:
        candidates += [Path(runtime_dir) / rel for rel in _RUNTIME_USER_SOCKETS]
    for variable in ("DOCKER_HOST", "CONTAINER_HOST"):
        value = cfg.env.get(variable, "")
        if value.startswith("unix://"):
            candidates.append(Path(value[len("unix://") :]))
        elif value.startswith(("tcp://", "http://", "https://", "ssh://")):
            _remote_runtime(variable, value, cfg, out)
    seen: set[Path] = set()
    for path in candidates:
        if path in seen:
            continue
        seen.add(path)
        _probe_runtime_socket(path, cfg, out)


def _probe_runtime_socket(path: Path, cfg: AuditConfig, out: Out) -> None:
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return  # absent, or in a directory this user cannot enter: not reachable
    except OSError as exc:
        out.could_not(str(path), exc)
        return
    if not stat.S_ISSOCK(info.st_mode):
        return
    try:
        unix_connect(str(path), cfg.probe_timeout).close()
    except PermissionError:
        out.add("CR-AUD-027", str(path), detail="connect() refused: permission denied")
        return
    except OSError as exc:
        if exc.errno == errno.ECONNREFUSED:
            return  # a stale socket file: nobody is listening
        out.could_not(str(path), exc)
        return
    out.add("CR-AUD-021", str(path), detail="connect() succeeded: full control of the runtime")


def _remote_runtime(variable: str, value: str, cfg: AuditConfig, out: Out) -> None:
    parts = urlsplit(value)
    host, port = parts.hostname or "", parts.port or 2375
    route = f"{parts.scheme}://{host}:{port}"
    if _is_loopback(host) and tcp_open(host, port, cfg.probe_timeout):
        out.add("CR-AUD-021", f"env:{variable}", route, detail="runtime API answers on loopback")
    else:
        out.add(
            "CR-AUD-021",
            f"env:{variable}",
            route,
            severity="high",
            detail="remote runtime API configured (not probed: off loopback)",
        )


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ---------------------------------------------------------------------------------------------
# Kubernetes API
# ---------------------------------------------------------------------------------------------

_SA_TOKEN = "var/run/secrets/kubernetes.io/serviceaccount/token"


def check_kubernetes_api(cfg: AuditConfig, out: Out) -> None:
    token_readable = _readable(cfg.root / _SA_TOKEN)
    host = cfg.env.get("KUBERNETES_SERVICE_HOST")
    if host:
        port = cfg.env.get("KUBERNETES_SERVICE_PORT", "443")
        shown = f"[{host}]" if ":" in host else host
        _report_api(
            f"https://{shown}:{port}",
            "env:KUBERNETES_SERVICE_HOST",
            "in-cluster API" + (" with a readable service-account token" if token_readable else ""),
            has_credentials=token_readable,
            cfg=cfg,
            out=out,
        )
    for path in kubeconfig_paths(cfg):
        try:
            head = read_head(path)
        except OSError:
            continue  # unreadable or absent kubeconfigs are the credential check's business
        kinds, servers = parse_kubeconfig(head.text)
        for server in servers:
            _report_api(
                server,
                str(path),
                "server named in a kubeconfig",
                has_credentials=bool(kinds),
                cfg=cfg,
                out=out,
            )


def _report_api(
    url: str, source: str, detail: str, *, has_credentials: bool, cfg: AuditConfig, out: Out
) -> None:
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        out.could_not(f"Kubernetes API {url}", "the server URL has an invalid port")
        return
    if _is_loopback(host):
        reachable = tcp_open(host, port, cfg.probe_timeout)
        detail += "; reachable on loopback" if reachable else "; not listening"
    else:
        detail += "; not probed (off loopback)"
    severity: Severity = "high" if has_credentials else "medium"
    out.add("CR-AUD-022", url, source, severity=severity, detail=detail)


def _readable(path: Path) -> bool:
    try:
        read_head(path, 1)
    except OSError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Local databases
# ---------------------------------------------------------------------------------------------

DATABASE_SOCKETS = (
    ("postgresql", "var/run/postgresql/.s.PGSQL.5432"),
    ("mysql", "run/mysqld/mysqld.sock"),
    ("mysql", "var/run/mysqld/mysqld.sock"),
    ("redis", "var/run/redis/redis-server.sock"),
    ("redis", "run/redis/redis.sock"),
)


def check_local_databases(cfg: AuditConfig, out: Out) -> None:
    targets = [
        (name, address, port)
        for name, port in cfg.loopback_services
        for address in ("127.0.0.1", "::1")
    ]
    for (name, address, port), result in parallel(
        lambda t: tcp_open(t[1], t[2], cfg.probe_timeout), targets, cfg.probe_timeout + 0.5
    ):
        if result is True:
            shown = f"[{address}]" if ":" in address else address
            out.add("CR-AUD-023", f"tcp://{shown}:{port}", detail=f"{name} port open")
    for name, relative in DATABASE_SOCKETS:
        path = cfg.root / relative
        if not os.path.exists(path):
            continue
        try:
            unix_connect(str(path), cfg.probe_timeout).close()
        except OSError:
            continue
        out.add("CR-AUD-023", str(path), detail=f"{name} socket accepts connections")


# ---------------------------------------------------------------------------------------------
# SSH agents
# ---------------------------------------------------------------------------------------------

_REQUEST_IDENTITIES = 11
_IDENTITIES_ANSWER = 12


def check_ssh_agents(cfg: AuditConfig, out: Out) -> None:
    sockets: list[tuple[Path, str]] = []
    configured = cfg.env.get("SSH_AUTH_SOCK")
    if configured:
        sockets.append((Path(configured), "env:SSH_AUTH_SOCK"))
    # Other users' forwarded agents: usable by root, or by anyone when their mode is loose.
    for path in expand(cfg.root / "tmp", "ssh-*/agent.*", out):
        sockets.append((path, "agent socket in /tmp"))
    for path, source in sockets:
        _probe_agent(path, source, cfg, out)


def _probe_agent(path: Path, source: str, cfg: AuditConfig, out: Out) -> None:
    try:
        sock = unix_connect(str(path), cfg.probe_timeout)
    except FileNotFoundError:
        return
    except (PermissionError, ConnectionRefusedError):
        return  # not usable by this user
    except OSError as exc:
        out.could_not(f"ssh agent {path}", exc)
        return
    with sock:
        keys = agent_key_count(sock)
    evidence = (source, str(path)) if source.startswith("env:") else (str(path),)
    if keys is None:
        out.add("CR-AUD-024", *evidence, detail="socket accepts connections (not an SSH agent?)")
    else:
        out.add(
            "CR-AUD-024",
            *evidence,
            severity="high" if keys else "low",
            detail=f"agent holds {keys} key{'s' if keys != 1 else ''}",
        )


def agent_key_count(sock: socket.socket) -> int | None:
    """Ask an SSH agent how many identities it holds (the public list only; nothing signed)."""
    try:
        sock.sendall(struct.pack(">IB", 1, _REQUEST_IDENTITIES))
        header = _recv_exactly(sock, 9)
    except OSError:
        return None
    if header is None:
        return None
    _length, kind, count = struct.unpack(">IBI", header)
    return count if kind == _IDENTITIES_ANSWER else None


def _recv_exactly(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


# ---------------------------------------------------------------------------------------------
# Egress
# ---------------------------------------------------------------------------------------------

_RTF_REJECT = 0x0200
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY")


def check_egress(cfg: AuditConfig, out: Out) -> None:
    routes = default_routes(cfg, out)
    proxy = _proxy(cfg)
    if routes:
        detail = "a default route exists, so any host and port may be reachable"
        if proxy:
            detail += f"; a proxy is configured ({proxy}) but programs may ignore it"
        out.add("CR-AUD-025", *routes, detail=detail)
    if cfg.probe_egress:
        _probe_target(cfg.probe_egress, cfg, out)


def default_routes(cfg: AuditConfig, out: Out) -> list[str]:
    """Default routes (IPv4 and IPv6) from procfs, spelled like ``ip route``."""
    found: list[str] = []
    for name, parse in (("route", _ipv4_defaults), ("ipv6_route", _ipv6_defaults)):
        path = cfg.proc / "net" / name
        try:
            lines = read_head(path, 256 * 1024).text.splitlines()
        except FileNotFoundError:
            continue
        except OSError as exc:
            out.could_not(str(path), exc)
            continue
        found.extend(parse(lines))
    return found


def _ipv4_defaults(lines: list[str]) -> list[str]:
    routes = []
    for line in lines[1:]:
        fields = line.split()
        if len(fields) < 8 or fields[1] != "00000000" or fields[7] != "00000000":
            continue
        if int(fields[3], 16) & _RTF_REJECT:
            continue
        gateway = socket.inet_ntoa(struct.pack("<I", int(fields[2], 16)))
        routes.append(f"route default via {gateway} dev {fields[0]}")
    return routes


def _ipv6_defaults(lines: list[str]) -> list[str]:
    routes = []
    for line in lines:
        fields = line.split()
        if len(fields) < 10 or fields[0] != "0" * 32 or fields[1] != "00":
            continue
        if int(fields[8], 16) & _RTF_REJECT or fields[9] == "lo":
            continue
        gateway = str(ipaddress.IPv6Address(bytes.fromhex(fields[4])))
        routes.append(f"route ::/0 via {gateway} dev {fields[9]}")
    return routes


def _proxy(cfg: AuditConfig) -> str | None:
    """The configured proxy as host:port only (proxy URLs often carry credentials)."""
    for variable in _PROXY_VARIABLES:
        value = cfg.env.get(variable)
        if value:
            parts = urlsplit(value if "://" in value else f"http://{value}")
            try:
                port = parts.port
            except ValueError:
                port = None
            return f"${variable} -> {parts.hostname}:{port or '?'}"
    return None


def _probe_target(host: str, cfg: AuditConfig, out: Out) -> None:
    ports = list(cfg.egress_ports)
    opened = [
        port
        for port, result in parallel(
            lambda p: tcp_open(host, p, cfg.probe_timeout * 4), ports, cfg.probe_timeout * 4 + 1
        )
        if result is True
    ]
    shown = f"[{host}]" if ":" in host else host
    if opened:
        out.add(
            "CR-AUD-026",
            *(f"tcp://{shown}:{port}" for port in opened),
            detail=f"TCP handshake completed on {len(opened)} of {len(ports)} ports tried",
        )

"""Where the audit looks: every address and root path is a field, so tests can point it at fakes."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from corral.policy.loader import CORRAL_PATHS
from corral.util.statedir import default_state_dir


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A cloud metadata endpoint: probed with one GET carrying the headers the cloud requires."""

    name: str
    host: str
    port: int
    path: str
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return (
            f"http://{host}:{self.port}{self.path}"
            if self.port != 80
            else f"http://{host}{self.path}"
        )


METADATA_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("aws-imds", "169.254.169.254", 80, "/latest/meta-data/"),
    Endpoint("aws-imds-ipv6", "fd00:ec2::254", 80, "/latest/meta-data/"),
    Endpoint(
        "gcp-metadata",
        "metadata.google.internal",
        80,
        "/computeMetadata/v1/",
        (("Metadata-Flavor", "Google"),),
    ),
    Endpoint(
        "azure-imds",
        "169.254.169.254",
        80,
        "/metadata/instance?api-version=2021-02-01",
        (("Metadata", "true"),),
    ),
    Endpoint("aws-ecs-task", "169.254.170.2", 80, "/v2/metadata"),
    Endpoint("alibaba-metadata", "100.100.100.200", 80, "/latest/meta-data/"),
)


def endpoint_from_url(url: str, name: str | None = None) -> Endpoint:
    """An endpoint from a URL; the GCP and Azure path shapes get the headers they require."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError("expected an http:// URL with a host")
    try:
        port = parts.port or 80
    except ValueError as exc:
        raise ValueError(f"invalid port: {exc}") from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers: tuple[tuple[str, str], ...] = ()
    if path.startswith("/computeMetadata/"):
        headers = (("Metadata-Flavor", "Google"),)
    elif path.startswith("/metadata/"):
        headers = (("Metadata", "true"),)
    return Endpoint(name or parts.hostname, parts.hostname, port, path, headers)


# Well-known database and data-store ports probed on loopback only.
LOOPBACK_SERVICES: tuple[tuple[str, int], ...] = (
    ("postgresql", 5432),
    ("mysql", 3306),
    ("redis", 6379),
    ("mongodb", 27017),
    ("memcached", 11211),
    ("elasticsearch", 9200),
    ("cassandra", 9042),
    ("couchdb", 5984),
    ("clickhouse", 8123),
    ("etcd", 2379),
    ("rabbitmq", 5672),
    ("neo4j", 7687),
    ("influxdb", 8086),
)

EGRESS_PORTS: tuple[int, ...] = (443, 80, 22, 53, 25, 8080)


@dataclass(frozen=True, slots=True)
class AuditConfig:
    """Everything one audit run needs. ``root`` re-roots system paths (``/etc``, ``/run``,
    ``/sys``, ``/usr``); ``proc`` is the procfs to read."""

    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    home: Path | None = None
    root: Path = Path("/")
    proc: Path = Path("/proc")
    metadata_endpoints: tuple[Endpoint, ...] = METADATA_ENDPOINTS
    loopback_services: tuple[tuple[str, int], ...] = LOOPBACK_SERVICES
    probe_timeout: float = 0.4
    probe_egress: str | None = None
    egress_ports: tuple[int, ...] = EGRESS_PORTS
    cloud_identity: bool = False
    policy: str = "default"
    policy_file: Path | None = None  # resolved by run_audit before it changes user
    state_dir: Path = field(default_factory=default_state_dir)
    inside_sandbox: bool = False
    as_user: str | None = None
    check_timeout: float = 6.0
    only: tuple[str, ...] = ()
    workdir: Path = field(default_factory=Path.cwd)
    # Corral's own places, resolved for the operator who starts the audit (not for --as-user).
    corral_paths: tuple[Path, ...] = field(
        default_factory=lambda: tuple(Path(p).expanduser() for p in CORRAL_PATHS)
    )

    @property
    def home_dir(self) -> Path:
        if self.home is not None:
            return self.home
        configured = self.env.get("HOME")
        return Path(configured) if configured else Path.home()

    def sys_path(self, absolute: str) -> Path:
        """A system path (``/etc/sudoers``) under the configured root."""
        return self.root / absolute.lstrip("/")

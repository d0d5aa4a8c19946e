"""A throw-away PostgreSQL cluster on a free loopback port, for the ledger tests and bench.

``$CORRAL_TEST_POSTGRES_URL`` wins when set (a server of your own). Otherwise this runs
``initdb`` from /usr/lib/postgresql/*/bin into a temporary directory (installing Debian's
``postgresql`` package first when none is there and we are root), starts the server on
127.0.0.1 only, and removes everything on ``stop()``. PostgreSQL refuses to run as root, so as
root the cluster belongs to the ``postgres`` user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

URL_ENV = "CORRAL_TEST_POSTGRES_URL"


class ClusterError(RuntimeError):
    pass


def find_bin() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[4]) if Path(p).parts[4].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


def ensure_installed() -> Path:
    bindir = find_bin()
    if bindir is None and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "postgresql"],
            check=True,
            env=env,
            capture_output=True,
            timeout=600,
        )
        bindir = find_bin()
    if bindir is None:
        raise ClusterError(f"no PostgreSQL found: install the postgresql package or set {URL_ENV}")
    return bindir


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    url: str
    root: Path | None = None
    bindir: Path | None = None
    user: str | None = None

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        if self.user is not None:
            argv = ["runuser", "-u", self.user, "--", *argv]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)

    def stop(self) -> None:
        if self.root is None or self.bindir is None:
            return
        self._run(
            [
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.root / "data"),
                "-m",
                "immediate",
                "-w",
                "stop",
            ]
        )
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None


def start(*, durable: bool = False) -> Cluster:
    """A running server; ``durable=False`` turns fsync off (fine for a cluster thrown away)."""
    if os.environ.get(URL_ENV):
        return Cluster(os.environ[URL_ENV])
    bindir = ensure_installed()
    user = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="corral-pg-"))
    cluster = Cluster("", root, bindir, user)
    try:
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        init = cluster._run(
            [
                str(bindir / "initdb"),
                "-D",
                str(root / "data"),
                "-A",
                "trust",
                "-U",
                "corral",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ]
        )
        if init.returncode != 0:
            raise ClusterError(f"initdb failed: {init.stderr.strip()}")
        port = free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c max_connections=200 "
            f"-c shared_buffers=128MB -c fsync={'on' if durable else 'off'}"
        )
        started = cluster._run(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(root / "data"),
                "-o",
                options,
                "-l",
                str(root / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ]
        )
        if started.returncode != 0:
            log = (root / "server.log").read_text(errors="replace")[-2000:]
            raise ClusterError(f"PostgreSQL did not start: {started.stderr.strip()} {log}")
        cluster.url = f"postgresql://corral@127.0.0.1:{port}/postgres"
        return cluster
    except BaseException:
        cluster.stop()
        raise

"""A private OpenSSH server on the host's loopback, and the helpers the tunnel tests share.

The server is a real ``sshd`` (installed from the distribution's packages when missing) with its
own host key, config, authorised key and pid file in a temporary directory, listening only on
127.0.0.1 on a free port, run in the foreground as a child of the test process. It allows TCP
forwarding, so a real ``ssh -R`` really opens a remote port on the host: a test that says a
tunnel was stopped can fail.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")
SSH = Path("/usr/bin/ssh")
SSH_KEYGEN = Path("/usr/bin/ssh-keygen")
PRIVSEP_DIR = Path("/run/sshd")  # sshd refuses to start without it
POLICY_RC = Path("/usr/sbin/policy-rc.d")
# Options every client in these tests uses: key only, never a prompt, no known_hosts writes.
CLIENT_OPTIONS = (
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "LogLevel=ERROR",
)

SSHD_CONFIG = """\
Port {port}
ListenAddress 127.0.0.1
HostKey {home}/host_ed25519
PidFile {home}/sshd.pid
AuthorizedKeysFile {home}/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# The key files live under /tmp, which is world-writable; StrictModes would refuse them.
StrictModes no
AllowTcpForwarding yes
GatewayPorts no
PermitTunnel no
X11Forwarding no
AllowAgentForwarding no
MaxStartups 50
LogLevel VERBOSE
"""


class SshdSetupError(RuntimeError):
    """The test sshd could not be installed or started; the message says why."""


@dataclass(frozen=True)
class SshServer:
    port: int
    key: Path  # the throw-away client key that root's AuthorizedKeysFile accepts
    home: Path
    process: subprocess.Popen[bytes]

    def client_argv(
        self, *extra: str, program: str = str(SSH), key: Path | None = None
    ) -> list[str]:
        return [
            program,
            *CLIENT_OPTIONS,
            "-i",
            str(key or self.key),
            "-p",
            str(self.port),
            *extra,
        ]

    def log_text(self) -> str:
        return (self.home / "sshd.log").read_text(errors="replace")

    def children(self) -> list[int]:
        """Pids of this sshd's per-connection children (there is one per live session)."""
        return [pid for pid, parent in _parents().items() if parent == self.process.pid]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int) -> bool:
    """Whether anything listens on ``port`` in this (the host's) network namespace.

    Read from /proc rather than by connecting, so that looking never opens a forwarded
    channel."""
    wanted = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as handle:
            for line in handle.readlines()[1:]:
                fields = line.split()
                if fields[1].endswith(wanted) and fields[3] == "0A":  # 0A: LISTEN
                    return True
    return False


class ListenWatch:
    """Polls :func:`listening` on a thread and remembers whether the port was ever open."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.seen = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="listen-watch", daemon=True)

    def __enter__(self) -> ListenWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.seen = self.seen or listening(self.port)
            self._stop.wait(0.01)
        self.seen = self.seen or listening(self.port)


# -- install --------------------------------------------------------------------------------------


def ensure_openssh() -> None:
    """Install openssh-server (and the client) when sshd is missing, without starting the
    distribution's own sshd: a policy-rc.d that answers 101 forbids every service start."""
    if SSHD.exists() and SSH.exists() and SSH_KEYGEN.exists():
        return
    before = set(_sshd_pids())
    made_policy = not POLICY_RC.exists()
    if made_policy:
        POLICY_RC.write_text("#!/bin/sh\n# no service starts while the tests install\nexit 101\n")
        POLICY_RC.chmod(0o755)
    try:
        done = subprocess.run(  # noqa: PLW1510 (the status is checked below)
            [
                "apt-get",
                "install",
                "-y",
                "-q",
                "--no-install-recommends",
                "-o",
                "DPkg::Lock::Timeout=120",
                "openssh-server",
                "openssh-client",
            ],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        if made_policy:
            POLICY_RC.unlink()
    for pid in set(_sshd_pids()) - before:  # a postinst that started one anyway
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    if done.returncode != 0 or not SSHD.exists():
        raise SshdSetupError(
            "could not install openssh-server with apt-get (needed for the real ssh -R tests):\n"
            + done.stdout[-2000:]
            + done.stderr[-2000:]
        )


# -- run ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def private_sshd() -> Iterator[SshServer]:
    """A private sshd on 127.0.0.1:<free port>; stopped, and its files removed, on exit."""
    ensure_openssh()
    home = Path(tempfile.mkdtemp(prefix="corral-sshd-"))
    made_privsep = not PRIVSEP_DIR.exists()
    if made_privsep:
        PRIVSEP_DIR.mkdir(mode=0o755)
    process: subprocess.Popen[bytes] | None = None
    try:
        port = _prepare(home)
        with open(home / "sshd.log", "wb") as log:
            process = subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(home / "sshd_config")],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # its own group: the cleanup kills every session too
            )
        server = SshServer(port, home / "user_key", home, process)
        _wait_accepting(server)
        yield server
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(home, ignore_errors=True)
        if made_privsep:
            with contextlib.suppress(OSError):
                PRIVSEP_DIR.rmdir()


def _prepare(home: Path) -> int:
    home.chmod(0o700)
    for name in ("host_ed25519", "user_key"):
        subprocess.run(
            [str(SSH_KEYGEN), "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(home / name)],
            check=True,
            capture_output=True,
        )
    (home / "authorized_keys").write_text((home / "user_key.pub").read_text())
    port = free_port()
    (home / "sshd_config").write_text(SSHD_CONFIG.format(port=port, home=home))
    checked = subprocess.run(  # noqa: PLW1510 (the status is checked below)
        [str(SSHD), "-t", "-f", str(home / "sshd_config")], capture_output=True, text=True
    )
    if checked.returncode != 0:
        raise SshdSetupError(f"the test sshd_config is refused: {checked.stderr}")
    return port


def _wait_accepting(server: SshServer, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", server.port), timeout=1) as probe,
        ):
            if probe.recv(64).startswith(b"SSH-2.0-"):
                return
        time.sleep(0.05)
    raise SshdSetupError(f"the test sshd did not start:\n{server.log_text()[-2000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    group = process.pid
    for pid in _descendants(group):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
    process.wait(timeout=10)


# -- /proc helpers --------------------------------------------------------------------------------


def _parents() -> dict[int, int]:
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
            out[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    return out


def _descendants(root: int) -> list[int]:
    parents = _parents()
    found, frontier = [], [root]
    while frontier:
        current = frontier.pop()
        children = [pid for pid, parent in parents.items() if parent == current]
        found += children
        frontier += children
    return found


def _sshd_pids() -> list[int]:
    pids = []
    for pid in _parents():
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/exe") == str(SSHD):
                pids.append(pid)
    return pids


# -- a way from the agent's loopback-only network to the host's sshd ------------------------------


class Relay:
    """Accepts on a listener (here: one inside the agent's network namespace) and relays each
    connection to 127.0.0.1:``target`` in the host's namespace, the way an egress bridge that
    allowed the connection would. It gives the fenced ssh a real path to the real sshd, so
    that only Corral's judgement stands between the agent and an open tunnel."""

    def __init__(self, listener: socket.socket, target: int) -> None:
        self.listener = listener
        self.target = target
        self.connections = 0
        self._sockets: list[socket.socket] = []
        self._closed = threading.Event()
        threading.Thread(target=self._accept, name="relay-accept", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                inside, _ = self.listener.accept()
                outside = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                return
            outside.settimeout(None)
            self.connections += 1
            self._sockets += [inside, outside]
            for source, sink in ((inside, outside), (outside, inside)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        for sock in [self.listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)

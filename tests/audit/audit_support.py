"""A planted environment for the audit: a home full of credentials, a throw-away system root,
a fake metadata server, a docker-named socket, an SSH agent and a database port, all real and
all on loopback or under a temporary directory."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import struct
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from corral.audit import AuditConfig
from corral.audit.config import Endpoint

# Every value below is planted somewhere; none of them may appear in any output.
SECRETS = {
    "aws_file": "wJalrXUtnFEMIK7MDENGbPxRfiCYplantedAWSKEY1",
    "aws_env": "Zm9vYmFyYmF6cXV4plantedAWSsecretENV000001",
    "github": "ghp_" + "plantedGitHubToken0123456789abcdefghij",
    "akia": "AKIA" + "PLANTEDAKIA12345",
    "stripe": "sk_live_" + "plantedStripeKey0123456789",
    "kube": "plantedKubeBearerToken.abcdef0123456789",
    "netrc": "plantedNetrcPassword0123",
    "pypirc": "plantedPypiPassword0123",
    "docker": base64.b64encode(b"agent:plantedDockerPassword").decode(),
    "sa_token": "eyJhbGciOiJSUzI1NiJ9.plantedServiceAccountToken.sig",
    "dotenv": "plantedDotenvApiKeyValue0123",
    "metadata": "plantedMetadataSecretAccessKey0123",
    "html_var": "plantedHtmlVarSecretValue0123",
    "ssh": "plantedSshKeyBody",
}
HTML_VARIABLE = "X<script>alert(1)</script>_TOKEN"


def openssh_key(cipher: bytes) -> str:
    """A structurally valid OpenSSH private key header (no real key material)."""
    body = b"openssh-key-v1\0" + struct.pack(">I", len(cipher)) + cipher
    body += SECRETS["ssh"].encode() * 4
    encoded = base64.b64encode(body).decode()
    lines = [encoded[i : i + 70] for i in range(0, len(encoded), 70)]
    return "\n".join(
        ["-----BEGIN OPENSSH PRIVATE KEY-----", *lines, "-----END OPENSSH PRIVATE KEY-----", ""]
    )


@dataclass
class Planted:
    base: Path
    home: Path
    root: Path
    workdir: Path
    path_dir: Path
    state_dir: Path
    env: dict[str, str]
    files: dict[str, Path] = field(default_factory=dict)

    def config(self, **changes: object) -> AuditConfig:
        values: dict[str, object] = {
            "env": dict(self.env),
            "home": self.home,
            "root": self.root,
            "workdir": self.workdir,
            "state_dir": self.state_dir,
            "metadata_endpoints": (),
            "loopback_services": (),
            "probe_timeout": 0.3,
            "corral_paths": (),
        }
        values.update(changes)
        return AuditConfig(**values)  # type: ignore[arg-type]


def _write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def _plant_home(home: Path, files: dict[str, Path]) -> None:
    files["aws"] = _write(
        home / ".aws/credentials",
        "[default]\naws_access_key_id = AKIAEXAMPLE\n"
        f"aws_secret_access_key = {SECRETS['aws_file']}\n",
    )
    files["kube"] = _write(
        home / ".kube/config",
        "apiVersion: v1\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n"
        f"users:\n- name: u\n  user: {{token: {SECRETS['kube']}}}\n",
    )
    files["ssh_plain"] = _write(home / ".ssh/id_ed25519", openssh_key(b"none"), 0o600)
    files["ssh_encrypted"] = _write(home / ".ssh/deploy_key", openssh_key(b"aes256-ctr"), 0o600)
    _write(home / ".ssh/id_ed25519.pub", "ssh-ed25519 AAAA planted\n")
    files["netrc"] = _write(
        home / ".netrc", f"machine example.com login agent password {SECRETS['netrc']}\n", 0o600
    )
    files["pypirc"] = _write(
        home / ".pypirc", f"[pypi]\nusername = __token__\npassword = {SECRETS['pypirc']}\n"
    )
    files["docker"] = _write(
        home / ".docker/config.json",
        json.dumps(
            {"auths": {"registry.example.com": {"auth": SECRETS["docker"]}}, "credsStore": "pass"}
        ),
    )
    files["firefox"] = _write(home / ".mozilla/firefox/ab12.default/logins.json", '{"logins": []}')
    files["stripe_cfg"] = _write(home / ".config/stripe/config.toml", "live_mode_api_key = 'x'\n")
    _write(home / ".bashrc", "# planted\n", 0o666)
    # Bad inputs: a dangling link, a FIFO, a huge sparse file with no token in its head.
    (home / ".git-credentials").symlink_to(home / "does-not-exist")
    (home / ".config/git").mkdir(parents=True)
    os.mkfifo(home / ".config/git/credentials")
    with (home / ".npmrc").open("wb") as handle:
        handle.write(b"registry=https://registry.npmjs.org/\n" + b"#" * 100_000 + b"\n")
        handle.truncate(512 * 1024 * 1024)
    # A directory the agent cannot list (only matters when audited as an unprivileged user).
    locked = home / ".config/google-chrome"
    (locked / "Default").mkdir(parents=True)
    _write(locked / "Default/Login Data", "planted")
    locked.chmod(0)


def _plant_root(root: Path, files: dict[str, Path]) -> None:
    files["sa_token"] = _write(
        root / "var/run/secrets/kubernetes.io/serviceaccount/token", SECRETS["sa_token"]
    )
    _write(root / "etc/sudoers", "Defaults env_reset\nroot ALL=(ALL:ALL) ALL\n", 0o440)
    files["sudoers_dropin"] = _write(
        root / "etc/sudoers.d/agent",
        "# planted drop-in\nnobody ALL=(ALL) \\\n    NOPASSWD: ALL\n%nogroup ALL=(ALL) /bin/true\n",
        0o644,
    )
    files["sudoers_writable"] = _write(root / "etc/sudoers.d/zz-open", "# open\n", 0o666)
    _write(root / "etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0o644)
    files["etc_profile"] = _write(root / "etc/profile", "# planted\n", 0o666)
    (root / "etc/cron.d").mkdir(parents=True)
    (root / "etc/cron.d").chmod(0o777)
    files["cron_d"] = root / "etc/cron.d"


@pytest.fixture
def planted() -> Iterator[Planted]:
    # A short path under /tmp: Unix socket paths are limited to 107 bytes.
    base = Path(tempfile.mkdtemp(prefix="cra-", dir="/tmp"))
    base.chmod(0o755)  # so an unprivileged user (--as-user nobody) can enter it
    home, root, workdir = base / "home", base / "root", base / "work"
    path_dir, state_dir = base / "bin-open", base / "state"
    for folder in (home, root, workdir, state_dir):
        folder.mkdir()
        folder.chmod(0o755)
    path_dir.mkdir()
    path_dir.chmod(0o777)
    files: dict[str, Path] = {}
    _plant_home(home, files)
    _plant_root(root, files)
    files["dotenv"] = _write(workdir / ".env", f"DEBUG=1\nAPI_KEY={SECRETS['dotenv']}\n")
    env = {
        "HOME": str(home),
        "PATH": f"/usr/bin:/bin:{path_dir}",
        "AWS_SECRET_ACCESS_KEY": SECRETS["aws_env"],
        "GITHUB_TOKEN": SECRETS["github"],
        "SOMETHING_HARMLESS": SECRETS["akia"],
        "STRIPE_API_KEY": SECRETS["stripe"],
        HTML_VARIABLE: SECRETS["html_var"],
        "EDITOR": "vim",
        "LANG": "C.UTF-8",
    }
    try:
        yield Planted(base, home, root, workdir, path_dir, state_dir, env, files)
    finally:
        (home / ".config/google-chrome").chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Servers on loopback
# ---------------------------------------------------------------------------------------------


class _MetadataHandler(BaseHTTPRequestHandler):
    imdsv2 = False

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: str = "") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        secret = f'{{"SecretAccessKey": "{SECRETS["metadata"]}"}}'
        if self.path.startswith("/latest/meta-data/"):
            if self.imdsv2 and not self.headers.get("X-aws-ec2-metadata-token"):
                self._send(401)
            else:
                self._send(200, "iam/\n" + secret)
        elif self.path.startswith("/computeMetadata/v1/"):
            ok = self.headers.get("Metadata-Flavor") == "Google"
            self._send(200 if ok else 403, secret if ok else "")
        elif self.path.startswith("/metadata/instance"):
            ok = self.headers.get("Metadata") == "true"
            self._send(200 if ok else 400, secret if ok else "")
        else:
            self._send(404)

    def do_PUT(self) -> None:
        if self.path == "/latest/api/token":
            self._send(200, "planted-session-token")
        else:
            self._send(404)


class _V2Handler(_MetadataHandler):
    imdsv2 = True


@pytest.fixture
def metadata_server() -> Iterator[dict[str, Endpoint]]:
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), h) for h in (_MetadataHandler, _V2Handler)]
    threads = [threading.Thread(target=s.serve_forever, args=(0.05,), daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    v1, v2 = (s.server_address[1] for s in servers)
    try:
        yield {
            "aws": Endpoint("aws-imds", "127.0.0.1", v1, "/latest/meta-data/"),
            "aws-v2": Endpoint("aws-imds-v2", "127.0.0.1", v2, "/latest/meta-data/"),
            "gcp": Endpoint(
                "gcp-metadata",
                "127.0.0.1",
                v1,
                "/computeMetadata/v1/",
                (("Metadata-Flavor", "Google"),),
            ),
            "azure": Endpoint(
                "azure-imds",
                "127.0.0.1",
                v1,
                "/metadata/instance?api-version=2021-02-01",
                (("Metadata", "true"),),
            ),
        }
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP port on 127.0.0.1 that accepts (the kernel completes handshakes) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield sock
    finally:
        sock.close()


@pytest.fixture
def docker_socket(planted: Planted) -> Iterator[Path]:
    path = planted.root / "var/run/docker.sock"
    path.parent.mkdir(parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.listen(8)
    path.chmod(0o660)  # root:root 0660, as docker's is (without the docker group)
    try:
        yield path
    finally:
        sock.close()


@pytest.fixture
def ssh_agent(planted: Planted) -> Iterator[Path]:
    """A minimal SSH agent that answers 'request identities' with two keys."""
    path = planted.base / "agent.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(8)
    server.settimeout(0.1)
    path.chmod(0o600)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                if conn.recv(5) == struct.pack(">IB", 1, 11):
                    conn.sendall(struct.pack(">IBI", 5, 12, 2))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        stop.set()
        thread.join(2)
        server.close()

"""Real clients inside `corral run`: what the policy names is reachable through the egress proxy,
everything else is refused with a reason, and nothing gets around the proxy.

One agent run does every probe (starting a fenced run costs seconds); the agent is a Python
script in the workspace that writes what each client saw to ``results.json``.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from supervision_support import needs_root, processes_with

from corral.sinks import verify

pytestmark = needs_root

HOST = "127.0.0.2"  # loopback, but not on the proxy's NO_PROXY list: clients use the proxy
PACKAGE = "corraltestpkg"
WHEEL = f"{PACKAGE}-0.1-py3-none-any.whl"
README = "cloned through the fence\n"
HELLO = "hello from the named host\n"
DNS_REPLY = b"\x00\x01\x81\x80"  # what the test's UDP responder sends back (id 1, a response)

# The agent. It only reports; the test decides. Probes that must fail record the error, so a
# probe that unexpectedly works shows up as "ok"/"answered" in the results.
AGENT = r"""
import json, os, socket, subprocess, sys, urllib.error, urllib.request

cfg = json.loads(open(sys.argv[1]).read())
only = set(sys.argv[2].split(",")) if len(sys.argv) > 2 else None
host, port, udp_port, out = cfg["host"], cfg["port"], cfg["udp_port"], cfg["out"]
base = f"http://{host}:{port}"
results = {}


def probe(name):
    def wrap(fn):
        if only is None or name in only:
            try:
                results[name] = fn()
            except Exception as exc:  # reported, judged by the test
                results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        return fn
    return wrap


@probe("urllib_get")
def _():
    with urllib.request.urlopen(f"{base}/hello.txt", timeout=10) as reply:
        return {"status": reply.status, "body": reply.read().decode()}


@probe("urllib_post")
def _():
    request = urllib.request.Request(f"{base}/upload", data=b"p" * 5000, method="POST")
    with urllib.request.urlopen(request, timeout=10) as reply:
        return {"status": reply.status, "body": reply.read().decode()}


@probe("urllib_refused")
def _():
    try:
        urllib.request.urlopen("http://blocked.example/", timeout=10)
    except urllib.error.HTTPError as exc:
        return {"status": exc.code, "reason": exc.headers.get("X-Corral-Reason", ""),
                "rule": exc.headers.get("X-Corral-Rule", ""), "body": exc.read().decode()}
    return {"status": "ok"}


@probe("urllib_refused_tls")
def _():
    try:
        urllib.request.urlopen("https://blocked.example/", timeout=10)
    except urllib.error.URLError as exc:
        return {"error": str(exc.reason)}
    return {"status": "ok"}


def run(argv):
    # The host's pip and git configuration stay out of it: this is about the proxy settings the
    # fence gives the agent (environment variables, git's GIT_CONFIG_COUNT list), not the machine.
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "GIT_CONFIG_GLOBAL": os.devnull,
           "GIT_CONFIG_NOSYSTEM": "1"}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    return {"rc": done.returncode, "output": (done.stdout + done.stderr)[-2000:]}


@probe("pip")
def _():
    dest = os.path.join(cfg["workspace"], "wheels")
    result = run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
                  "--disable-pip-version-check", "--trusted-host", host,
                  "--index-url", f"{base}/simple/", "-d", dest, cfg["package"]])
    result["files"] = sorted(os.listdir(dest)) if os.path.isdir(dest) else []
    return result


@probe("git")
def _():
    dest = os.path.join(cfg["workspace"], "clone")
    result = run(["git", "clone", "-q", f"{base}/repo.git", dest])
    readme = os.path.join(dest, "README")
    result["readme"] = open(readme).read() if os.path.exists(readme) else None
    return result


@probe("direct")
def _():
    seen = {}
    for target, target_port in ((host, port), ("192.0.2.1", 80)):
        try:
            socket.create_connection((target, target_port), timeout=3).close()
            seen[target] = "connected"
        except OSError as exc:
            seen[target] = exc.strerror or str(exc)
    return seen


def nameservers():
    try:
        lines = open("/etc/resolv.conf").read().splitlines()
    except OSError:
        return []
    return [l.split()[1] for l in lines if l.startswith("nameserver") and len(l.split()) > 1]


QUERY = (b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
         b"\x07example\x03com\x00\x00\x01\x00\x01")


@probe("dns")
def _():
    seen = {}
    servers = [(s, 53) for s in ["127.0.0.53", *nameservers()]] + [(host, udp_port)]
    for server, server_port in servers:
        family = socket.AF_INET6 if ":" in server else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.settimeout(2)
        try:
            sock.connect((server, server_port))
            sock.send(QUERY)
            reply = sock.recv(512)
            seen[f"{server}:{server_port}"] = "answered" if reply else "empty"
        except OSError as exc:
            seen[f"{server}:{server_port}"] = exc.strerror or type(exc).__name__
        finally:
            sock.close()
    try:
        socket.getaddrinfo("example.com", 80)
        seen["getaddrinfo"] = "resolved"
    except OSError as exc:
        seen["getaddrinfo"] = type(exc).__name__
    return seen


with open(out, "w") as handle:
    json.dump(results, handle, indent=1)
"""


class _Site(SimpleHTTPRequestHandler):
    """Files from the site folder (the index, the wheel, the bare repository); POST echoes."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        reply = f"got {len(self.rfile.read(length))} bytes".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        return


@dataclass(frozen=True)
class Servers:
    http_port: int
    udp_port: int


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """The named host: an HTTP server (python's http.server) and a UDP responder on 127.0.0.2,
    both on threads that stop with the module's tests."""
    tmp_path = tmp_path_factory.mktemp("named-host")
    site = tmp_path / "site"
    site.mkdir()
    (site / "hello.txt").write_text(HELLO)
    _simple_index(site)
    _dumb_git_repo(site, tmp_path / "src-repo")
    http = ThreadingHTTPServer((HOST, 0), functools.partial(_Site, directory=str(site)))
    http.daemon_threads = True
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((HOST, 0))
    udp.settimeout(0.2)
    stop = threading.Event()
    threads = [
        threading.Thread(target=http.serve_forever, daemon=True),
        threading.Thread(target=_answer_udp, args=(udp, stop), daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        yield Servers(http.server_address[1], udp.getsockname()[1])
    finally:
        stop.set()
        http.shutdown()
        http.server_close()
        for thread in threads:
            thread.join(timeout=5)
        udp.close()


def _answer_udp(sock: socket.socket, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            _, peer = sock.recvfrom(512)
        except TimeoutError:
            continue
        except OSError:
            return
        sock.sendto(DNS_REPLY, peer)


def _simple_index(root: Path) -> None:
    """A one-package PEP 503 index with a wheel built here (a wheel is a zip with metadata)."""
    files_dir = root / "files"
    files_dir.mkdir()
    info = f"{PACKAGE}-0.1.dist-info"
    files = {
        f"{PACKAGE}/__init__.py": "VALUE = 1\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: 0.1\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(files_dir / WHEEL, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
        archive.writestr(f"{info}/RECORD", record)
    index = root / "simple" / PACKAGE
    index.mkdir(parents=True)
    link = f'<a href="../../files/{WHEEL}">{WHEEL}</a>'
    (index / "index.html").write_text(f"<!DOCTYPE html><html><body>{link}</body></html>\n")


def _dumb_git_repo(root: Path, work: Path) -> None:
    """A bare repository that plain file serving can clone ("dumb" HTTP)."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q", str(work)], check=True)
    (work / "README").write_text(README)
    subprocess.run([*git, "-C", str(work), "add", "README"], check=True)
    subprocess.run([*git, "-C", str(work), "commit", "-qm", "first"], check=True)
    bare = root / "repo.git"
    subprocess.run([*git, "clone", "-q", "--bare", str(work), str(bare)], check=True)
    subprocess.run(["git", "-C", str(bare), "update-server-info"], check=True)


def corral_command() -> list[str]:
    script = shutil.which("corral", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-m", "corral"]


def _agent_files(workspace: Path, servers: Servers, out: Path) -> tuple[Path, Path]:
    agent = workspace / "agent.py"
    agent.write_text(AGENT)
    config = workspace / "probe.json"
    config.write_text(
        json.dumps(
            {
                "host": HOST,
                "port": servers.http_port,
                "udp_port": servers.udp_port,
                "out": str(out),
                "workspace": str(workspace),
                "package": PACKAGE,
            }
        )
    )
    return agent, config


def _outside_control(agent: Path, config: Path, workspace: Path) -> dict[str, Any]:
    """The bypass probes run outside the fence first: they reach the servers there, so their
    failing inside is the fence's doing, not a broken probe."""
    out = workspace / "outside.json"
    cfg = json.loads(config.read_text())
    control = workspace / "outside-probe.json"
    control.write_text(json.dumps({**cfg, "out": str(out)}))
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    subprocess.run(
        [sys.executable, str(agent), str(control), "direct,dns"], check=True, env=env, timeout=60
    )
    return dict(json.loads(out.read_text()))


@dataclass
class Ran:
    port: int
    workspace: Path
    log: Path
    done: subprocess.CompletedProcess[str]
    results: dict[str, Any]
    records: list[dict[str, Any]]


@pytest.fixture(scope="module")
def fenced_run(tmp_path_factory: pytest.TempPathFactory, servers: Servers) -> Ran:
    """One `corral run` of the agent (a fenced start costs seconds); every test reads it."""
    tmp_path = tmp_path_factory.mktemp("clients")
    workspace = tmp_path / "ws"
    workspace.mkdir()
    out = workspace / "results.json"
    agent, config = _agent_files(workspace, servers, out)
    outside = _outside_control(agent, config, workspace)
    assert outside["direct"][HOST] == "connected"
    assert outside["dns"][f"{HOST}:{servers.udp_port}"] == "answered"
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        f"name: clients\nextends: default\negress:\n  allow: ['{HOST}:{servers.http_port}']\n"
    )
    log = tmp_path / "decisions.jsonl"
    done = subprocess.run(  # noqa: PLW1510 (the status is asserted)
        [
            *corral_command(),
            "run",
            "-w",
            str(workspace),
            "-p",
            str(policy),
            "--log",
            str(log),
            "--",
            sys.executable,
            str(agent),
            str(config),
        ],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=90,
    )
    records = [json.loads(line) for line in log.read_text().splitlines() if line]
    results = json.loads(out.read_text()) if out.exists() else {}
    return Ran(servers.http_port, workspace, log, done, results, records)


def test_clients_inside_corral_run_reach_only_the_named_host(fenced_run: Ran) -> None:
    done, results = fenced_run.done, fenced_run.results
    assert done.returncode == 0, done.stderr
    assert results["urllib_get"] == {"status": 200, "body": HELLO}
    assert results["urllib_post"] == {"status": 200, "body": "got 5000 bytes"}
    pip = results["pip"]
    assert pip["rc"] == 0 and pip["files"] == [WHEEL], pip["output"]
    git = results["git"]
    assert git["rc"] == 0 and git["readme"] == README, git["output"]


def test_a_host_off_the_list_is_refused_with_the_proxys_reason(fenced_run: Ran) -> None:
    refused = fenced_run.results["urllib_refused"]
    assert refused["status"] == 403
    assert refused["rule"] == "CR-POL-001"
    assert refused["reason"].startswith("CR-POL-001 ")
    assert "blocked.example:80 is not on the policy's egress allowlist" in refused["reason"]
    assert refused["body"].startswith("Corral refused this connection: CR-POL-001")
    assert "403" in fenced_run.results["urllib_refused_tls"]["error"]
    assert "REFUSE refused connection to blocked.example:80" in fenced_run.done.stderr


def test_nothing_gets_around_the_proxy(fenced_run: Ran, servers: Servers) -> None:
    direct, dns = fenced_run.results["direct"], fenced_run.results["dns"]
    # The named server is on the host's loopback; the agent's loopback is its own.
    assert direct[HOST] == "Connection refused"
    assert direct["192.0.2.1"] == "Network is unreachable"
    assert dns[f"{HOST}:{servers.udp_port}"] != "answered"
    assert dns["127.0.0.53:53"] != "answered"
    assert all(answer != "answered" for answer in dns.values())
    assert dns["getaddrinfo"] == "gaierror"


def test_every_connection_is_in_the_runs_decision_log(fenced_run: Ran) -> None:
    proxied = [
        d
        for d in (r["decision"] for r in fenced_run.records)
        if d.get("action") and d["supervisor"]["summary"].endswith("(egress proxy)")
    ]
    allowed = {d["action"].get("url") for d in proxied if d["decision"] == "allow"}
    base = f"http://{HOST}:{fenced_run.port}"
    assert f"{base}/hello.txt" in allowed  # urllib
    assert f"{base}/files/{WHEEL}" in allowed  # pip
    assert f"{base}/repo.git/info/refs?service=git-upload-pack" in allowed  # git
    assert f"{base}/repo.git/HEAD" in allowed
    posts = [d for d in proxied if d["action"].get("method") == "POST"]
    assert [d["decision"] for d in posts] == ["allow"]
    refused = [d for d in proxied if d["decision"] != "allow"]
    assert refused and all(d["supervisor"]["step"] == "refuse" for d in refused)
    assert {d["action"].get("host") for d in refused} - {None} == {"blocked.example"}
    assert {(d["action"].get("port"), d["rules"][0]["id"]) for d in refused} >= {
        (80, "CR-POL-001"),
        (443, "CR-POL-001"),
    }
    # All judged in the run's session, the same one its execs were judged in.
    sessions = {d["session"] for d in proxied}
    execs = {
        r["decision"].get("session")
        for r in fenced_run.records
        if r["decision"]["supervisor"]["event"] == "exec"
    }
    assert len(sessions) == 1 and sessions == execs and None not in sessions
    result = verify(fenced_run.log)
    assert result.ok, result.describe()


def test_nothing_of_the_run_is_left_running(fenced_run: Ran) -> None:
    # Not the agent, nor anything it started, nor the forwarder in its network namespace (whose
    # command line names the run's socket, which carries the run's id).
    assert processes_with(str(fenced_run.workspace)) == []
    sessions = {r["decision"].get("session") for r in fenced_run.records} - {None}
    assert sessions
    for session in sessions:
        assert processes_with(str(session)) == []
        assert not list(Path("/run/corral").glob(f"corral-{session}-*"))  # its socket's folder

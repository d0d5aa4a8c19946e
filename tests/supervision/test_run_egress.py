"""`corral run` with the egress proxy bridged in: the agent's only way out is the proxy."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from supervision_support import needs_root

from corral import Guard
from corral.supervision.fence import merge_env
from corral.util.yamlfile import SourceError

BODY = b"hello from the test server\n"


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def named_server() -> Iterator[int]:
    """An HTTP server on 127.0.0.2 (loopback, but not the NO_PROXY address), port chosen free."""
    server = ThreadingHTTPServer(("127.0.0.2", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _run(corral: list[str], workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: PLW1510 (callers assert the status)
        [*corral, "run", "-w", str(workspace), *args],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=60,
    )


# Written to files so that the exec judgement sees only `python3 FILE` and `sh FILE`: these
# checks are about what the network allows, not about the command lines.
DIRECT = """
import socket, sys
for host, port in ((sys.argv[1], int(sys.argv[2])), ("192.0.2.1", 80)):
    try:
        socket.create_connection((host, port), timeout=3).close()
        print(f"direct {host}: CONNECTED")
    except OSError as exc:
        print(f"direct {host}: {exc.strerror}")
"""


@needs_root
def test_the_agent_reaches_only_what_the_policy_names(
    corral: list[str], tmp_path: Path, named_server: int
) -> None:
    port = named_server
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"name: t\nextends: default\negress:\n  allow: ['127.0.0.2:{port}']\n")
    (tmp_path / "direct.py").write_text(DIRECT)
    (tmp_path / "client.sh").write_text(
        f"curl -sS -m 10 http://127.0.0.2:{port}/hello\n"
        f"curl -sS -m 10 -i http://127.0.0.3:{port}/\n"
        f"python3 direct.py 127.0.0.2 {port}\n"
    )
    log = tmp_path / "decisions.jsonl"
    done = _run(corral, tmp_path, "-p", str(policy), "--log", str(log), "--", "sh", "client.sh")
    assert done.returncode == 0, done.stderr
    # named in the policy: through the proxy
    assert BODY.decode() in done.stdout
    # not named: the proxy's refusal, with its reason
    assert "403 Forbidden" in done.stdout
    assert "X-Corral-Reason: CR-POL-002" in done.stdout
    assert "REFUSE refused connection to 127.0.0.3" in done.stderr
    # ignoring the proxy: no way out at all
    assert "direct 127.0.0.2: Connection refused" in done.stdout
    assert "direct 192.0.2.1: Network is unreachable" in done.stdout
    records = [json.loads(line) for line in log.read_text().splitlines()]
    refusals = [r for r in records if r["decision"].get("supervisor", {}).get("step") == "refuse"]
    assert refusals and refusals[0]["decision"]["session"]  # judged in the run's session
    verify = subprocess.run(  # noqa: PLW1510 (the status is asserted)
        [*corral, "log", "verify", str(log)], capture_output=True, timeout=60
    )
    assert verify.returncode == 0


@needs_root
def test_run_prints_the_audit_line_and_writes_the_report(corral: list[str], tmp_path: Path) -> None:
    report = tmp_path / "audit.json"
    done = _run(corral, tmp_path, "--audit-report", str(report), "--", "true")
    assert done.returncode == 0, done.stderr
    assert "corral audit: " in done.stderr
    data = json.loads(report.read_text())
    assert data["findings"] and "summary" in data
    assert "cloud-identity" not in data["meta"]["checks"]  # local checks only


@needs_root
def test_degraded_proxy_is_explicit_and_leaves_loopback_only(
    corral: list[str], tmp_path: Path
) -> None:
    (tmp_path / "show.sh").write_text("echo proxy=${HTTP_PROXY:-none}\n")
    done = _run(corral, tmp_path, "--degraded=proxy", "--", "sh", "show.sh")
    assert done.returncode == 0, done.stderr
    assert "proxy=none" in done.stdout
    assert "DEGRADED without proxy" in done.stderr


def test_git_config_lists_are_joined_not_overwritten() -> None:
    base = {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "core.editor",
        "GIT_CONFIG_VALUE_0": "vi",
        "PATH": "/bin",
    }
    extra = {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.proxy",
        "GIT_CONFIG_VALUE_0": "http://127.0.0.1:3128",
        "HTTP_PROXY": "http://127.0.0.1:3128",
    }
    merged = merge_env(base, extra)
    assert merged["GIT_CONFIG_COUNT"] == "2"
    assert (merged["GIT_CONFIG_KEY_0"], merged["GIT_CONFIG_VALUE_0"]) == ("core.editor", "vi")
    assert merged["GIT_CONFIG_KEY_1"] == "http.proxy"
    assert merged["PATH"] == "/bin" and merged["HTTP_PROXY"].endswith(":3128")


def test_a_bad_count_in_the_callers_git_config_is_dropped() -> None:
    base = {"GIT_CONFIG_COUNT": "lots", "GIT_CONFIG_KEY_0": "x.y", "GIT_CONFIG_VALUE_0": "1"}
    extra = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.proxy", "GIT_CONFIG_VALUE_0": "p"}
    merged = merge_env(base, extra)
    assert merged["GIT_CONFIG_COUNT"] == "1" and merged["GIT_CONFIG_KEY_0"] == "http.proxy"


def test_supervision_settings_come_from_the_policy(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("name: p\nextends: default\nsupervision:\n  limits: {pids: 64}\n")
    spec = Guard(str(policy)).policy.spec.supervision
    assert spec.limits.pids == 64 and spec.limits.memory_mb == 4096  # the rest inherited
    policy.write_text("name: p\nextends: default\nsupervision:\n  limits: {cpus: 2}\n")
    with pytest.raises(SourceError, match="cpus"):
        Guard(str(policy))

"""The fence itself: in a network namespace with loopback only, the forwarder is the one way out.

Needs root for ``unshare --net`` (CI runs as root)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from proxy_support import file_server, running_proxy, write_policy

from corral.sinks import DecisionLog

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="unshare --net needs root (CI runs as root)",
)
PROBE = Path(__file__).with_name("sandbox_probe.py")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[int]:
    root = tmp_path / "site"
    root.mkdir()
    (root / "hello.txt").write_text("reached through the fence\n")
    with file_server(root) as port:
        yield port


def test_only_the_proxy_leads_out_of_the_namespace(site: int, tmp_path: Path) -> None:
    policy = write_policy(tmp_path, [f"pkgs.test:{site}"])
    socket_path = tmp_path / "proxy.sock"
    log_path = tmp_path / "decisions.jsonl"
    with DecisionLog(log_path) as log, running_proxy(policy, log=log) as service:
        service.add_unix(socket_path, session="sandbox-1")
        probe = subprocess.run(
            ["unshare", "--net", sys.executable, str(PROBE), str(socket_path), str(site)],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert probe.returncode == 0, probe.stderr
        report = json.loads(probe.stdout)
        stats = service.stats("sandbox-1")
    assert report["curl_via_env"] == "reached through the fence\n"
    assert report["urllib_via_env"] == "reached through the fence\n"
    assert report["direct_tcp_host_loopback"].startswith("failed: ConnectionRefusedError")
    assert report["direct_tcp_internet"].startswith("failed")
    assert "Network is unreachable" in report["udp_dns"]
    assert report["resolve"].startswith("failed")
    assert report["curl_after_forwarder_killed"].startswith("rc=7")
    assert stats is not None and stats.bytes_down > 0
    sessions = {
        json.loads(line)["decision"].get("session")
        for line in log_path.read_text().split("\n")
        if line
    }
    assert sessions == {"sandbox-1"}

"""``corral proxy``: the standalone proxy judges, logs, stops cleanly, and explains bad input."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from proxy_support import file_server, write_policy

CLEAN_ENV = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[int]:
    root = tmp_path / "site"
    root.mkdir()
    (root / "a.txt").write_text("standalone\n")
    with file_server(root) as port:
        yield port


def test_standalone_proxy_judges_logs_and_stops(
    corral: list[str], site: int, tmp_path: Path
) -> None:
    policy = write_policy(tmp_path, [f"127.0.0.1:{site}"])
    log_path = tmp_path / "proxy.log"
    proc = subprocess.Popen(
        [
            *corral,
            "proxy",
            "--policy",
            str(policy),
            "--listen",
            "127.0.0.1:0",
            "--log",
            str(log_path),
            "--log-sync",
            "batch",
        ],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line.startswith("corral proxy: listening on 127.0.0.1:"), line
        proxy = "http://" + line.split()[-1]
        ok = subprocess.run(
            ["curl", "-sS", "-x", proxy, f"http://127.0.0.1:{site}/a.txt"],
            check=False,
            capture_output=True,
            text=True,
            env=CLEAN_ENV,
            timeout=20,
        )
        refused = subprocess.run(
            ["curl", "-sS", "-x", proxy, "http://example.net/"],
            check=False,
            capture_output=True,
            text=True,
            env=CLEAN_ENV,
            timeout=20,
        )
        assert ok.stdout == "standalone\n"
        assert "Corral refused this connection" in refused.stdout and "CR-POL-001" in refused.stdout
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        code = proc.wait(20)
    assert code == 0
    verified = subprocess.run(
        [*corral, "log", "verify", str(log_path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert verified.returncode == 0, verified.stdout
    assert log_path.read_text().count('"decision":"deny"') >= 2  # net and http actions


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--policy", "/nonexistent/policy.yaml"], "policy file not found"),
        (["--listen", "nowhere"], "is not HOST:PORT"),
    ],
)
def test_bad_input_is_explained(corral: list[str], args: list[str], message: str) -> None:
    result = subprocess.run(
        [*corral, "proxy", *args], check=False, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr

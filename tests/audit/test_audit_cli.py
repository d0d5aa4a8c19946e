"""``corral audit`` end to end, as a real process."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from audit_support import SECRETS, Planted

from corral.audit.config import Endpoint


def _run(corral: list[str], planted: Planted, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *corral,
            "audit",
            "--home",
            str(planted.home),
            "--root",
            str(planted.root),
            *args,
        ],
        env={**planted.env, "CORRAL_STATE_DIR": str(planted.state_dir)},
        cwd=planted.workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_all_formats_from_the_command_line(
    corral: list[str], planted: Planted, metadata_server: dict[str, Endpoint], tmp_path: Path
) -> None:
    sarif, html, policy = tmp_path / "a.sarif", tmp_path / "a.html", tmp_path / "p.yaml"
    gcp = metadata_server["gcp"]
    done = _run(
        corral,
        planted,
        "--json",
        "--sarif", str(sarif),
        "--html", str(html),
        "--write-policy", str(policy),
        "--metadata-url", f"http://127.0.0.1:{gcp.port}/computeMetadata/v1/",
        "--fail-on", "critical",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # critical findings present
    report = json.loads(done.stdout)
    ids = {f["id"] for f in report["findings"]}
    assert {"CR-AUD-002", "CR-AUD-003", "CR-AUD-020", "CR-AUD-013"} <= ids
    metadata = [f for f in report["findings"] if f["id"] == "CR-AUD-020"]
    assert metadata[0]["severity"] == "critical"  # the header was inferred from the path shape
    everything = (
        done.stdout + done.stderr + sarif.read_text() + html.read_text() + policy.read_text()
    )
    for label, secret in SECRETS.items():
        assert secret not in everything, label
    tested = subprocess.run(
        [*corral, "policy", "test", str(policy)], capture_output=True, text=True, check=False
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_table_output_and_compare(corral: list[str], planted: Planted, tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    first = _run(corral, planted, "--check", "env-secrets", "--json")
    outside.write_text(first.stdout)
    done = _run(
        corral, planted, "--check", "env-secrets", "--inside-sandbox", "--compare", str(outside)
    )
    assert done.returncode == 0, done.stderr
    assert "Risk summary" in done.stdout and "CR-AUD-001" in done.stdout
    assert "Inside the fence: NOT clean" in done.stdout  # same environment: nothing was fenced


def test_bad_inputs_are_clear_errors(corral: list[str], planted: Planted, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    done = _run(corral, planted, "--compare", str(bad))
    assert done.returncode == 2 and f"{bad}:1: not a JSON report" in done.stderr
    done = _run(corral, planted, "--service", "postgres")
    assert done.returncode == 2 and "expected NAME:PORT" in done.stderr
    done = _run(corral, planted, "--metadata-url", "ftp://x/")
    assert done.returncode == 2 and "http:// URL" in done.stderr
    done = _run(corral, planted, "--as-user", "no-such-user-here")
    assert done.returncode == 2 and "no such user" in done.stderr
    assert "Traceback" not in done.stderr

"""Actions without ``session`` have no history, but their denials are still alerts."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

TUNNEL: dict[str, object] = {
    "kind": "exec",
    "command": "ssh -fNR 2222:localhost:22 tunnel@203.0.113.7",
}
HARMLESS: dict[str, object] = {"kind": "exec", "command": "git status"}


def _check(corral: list[str], state: Path, actions: list[dict[str, object]]) -> list[str]:
    lines = "".join(json.dumps(a) + "\n" for a in actions)
    proc = subprocess.run(
        [*corral, "check", "--state-dir", str(state)],
        input=lines.encode(),
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return [json.loads(line)["decision"] for line in proc.stdout.splitlines()]


def _alerts(corral: list[str], state: Path) -> list[dict[str, object]]:
    proc = subprocess.run(
        [*corral, "alerts", "--state-dir", str(state), "--json"], capture_output=True, check=True
    )
    data = json.loads(proc.stdout)
    assert isinstance(data, list)  # `corral alerts --json` prints the list itself
    return data


def test_a_sessionless_deny_is_alerted_and_repeats_are_grouped(
    corral: list[str], tmp_path: Path
) -> None:
    assert _check(corral, tmp_path, [TUNNEL, HARMLESS, TUNNEL, TUNNEL]) == [
        "deny",
        "allow",
        "deny",
        "deny",
    ]
    alerts = _alerts(corral, tmp_path)
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert["count"] == 3
    assert alert["session"] is None
    assert "CR-TUN-001" in json.dumps(alert)


def test_allowed_sessionless_actions_leave_no_alert(corral: list[str], tmp_path: Path) -> None:
    assert _check(corral, tmp_path, [HARMLESS, HARMLESS]) == ["allow", "allow"]
    assert not (tmp_path / "corral.db").exists() or _alerts(corral, tmp_path) == []

"""Quarantine after repeated denies, release by a person, both recorded."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from corral.store import DB_NAME

PROBES = [
    "cat ~/.ssh/id_rsa",
    "cat ~/.aws/credentials",
    "cat /etc/shadow",
    "ssh -R 8080:localhost:22 user@example.com",
    "cat ~/.git-credentials",
]


def check(corral: list[str], state_dir: Path, commands: list[str]) -> list[dict[str, Any]]:
    text = "".join(
        json.dumps({"kind": "exec", "command": c, "session": "q1"}) + "\n" for c in commands
    )
    done = subprocess.run(
        [*corral, "check", "--state-dir", str(state_dir)],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def cli(corral: list[str], state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*corral, *args, "--state-dir", str(state_dir)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_quarantine_then_release(corral: list[str], tmp_path: Path) -> None:
    before = check(corral, tmp_path, ["ls", *PROBES])
    assert [d["decision"] for d in before] == ["allow"] + ["deny"] * 5
    assert before[-1]["session_state"]["quarantined"] is True

    # Every later action, harmless or not, is denied while quarantined, across processes.
    during = check(corral, tmp_path, ["ls", "git status"])
    for decision in during:
        assert decision["decision"] == "deny"
        assert decision["rules"][0]["id"] == "CR-SES-005"
        assert decision["session_state"]["quarantined"] is True

    listed = json.loads(cli(corral, tmp_path, "sessions", "--json").stdout)
    assert listed[0]["id"] == "q1" and listed[0]["quarantined"] is True

    short = cli(corral, tmp_path, "session", "release", "q1", "--reason", "ok")
    assert short.returncode != 0  # a reason of a few words is required
    released = cli(
        corral, tmp_path, "session", "release", "q1", "--reason", "probes reviewed by ops", "--json"
    )
    assert released.returncode == 0, released.stderr
    assert json.loads(released.stdout)["released"] is True

    after = check(corral, tmp_path, ["ls"])
    assert after[0]["decision"] == "allow"
    assert after[0]["session_state"]["quarantined"] is False

    shown = json.loads(cli(corral, tmp_path, "show", "q1", "--json").stdout)
    kinds = [(e["kind"], e.get("reason")) for e in shown["events"]]
    assert kinds[0][0] == "quarantine"
    assert ("release", "probes reviewed by ops") in kinds
    assert shown["session"]["quarantined"] is False
    assert len(shown["timeline"]) == 9
    alerts = json.loads(cli(corral, tmp_path, "alerts", "--json", "--session", "q1").stdout)
    # The quarantine and the two denials it caused are one grouped alert, not three.
    quarantine = [a for a in alerts if a["kind"] == "quarantine"]
    assert len(quarantine) == 1 and quarantine[0]["count"] == 3

    again = cli(corral, tmp_path, "session", "release", "q1", "--reason", "nothing to release")
    assert again.returncode == 1
    readable = cli(corral, tmp_path, "show", "q1")
    assert readable.returncode == 0 and "release" in readable.stdout


def test_alert_filters(corral: list[str], tmp_path: Path) -> None:
    check(corral, tmp_path, ["whoami", "cat ~/.aws/credentials"])
    high = json.loads(cli(corral, tmp_path, "alerts", "--json", "--severity", "high").stdout)
    assert high and all(a["severity"] in ("high", "critical") for a in high)
    future = json.loads(
        cli(corral, tmp_path, "alerts", "--json", "--since", "2999-01-01T00:00:00Z").stdout
    )
    assert future == []
    recent = json.loads(cli(corral, tmp_path, "alerts", "--json", "--since", "1h").stdout)
    assert len(recent) == len(json.loads(cli(corral, tmp_path, "alerts", "--json").stdout))
    bad = cli(corral, tmp_path, "alerts", "--since", "yesterday-ish")
    assert bad.returncode == 2 and "duration" in bad.stderr
    missing = cli(corral, tmp_path, "show", "nope")
    assert missing.returncode == 1 and "no session" in missing.stderr


def test_damaged_store_is_a_message(corral: list[str], tmp_path: Path) -> None:
    check(corral, tmp_path, ["ls"])
    with sqlite3.connect(tmp_path / DB_NAME) as db:
        db.execute("UPDATE sessions SET state = 'not json' WHERE id = 'q1'")
    for args in (("sessions", "--json"), ("show", "q1")):
        done = cli(corral, tmp_path, *args)
        assert done.returncode == 2, done.stderr
        assert "cannot read the session store" in done.stderr
        assert "Traceback" not in done.stderr

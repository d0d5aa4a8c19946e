"""Multi-step sessions end to end through `corral check`: chains caught, benign ones untouched.

Each corpus file starts with ``{"policy": ...}``; every other line is ``{"expect": verdict,
"action": {...}}`` with optional ``first_bad`` (the chain's first bad step), ``chain`` (the
session rule that must appear) ``alert`` (an alert group that must exist) and ``off_task``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path(__file__).parent / "corpus"
FILES = sorted(CORPUS.glob("*.jsonl"))


def load(path: Path) -> tuple[str, list[dict[str, Any]]]:
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    policy = lines[0]["policy"]
    if policy.endswith(".yaml"):
        policy = str(CORPUS / policy)
    return policy, lines[1:]


def run_check(
    corral: list[str], policy: str, actions: list[dict[str, Any]], *extra: str
) -> list[dict[str, Any]]:
    text = "".join(json.dumps(a) + "\n" for a in actions)
    done = subprocess.run(
        [*corral, "check", "--policy", policy, "--replay-time", *extra],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_session_corpus(path: Path, corral: list[str], tmp_path: Path) -> None:
    policy, cases = load(path)
    decisions = run_check(
        corral, policy, [c["action"] for c in cases], "--state-dir", str(tmp_path)
    )
    assert len(decisions) == len(cases)
    for number, (case, decision) in enumerate(zip(cases, decisions, strict=True), 1):
        where = f"{path.name} step {number}: {decision['reason']}"
        assert decision["decision"] == case["expect"], where
        state = decision["session_state"]
        assert state["quarantined"] is False, where
        rules = [r["id"] for r in decision["rules"]]
        if "chain" in case:
            assert case["chain"] in rules and state["chain"], where
        if "off_task" in case:
            assert state["off_task"] is case["off_task"], where
        if path.stem == "benign":
            assert not [r for r in rules if r.startswith("CR-SES")], where
            assert state["chain"] is None and state["off_task"] is False, where
    _caught_at_or_right_after_first_bad(path, cases, decisions)
    _alerts_exist(corral, tmp_path, cases)


def _caught_at_or_right_after_first_bad(
    path: Path, cases: list[dict[str, Any]], decisions: list[dict[str, Any]]
) -> None:
    starts = [i for i, c in enumerate(cases) if c.get("first_bad")]
    if not starts:
        return
    first_bad = starts[0]
    flagged = [
        i
        for i, d in enumerate(decisions)
        if d["decision"] != "allow" or d["session_state"]["chain"]
    ]
    assert flagged, f"{path.name}: the chain was never caught"
    assert flagged[0] in (first_bad, first_bad + 1), f"{path.name}: caught late at {flagged[0]}"


def _alerts_exist(corral: list[str], state_dir: Path, cases: list[dict[str, Any]]) -> None:
    wanted = {(c["action"]["session"], c["alert"]) for c in cases if "alert" in c}
    wanted |= {(c["action"]["session"], c["chain"]) for c in cases if "chain" in c}
    if not wanted:
        return
    done = subprocess.run(
        [*corral, "alerts", "--json", "--state-dir", str(state_dir)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    alerts = json.loads(done.stdout)
    have = {(a["session"], a["rules"][0]["id"] if a["kind"] == "chain" else None) for a in alerts}
    keys = {(a["session"], r["id"]) for a in alerts for r in a["rules"]} | have
    for session, rule in wanted:
        assert (session, rule) in keys, f"no alert for {rule} in session {session}"
    for alert in alerts:
        assert alert["title"] == "Policy Violation"
        assert alert["severity"] in ("info", "low", "medium", "high", "critical")
        assert "action" in alert and "timeline" in alert and "analysis" in alert


def test_chain_steps_pass_alone(corral: list[str]) -> None:
    """Without their history the chains' last steps are allowed: the session made the verdict."""
    for name, index in (("low_and_slow", -1), ("credential_then_new_host", -1)):
        policy, cases = load(CORPUS / f"{name}.jsonl")
        decisions = run_check(corral, policy, [c["action"] for c in cases], "--no-sessions")
        assert decisions[index]["decision"] == "allow", (name, decisions[index]["reason"])
        assert "session_state" not in decisions[index]


def test_session_continues_across_processes(corral: list[str], tmp_path: Path) -> None:
    policy, cases = load(CORPUS / "credential_then_new_host.jsonl")
    actions = [c["action"] for c in cases]
    state = ("--state-dir", str(tmp_path))
    run_check(corral, policy, actions[:3], *state)
    last = run_check(corral, policy, actions[3:], *state)
    assert last[0]["decision"] == "deny"
    assert "CR-SES-001" in [r["id"] for r in last[0]["rules"]]
    assert last[0]["session_state"]["step"] == 4

"""The OpenHands risk judge: Corral's verdict as a risk level, never lowered by the model's rating.

The OpenHands SDK needs Python 3.12+ and is not installable beside Corral's 3.11 baseline, so the
events here are plain objects with the fields the SDK's ``ActionEvent`` documents (``tool_name``,
``action`` as the tool's pydantic arguments, ``security_risk``); the levels are the strings the
SDK's ``SecurityRisk`` enum is made from.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from corral.integrations.guard_factory import close_state, make_guard
from corral.integrations.openhands import OpenHandsRiskJudge, combined_risk

TUNNEL = "ssh -R 8080:localhost:22 u@relay.example.net"


class TerminalArgs(BaseModel):
    command: str
    is_input: bool = False
    timeout: float | None = None


class FileEditorArgs(BaseModel):
    command: str
    path: str
    file_text: str | None = None
    new_str: str | None = None


@dataclass
class Event:
    tool_name: str
    action: Any
    security_risk: str = "UNKNOWN"


@pytest.fixture
def judge(tmp_path: Path) -> Iterator[OpenHandsRiskJudge]:
    guard = make_guard("default", workspace=[str(tmp_path)], state_dir=tmp_path / "state")
    yield OpenHandsRiskJudge(guard, cwd=str(tmp_path))
    close_state(guard)


@pytest.mark.parametrize(
    ("event", "risk"),
    [
        (Event("terminal", TerminalArgs(command="ls -la"), "LOW"), "LOW"),
        (Event("terminal", TerminalArgs(command=TUNNEL), "LOW"), "HIGH"),
        (Event("execute_bash", TerminalArgs(command=TUNNEL)), "HIGH"),
        (Event("terminal", TerminalArgs(command="ls"), "HIGH"), "HIGH"),
        (Event("terminal", TerminalArgs(command="ls"), "MEDIUM"), "MEDIUM"),
        (Event("file_editor", FileEditorArgs(command="view", path="notes.txt")), "LOW"),
        (
            Event(
                "file_editor",
                FileEditorArgs(
                    command="create", path="/root/.ssh/authorized_keys", file_text="ssh-ed25519 A"
                ),
                "LOW",
            ),
            "HIGH",
        ),
        (Event("file_editor", FileEditorArgs(command="teleport", path="x")), "HIGH"),
        (Event("terminal", None, "LOW"), "HIGH"),
        (Event("", {"command": "ls"}), "HIGH"),
    ],
    ids=[
        "benign",
        "tunnel-rated-low",
        "legacy-tool-name",
        "model-raises",
        "model-raises-to-medium",
        "view-in-workspace",
        "authorized-keys-rated-low",
        "unknown-editor-command",
        "no-arguments",
        "no-tool-name",
    ],
)
def test_levels(judge: OpenHandsRiskJudge, event: Event, risk: str) -> None:
    assert judge.risk(event) == risk


def test_the_level_follows_the_guards_verdict(judge: OpenHandsRiskJudge) -> None:
    answer = judge.analyze(Event("terminal", TerminalArgs(command=TUNNEL), "LOW"))
    direct = judge.guard.decide({"kind": "exec", "command": TUNNEL, "cwd": judge.cwd})
    assert answer.decision["decision"] == direct.decision == "deny"
    assert answer.model_risk == "LOW" and answer.risk == "HIGH"
    assert [r["id"] for r in answer.decision["rules"]] == [r.id for r in direct.rules]


def test_ask_is_medium(tmp_path: Path) -> None:
    guard = make_guard("permissive", state_dir=tmp_path)
    try:
        judge = OpenHandsRiskJudge(guard)
        launch = {"instance_type": "zz.unpriced"}
        answer = judge.analyze(Event("create_instance", launch, "LOW"))
    finally:
        close_state(guard)
    assert (answer.decision["decision"], answer.risk) == ("ask", "MEDIUM")


def test_session_quarantine_reaches_the_level(tmp_path: Path) -> None:
    guard = make_guard("default", workspace=[str(tmp_path)], state_dir=tmp_path / "state")
    try:
        judge = OpenHandsRiskJudge(guard, session="oh-run", cwd=str(tmp_path))
        for _ in range(5):
            judge.risk(Event("terminal", TerminalArgs(command=TUNNEL)))
        after = judge.analyze(Event("terminal", TerminalArgs(command="ls"), "LOW"))
    finally:
        close_state(guard)
    assert after.risk == "HIGH"
    assert "CR-SES-005" in [r["id"] for r in after.decision["rules"]]


@pytest.mark.parametrize(
    ("verdict", "model", "risk"),
    [
        ("allow", None, "LOW"),
        ("ask", "LOW", "MEDIUM"),
        ("deny", "LOW", "HIGH"),
        ("allow", "HIGH", "HIGH"),
        ("nonsense", None, "HIGH"),
    ],
)
def test_combined_risk_takes_the_higher(verdict: str, model: str | None, risk: str) -> None:
    assert combined_risk({"decision": verdict}, model) == risk


def test_an_internal_error_is_high(tmp_path: Path) -> None:
    class Broken(OpenHandsRiskJudge):
        def _with_context(self, action: Any) -> Any:
            raise RuntimeError("simulated engine failure")

    judge = Broken(make_guard("default", state_dir=tmp_path / "state"), cwd=str(tmp_path))
    answer = judge.analyze(Event("terminal", TerminalArgs(command="ls"), "LOW"))
    assert answer.risk == "HIGH" and answer.decision["decision"] == "deny"
    assert "simulated engine failure" in answer.decision["error"]
    close_state(judge.guard)

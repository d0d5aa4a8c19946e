"""`corral hook` as the agents run it: a subprocess fed recorded payload shapes on stdin."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from integration_helpers import PAYLOADS, Server, corral_command, hook_command

from corral.integrations.hooks import answer_pre, handle


def alone(payload: str) -> bytes:
    """The recorded payload in a session of its own: the recordings share one session id, and
    a shared session would (rightly) escalate after the first few attacks."""
    data = json.loads((PAYLOADS / payload).read_bytes())
    for key in ("session_id", "sessionId"):
        if key in data:
            data[key] = str(uuid.uuid4())
    return json.dumps(data).encode()


# payload file -> (agent, expected verdict as the agent will read it)
CASES: dict[str, tuple[str, str]] = {
    "claude_bash_tunnel.json": ("claude-code", "deny"),
    "claude_bash_tests.json": ("claude-code", "allow"),
    "claude_write_workspace.json": ("claude-code", "allow"),
    "claude_edit_bashrc.json": ("claude-code", "deny"),
    "claude_read_ssh_key.json": ("claude-code", "deny"),
    "claude_webfetch_unlisted.json": ("claude-code", "deny"),
    "claude_mcp_shell.json": ("claude-code", "deny"),
    "codex_bash_miner.json": ("codex", "deny"),
    "codex_bash_ls.json": ("codex", "allow"),
    "codex_apply_patch.json": ("codex", "deny"),
    "gemini_shell_reverse.json": ("gemini", "deny"),
    "gemini_write_workspace.json": ("gemini", "allow"),
}


def run_hook(
    args: list[str], stdin: bytes, *, command: list[str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*(command or hook_command()), *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def verdict(agent: str, proc: subprocess.CompletedProcess[bytes]) -> str:
    """The verdict the agent takes from the hook's answer (exit 2 is a block for all of them)."""
    if proc.returncode == 2:
        return "deny"
    assert proc.returncode == 0, proc.stderr.decode()
    answer: dict[str, Any] = json.loads(proc.stdout)
    if agent == "gemini":
        return str(answer.get("decision", "allow"))
    specific = answer.get("hookSpecificOutput")
    if specific is None:  # codex: {} means no objection
        assert answer == {}
        return "allow"
    assert specific["hookEventName"] == "PreToolUse"
    return str(specific["permissionDecision"])


@pytest.mark.parametrize("payload", sorted(CASES))
def test_payloads_through_server(payload: str, api_server: Server) -> None:
    agent, expected = CASES[payload]
    proc = run_hook([agent, "--server", api_server.url], alone(payload))
    assert verdict(agent, proc) == expected
    if expected == "deny" and proc.returncode == 0:
        answer = json.loads(proc.stdout)
        reason = answer.get("reason") or answer["hookSpecificOutput"]["permissionDecisionReason"]
        assert "Corral blocked" in reason and "rules:" in reason


@pytest.mark.parametrize(
    "payload", ["claude_bash_tunnel.json", "claude_write_workspace.json", "codex_apply_patch.json"]
)
def test_console_script_judges_in_process(payload: str) -> None:
    agent, expected = CASES[payload]
    proc = run_hook(["hook", agent], alone(payload), command=corral_command())
    assert verdict(agent, proc) == expected


def test_unreachable_server_falls_back_to_judging_here() -> None:
    proc = run_hook(
        ["claude-code", "--server", "http://127.0.0.1:9"],
        (PAYLOADS / "claude_bash_tunnel.json").read_bytes(),
    )
    assert verdict("claude-code", proc) == "deny"
    assert b"not reachable" in proc.stderr


@pytest.mark.parametrize(
    "stdin",
    [
        b"not json",
        b"[1, 2]",
        b'{"hook_event_name": "PreToolUse", "tool_input": {}}',
        b'{"hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": {}}',
        b'{"hook_event_name": "Whatever", "tool_name": "Bash", "tool_input": {"command": "ls"}}',
        b'{"hook_event_name": "PreToolUse", "tool_name": "Write", "tool_input": {"content": "x"}}',
    ],
)
def test_malformed_input_blocks_with_exit_2(stdin: bytes, api_server: Server) -> None:
    proc = run_hook(["claude-code", "--server", api_server.url], stdin)
    assert proc.returncode == 2
    assert proc.stdout == b""
    assert proc.stderr.startswith(b"Corral blocked this call:")


def broken_judge(actions: list[Any]) -> list[Any]:
    raise RuntimeError("simulated engine failure")


@pytest.mark.parametrize(
    ("judge", "why"),
    [
        (broken_judge, b"simulated engine failure"),
        (lambda actions: [], b"judged as 0 decisions"),
    ],
    ids=["judge-raises", "decision-missing"],
)
def test_a_judge_that_fails_blocks(judge: Any, why: bytes) -> None:
    answer = handle("claude-code", (PAYLOADS / "claude_bash_tests.json").read_bytes(), judge)
    assert answer.exit_code == 2 and answer.stdout == ""
    assert why.decode() in answer.stderr


def test_bad_policy_blocks(tmp_path: Path) -> None:
    policy = tmp_path / "bad.yaml"
    policy.write_text("egress: [\n")
    proc = run_hook(
        ["claude-code", "--policy", str(policy)],
        (PAYLOADS / "claude_bash_tests.json").read_bytes(),
    )
    assert proc.returncode == 2
    assert b"policy" in proc.stderr


def test_gemini_ask_becomes_deny_saying_approval_is_needed(tmp_path: Path) -> None:
    decision = {"decision": "ask", "reason": "a spend over the budget", "rules": [], "policy": "p"}
    answer = json.loads(answer_pre("gemini", decision).stdout)
    assert answer["decision"] == "deny"
    assert "approval" in answer["reason"]
    codex = json.loads(answer_pre("codex", decision).stdout)
    assert codex["hookSpecificOutput"]["permissionDecision"] == "deny"
    claude = json.loads(answer_pre("claude-code", decision).stdout)
    assert claude["hookSpecificOutput"]["permissionDecision"] == "ask"


def test_post_tool_use_is_recorded_in_the_log(tmp_path: Path, api_server: Server) -> None:
    log = tmp_path / "hooks.log"
    for payload, agent in [
        ("claude_bash_tests.json", "claude-code"),
        ("claude_post_bash.json", "claude-code"),
        ("gemini_after_shell.json", "gemini"),
    ]:
        proc = run_hook(
            [agent, "--server", api_server.url, "--log", str(log)],
            alone(payload),
        )
        assert proc.returncode == 0, proc.stderr.decode()
    post = run_hook(["claude-code"], (PAYLOADS / "claude_post_bash.json").read_bytes())
    assert (post.returncode, json.loads(post.stdout)) == (0, {})
    records = [json.loads(line) for line in log.read_text().splitlines()]
    bodies = [r["decision"] for r in records]
    assert bodies[0]["decision"] == "allow"
    assert bodies[0]["action"]["command"] == "python -m pytest -q tests/"
    assert [b.get("record") for b in bodies[1:]] == ["ran", "ran"]
    assert bodies[1]["tool"] == "Bash" and bodies[2]["agent"] == "gemini"
    verify = subprocess.run(
        [*corral_command(), "log", "verify", str(log)], capture_output=True, check=False
    )
    assert verify.returncode == 0, verify.stdout.decode()


def test_install_merges_keeps_other_hooks_and_backs_up(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    other = {"matcher": "Write", "hooks": [{"type": "command", "command": "prettier --write"}]}
    settings.write_text(json.dumps({"model": "x", "hooks": {"PreToolUse": [other]}}))
    args = ["install", "claude-code", "--settings", str(settings)]
    first = subprocess.run([*corral_command(), *args], capture_output=True, check=False)
    assert first.returncode == 0, first.stderr.decode()
    merged = json.loads(settings.read_text())
    assert merged["model"] == "x"
    assert merged["hooks"]["PreToolUse"][0] == other
    command = merged["hooks"]["PreToolUse"][1]["hooks"][0]["command"]
    assert command.endswith("-m corral.cli.hook claude-code")
    assert merged["hooks"]["PostToolUse"][0]["hooks"][0]["command"] == command
    assert len(list(tmp_path.glob("settings.json.corral-backup-*"))) == 1
    again = subprocess.run([*corral_command(), *args], capture_output=True, check=False)
    assert b"already registered" in again.stdout
    assert json.loads(settings.read_text()) == merged


def test_install_refuses_invalid_settings_and_prints_gemini_snippet(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text('{"hooks": ')
    proc = subprocess.run(
        [*corral_command(), "install", "codex", "--settings", str(settings)],
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 2
    assert b"line 1" in proc.stderr
    assert settings.read_text() == '{"hooks": '
    printed = subprocess.run(
        [*corral_command(), "install", "gemini", "--print"], capture_output=True, check=True
    )
    snippet = json.loads(printed.stdout)
    handler = snippet["hooks"]["BeforeTool"][0]["hooks"][0]
    assert handler["timeout"] == 30000 and "hook gemini" in handler["command"]


def test_a_session_that_keeps_probing_is_quarantined_across_hook_processes() -> None:
    """Each hook call is a new process; the session lives in the store, so it carries on."""
    session = str(uuid.uuid4())

    def call(payload: str) -> str:
        data = json.loads((PAYLOADS / payload).read_bytes())
        data["session_id"] = session
        proc = run_hook(
            ["hook", "claude-code"], json.dumps(data).encode(), command=corral_command()
        )
        return verdict("claude-code", proc)

    assert call("claude_write_workspace.json") == "allow"
    for _ in range(6):
        assert call("claude_bash_tunnel.json") == "deny"
    assert call("claude_write_workspace.json") == "deny"  # quarantined: a person must release it

"""Every door gives the same verdict for the same action.

A deterministic sample of the shared corpus (every 10th benign and malicious action, files in
name order) goes through the in-process Guard, `corral check`, the decision API (a real uvicorn
server on loopback) and, for the kinds a coding agent's built-in tools produce, the hooks.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from integration_helpers import Server, corral_command, hook_command

from corral import Guard

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
EVERY = 10


def corpus_sample() -> list[dict[str, Any]]:
    """Every EVERY-th corpus action, without ``session``: this suite compares single verdicts.

    Session history makes a verdict depend on what came before (and on state kept between
    runs), which only the doors that share a session store can agree on.
    """
    actions: list[dict[str, Any]] = []
    for folder in ("benign", "malicious"):
        for path in sorted((CORPUS / folder).glob("*.jsonl")):
            lines = [line for line in path.read_text().splitlines() if line.strip()]
            actions.extend(json.loads(line) for line in lines)
    return [{k: v for k, v in a.items() if k != "session"} for a in actions[::EVERY]]


SAMPLE = corpus_sample()


@pytest.fixture(scope="module")
def reference() -> list[str]:
    guard = Guard("default")
    return [guard.decide(action).decision for action in SAMPLE]


def test_sample_covers_every_verdict_and_kind(reference: list[str]) -> None:
    assert len(SAMPLE) > 200
    assert {"allow", "deny"} <= set(reference)
    assert {"exec", "file", "http"} <= {a["kind"] for a in SAMPLE}


def test_corral_check_agrees(reference: list[str], tmp_path: Path) -> None:
    stdin = "".join(json.dumps(a) + "\n" for a in SAMPLE).encode()
    proc = subprocess.run(
        [*corral_command(), "check"],
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
        env={**os.environ, "CORRAL_STATE_DIR": str(tmp_path)},
    )
    verdicts = [json.loads(line)["decision"] for line in proc.stdout.decode().splitlines()]
    assert verdicts == reference


def test_decision_api_agrees(reference: list[str], api_server: Server) -> None:
    with httpx.Client(base_url=api_server.url, timeout=30) as client:
        single = [client.post("/v1/decide", json=a).json()["decision"] for a in SAMPLE]
        batch = client.post("/v1/decide/batch", json={"actions": SAMPLE}).json()["decisions"]
    assert single == reference
    assert [d["decision"] for d in batch] == reference
    assert [d["id"] for d in batch] == [a.get("id") for a in SAMPLE]


def as_claude_payload(action: dict[str, Any]) -> dict[str, Any] | None:
    """The Claude Code tool call that performs ``action``, when a built-in tool does exactly it."""
    cwd = action.get("cwd", "/workspace")
    tool: tuple[str, dict[str, Any]] | None = None
    kind = action["kind"]
    if kind == "exec" and "command" in action and "env" not in action:
        tool = ("Bash", {"command": action["command"]})
    elif kind == "file" and action["op"] == "write" and "mode" not in action:
        tool = ("Write", {"file_path": action["path"], "content": action.get("content", "")})
    elif kind == "file" and action["op"] == "read":
        tool = ("Read", {"file_path": action["path"]})
    elif kind == "http" and action["method"] == "GET" and not action.get("headers"):
        tool = ("WebFetch", {"url": action["url"], "prompt": "read it"})
    if tool is None:
        return None
    if kind == "file" and "cwd" not in action:
        cwd = None
    return {
        # One session per action: the reference verdicts are stateless, and a shared session
        # would (rightly) escalate after the first few attacks.
        "session_id": f"conformance-{action['id']}",
        "cwd": cwd,
        "hook_event_name": "PreToolUse",
        "tool_name": tool[0],
        "tool_input": tool[1],
    }


HOOK_CASES = [
    (index, payload)
    for index, action in enumerate(SAMPLE)
    if index % 2 == 0 and (payload := as_claude_payload(action)) is not None
]


def test_hook_sample_is_broad() -> None:
    tools = {payload["tool_name"] for _, payload in HOOK_CASES}
    assert {"Bash", "Write", "Read", "WebFetch"} <= tools
    assert len(HOOK_CASES) > 60


def test_claude_code_hook_agrees(reference: list[str], api_server: Server) -> None:
    mismatches = []
    for index, payload in HOOK_CASES:
        if payload["cwd"] is None:
            del payload["cwd"]
        proc = subprocess.run(
            [*hook_command(), "claude-code", "--server", api_server.url],
            input=json.dumps(payload).encode(),
            capture_output=True,
            timeout=60,
            check=False,
        )
        answer = json.loads(proc.stdout)["hookSpecificOutput"] if proc.returncode == 0 else {}
        got = answer.get("permissionDecision", f"exit {proc.returncode}")
        if got != reference[index]:
            mismatches.append((SAMPLE[index]["id"], reference[index], got))
    assert mismatches == []


def as_mcp_call(action: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The call to the test MCP server's tools that performs ``action``, when one does exactly."""
    kind = action["kind"]
    if kind == "exec" and "command" in action and "env" not in action:
        args = {"command": action["command"]}
        if action.get("cwd"):
            args["cwd"] = action["cwd"]
        return "run_shell", args
    if kind == "file" and "cwd" not in action and action["path"].startswith("/"):
        if action["op"] == "read":
            return "read_file", {"path": action["path"]}
        if action["op"] == "write" and "mode" not in action:
            return "write_file", {"path": action["path"], "content": action.get("content", "")}
    if kind == "http" and action["method"] == "GET" and not action.get("headers"):
        return "fetch", {"url": action["url"]}
    return None


MCP_CASES = [
    (index, call)
    for index, action in enumerate(SAMPLE)
    if (call := as_mcp_call(action)) is not None
]


def test_mcp_gateway_agrees(reference: list[str], tmp_path: Path) -> None:
    from test_mcp_gateway import text_of, with_client  # noqa: PLC0415 - needs the mcp package

    assert {name for _, (name, _) in MCP_CASES} == {"run_shell", "read_file", "write_file", "fetch"}
    assert len(MCP_CASES) > 100
    assert {reference[index] for index, _ in MCP_CASES} >= {"allow", "deny"}

    async def script(session: Any) -> list[Any]:
        await session.list_tools()
        return [await session.call_tool(name, args) for _, (name, args) in MCP_CASES]

    results = with_client(tmp_path, script, "--session", "none")
    mismatches = []
    for (index, call), result in zip(MCP_CASES, results, strict=True):
        blocked = bool(result.is_error) and text_of(result).startswith("Corral ")
        if blocked is (reference[index] == "allow"):
            mismatches.append((SAMPLE[index]["id"], reference[index], call[0]))
    assert mismatches == []

"""Coding-agent hooks: an agent's pre-tool-use JSON in, its own answer format out.

Claude Code and Codex send ``PreToolUse``/``PostToolUse`` events and read
``{"hookSpecificOutput": {"permissionDecision": ...}}``; Gemini CLI sends ``BeforeTool``/
``AfterTool`` and reads ``{"decision": "allow"|"deny", "reason": ...}``. Whatever goes wrong
(input that is not a hook event, a tool whose arguments cannot be read, a bad policy, a bug)
the answer is a block: exit status 2 with the reason on stderr, which every one of these agents
treats as "do not run the tool".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from corral.integrations.agent_tools import AGENT_TOOLS, Action, UnjudgeableCall, tool_actions
from corral.integrations.combine import DecisionDict, describe, strictest, verdict_of

AGENTS = tuple(AGENT_TOOLS)
PRE_EVENTS = frozenset(["PreToolUse", "BeforeTool"])
POST_EVENTS = frozenset(["PostToolUse", "AfterTool"])
EXIT_BLOCK = 2
MAX_INPUT_BYTES = 16 * 1024 * 1024


class HookInputError(ValueError):
    """Standard input that is not a hook event this agent sends."""


class JudgeError(Exception):
    """The judge could not run (a bad policy file, an unreachable server); the call is blocked."""


@dataclass(frozen=True, slots=True)
class HookEvent:
    agent: str
    event_name: str
    tool_name: str
    tool_input: dict[str, Any]
    session: str | None = None
    cwd: str | None = None
    tool_use_id: str | None = None

    @property
    def is_pre(self) -> bool:
        return self.event_name in PRE_EVENTS

    @property
    def is_post(self) -> bool:
        return self.event_name in POST_EVENTS

    def actions(self) -> list[Action]:
        """The contract actions of this call, each tagged with its session, agent and id."""
        actions = tool_actions(self.agent, self.tool_name, self.tool_input, self.cwd)
        for action in actions:
            action["agent"] = self.agent
            if self.session is not None:
                action["session"] = self.session
            if self.tool_use_id is not None:
                action["id"] = self.tool_use_id
        return actions


@dataclass(frozen=True, slots=True)
class HookAnswer:
    """What the hook process writes and how it exits."""

    stdout: str
    exit_code: int = 0
    stderr: str = ""
    decision: DecisionDict | None = None
    actions: list[Action] = field(default_factory=list)


def parse_event(agent: str, raw: bytes) -> HookEvent:
    """Read one hook event; raises HookInputError naming the field that is wrong."""
    if len(raw) > MAX_INPUT_BYTES:
        raise HookInputError(f"the hook input is over {MAX_INPUT_BYTES} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise HookInputError(f"the hook input is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise HookInputError("the hook input must be a JSON object")
    event_name = _field(data, "hook_event_name")
    if event_name not in PRE_EVENTS | POST_EVENTS:
        known = ", ".join(sorted(PRE_EVENTS | POST_EVENTS))
        raise HookInputError(f"hook_event_name {event_name!r} is not one of {known}")
    tool_input = data.get("tool_input", {})
    if not isinstance(tool_input, dict):
        raise HookInputError("field 'tool_input' must be an object")
    return HookEvent(
        agent=agent,
        event_name=event_name,
        tool_name=_field(data, "tool_name"),
        tool_input=tool_input,
        session=_optional(data, "session_id"),
        cwd=_optional(data, "cwd"),
        tool_use_id=_optional(data, "tool_use_id"),
    )


def _field(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise HookInputError(f"field {name!r} is missing or not a non-empty string")
    return value


def _optional(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) and value else None


# -- answers -------------------------------------------------------------------------------------


def block(reason: str) -> HookAnswer:
    """The fallback every agent honours: exit 2, the reason on stderr."""
    return HookAnswer(stdout="", exit_code=EXIT_BLOCK, stderr=f"Corral blocked this call: {reason}")


def success() -> HookAnswer:
    """An answer with no decision in it (after a tool ran)."""
    return HookAnswer(stdout="{}")


def answer_pre(agent: str, decision: DecisionDict, *, defer_allow: bool = False) -> HookAnswer:
    """The agent's own answer for a decision on a call that is about to run."""
    reason = describe(decision)
    verdict = verdict_of(decision)
    if agent == "gemini":
        if verdict == "allow":
            body: dict[str, Any] = {"decision": "allow"} if not defer_allow else {}
        else:  # Gemini CLI cannot ask a person from a hook: a call that needs approval waits
            body = {"decision": "deny", "reason": _approval_note(reason, verdict, "Gemini CLI")}
        return HookAnswer(stdout=json.dumps(body), decision=decision)
    if agent == "codex":
        # Codex treats "allow" and "ask" from a PreToolUse hook as unsupported and runs the call,
        # so allow is "no objection" ({}) and ask is a deny that says approval is needed.
        if verdict == "allow":
            return HookAnswer(stdout="{}", decision=decision)
        return HookAnswer(
            stdout=_permission("deny", _approval_note(reason, verdict, "Codex")), decision=decision
        )
    if verdict == "allow" and defer_allow:
        return HookAnswer(stdout="{}", decision=decision)
    return HookAnswer(stdout=_permission(verdict, reason), decision=decision)


def _permission(verdict: str, reason: str) -> str:
    return json.dumps(
        {
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": verdict,
                "permissionDecisionReason": reason,
            }
        },
        ensure_ascii=False,
    )


def _approval_note(reason: str, verdict: str, agent_name: str) -> str:
    if verdict != "ask":
        return reason
    return (
        f"{reason}. This call needs a person's approval and {agent_name} hooks cannot ask for it, "
        "so it was not run; ask the user to run it or to change the policy"
    )


# -- the whole exchange --------------------------------------------------------------------------

Judge = Callable[[list[Action]], list[DecisionDict]]
Recorder = Callable[[HookEvent, DecisionDict | None, list[Action]], None]


def handle(
    agent: str,
    raw: bytes,
    judge: Judge,
    *,
    record: Recorder | None = None,
    defer_allow: bool = False,
) -> HookAnswer:
    """Judge one hook event; never raises, and any failure is a block.

    ``judge`` turns actions into decisions (in-process or through a server); it is called only
    when a decision is needed, so an after-the-fact event costs no policy load. ``record`` (the
    decision log) sees every decision and every call that ran; if it fails the call is blocked,
    because a decision that was not logged must not count.
    """
    try:
        event = parse_event(agent, raw)
        if event.is_post:
            if record is not None:
                record(event, None, _ran_actions(event))
            return success()
        actions = event.actions()
        decisions = judge(actions)
        if len(decisions) != len(actions):
            raise JudgeError(f"{len(actions)} actions were judged as {len(decisions)} decisions")
        decision = strictest(decisions)
        if record is not None:
            record(event, decision, actions)
        return answer_pre(agent, decision, defer_allow=defer_allow)
    except (HookInputError, UnjudgeableCall) as exc:
        return block(str(exc))
    except JudgeError as exc:
        return block(str(exc))
    except Exception as exc:
        return block(f"internal error while judging the call ({type(exc).__name__}: {exc})")


def _ran_actions(event: HookEvent) -> list[Action]:
    try:
        return event.actions()
    except UnjudgeableCall:
        return [{"kind": "tool", "name": event.tool_name, "args": event.tool_input}]

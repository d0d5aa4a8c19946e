"""Corral as an OpenHands security analyzer: every pending action gets a risk level from the guard.

OpenHands asks its security analyzer for a risk level (``LOW``, ``MEDIUM``, ``HIGH``) before each
action runs and asks the user to confirm the risky ones. Corral's verdict becomes that level:
``deny`` → ``HIGH``, ``ask`` → ``MEDIUM``, ``allow`` → ``LOW``. The model that proposed the
action also rates it (``ActionEvent.security_risk``); that rating can raise the level but never
lower it, so an agent cannot talk its way past the policy by calling a dangerous action safe.

The OpenHands SDK (``openhands-sdk``) needs Python 3.12 or later and cannot be installed next
to Corral's 3.11 baseline, so this module does not import it. It works on anything shaped like
the SDK's ``ActionEvent`` (:class:`OpenHandsActionEvent`: ``tool_name``, ``action`` — the
tool's pydantic arguments — and ``security_risk``) and returns the level as text, which is
what the SDK's ``SecurityRisk`` string enum is built from. Wiring it in takes a few lines::

    from openhands.sdk.security.analyzer import SecurityAnalyzerBase
    from openhands.sdk.security.confirmation_policy import ConfirmRisky
    from openhands.sdk.security.risk import SecurityRisk
    from corral.integrations.openhands import OpenHandsRiskJudge

    JUDGE = OpenHandsRiskJudge(policy="default", session="run-42", cwd="/workspace")

    class CorralAnalyzer(SecurityAnalyzerBase):
        def security_risk(self, action):
            return SecurityRisk(JUDGE.risk(action))

    conversation.set_security_analyzer(CorralAnalyzer())
    conversation.set_confirmation_policy(ConfirmRisky(threshold=SecurityRisk.MEDIUM))

OpenHands' own confirmation policy decides what a level means: its default confirms only
``HIGH``, so a threshold of ``MEDIUM`` is what makes Corral's ``ask`` reach a person. A ``HIGH``
action waits for the user's confirmation; OpenHands does not drop it by itself, so a user who
confirms it runs it. Where a ``deny`` must never run, put Corral in the action's path as well
(``corral run``, the egress proxy).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from corral.engine.guard import Guard
from corral.integrations.agent_tools import (
    Action,
    UnjudgeableCall,
    exec_action,
    file_action,
    http_get,
    opaque_tool,
)
from corral.integrations.combine import DecisionDict, strictest, verdict_of

RISK_ORDER = ("LOW", "MEDIUM", "HIGH")
VERDICT_RISK = {"allow": "LOW", "ask": "MEDIUM", "deny": "HIGH"}
AGENT_NAME = "openhands"


class OpenHandsActionEvent(Protocol):
    """What the analyzer reads from an OpenHands SDK ``ActionEvent``."""

    tool_name: str
    action: Any  # the tool's arguments: a pydantic model (or a mapping); None when unparsable
    security_risk: Any  # the model's own rating: SecurityRisk / "LOW" ... "HIGH" / "UNKNOWN"


@dataclass(frozen=True, slots=True)
class RiskAnswer:
    risk: str  # LOW, MEDIUM or HIGH
    decision: DecisionDict  # Corral's strictest decision on the call's actions
    model_risk: str | None  # the model's own rating, when it gave a known one


# -- the SDK's tools as contract actions ---------------------------------------------------------

ToolMapper = Callable[[Mapping[str, Any], str | None], list[Action]]


def _terminal(args: Mapping[str, Any], cwd: str | None) -> list[Action]:
    return [exec_action(args.get("command"), cwd)]


def _file_editor(args: Mapping[str, Any], cwd: str | None) -> list[Action]:
    path = args.get("path")
    if not isinstance(path, str) or not path:
        raise UnjudgeableCall("the file_editor call has no 'path'")
    command = args.get("command")
    if command == "view":
        return [file_action("read", path, cwd)]
    if command == "create":
        content = args.get("file_text")
        return [file_action("write", path, cwd, content if isinstance(content, str) else None)]
    if command in ("str_replace", "insert", "undo_edit"):
        content = args.get("new_str")
        return [file_action("write", path, cwd, content if isinstance(content, str) else None)]
    raise UnjudgeableCall(f"the file_editor command {command!r} is not one Corral knows")


def _browser_navigate(args: Mapping[str, Any], cwd: str | None) -> list[Action]:
    url = args.get("url")
    if not isinstance(url, str) or not url:
        raise UnjudgeableCall("the browser_navigate call has no 'url'")
    return [http_get(url)]


def _ipython(args: Mapping[str, Any], cwd: str | None) -> list[Action]:
    code = args.get("code")
    if not isinstance(code, str):
        raise UnjudgeableCall("the IPython call has no 'code'")
    return [exec_action(["python3", "-c", code], cwd)]


# Tool names of the SDK's own tools, and the names older OpenHands releases gave them.
OPENHANDS_TOOLS: dict[str, ToolMapper] = {
    "terminal": _terminal,
    "execute_bash": _terminal,
    "bash": _terminal,
    "file_editor": _file_editor,
    "str_replace_editor": _file_editor,
    "browser_navigate": _browser_navigate,
    "execute_ipython_cell": _ipython,
}


def tool_call_actions(
    tool_name: str, arguments: Mapping[str, Any], cwd: str | None
) -> list[Action]:
    """The actions one OpenHands tool call performs; raises :class:`UnjudgeableCall`."""
    mapper = OPENHANDS_TOOLS.get(tool_name)
    actions = mapper(arguments, cwd) if mapper else [opaque_tool(tool_name, dict(arguments))]
    for action in actions:
        if action.get("cwd") is None:
            action.pop("cwd", None)
    return actions


def _arguments(action: Any) -> Mapping[str, Any]:
    if isinstance(action, Mapping):
        return action
    dump = getattr(action, "model_dump", None)
    if callable(dump):
        dumped = dump(mode="json", exclude_none=True)
        if isinstance(dumped, Mapping):
            return dumped
    raise UnjudgeableCall("the event carries no tool arguments Corral can read")


# -- levels ---------------------------------------------------------------------------------


def model_rating(value: Any) -> str | None:
    """The model's rating as LOW/MEDIUM/HIGH, or None (absent, UNKNOWN, unreadable)."""
    text = str(getattr(value, "value", value) or "").strip().upper()
    return text if text in RISK_ORDER else None


def combined_risk(decision: DecisionDict, model_risk: str | None) -> str:
    """Corral's level for the verdict, raised (never lowered) by the model's own rating."""
    corral = VERDICT_RISK[verdict_of(decision)]
    if model_risk is None:
        return corral
    return max(corral, model_risk, key=RISK_ORDER.index)


class OpenHandsRiskJudge:
    """Judges OpenHands action events with one guard; failing to judge is ``HIGH``."""

    def __init__(
        self,
        guard: Guard | None = None,
        *,
        policy: str | Path = "default",
        workspace: Sequence[str] | None = None,
        session: str | None = None,
        cwd: str | None = None,
        task: str | None = None,
    ) -> None:
        if guard is None:
            from corral.integrations.guard_factory import make_guard  # noqa: PLC0415 - lazy

            guard = make_guard(policy, workspace)
        self.guard = guard
        self.session = session
        self.cwd = cwd
        self.task = task

    def risk(self, event: OpenHandsActionEvent) -> str:
        """``LOW``, ``MEDIUM`` or ``HIGH``: pass it to the SDK's ``SecurityRisk``."""
        return self.analyze(event).risk

    def analyze(self, event: OpenHandsActionEvent) -> RiskAnswer:
        model_risk = model_rating(getattr(event, "security_risk", None))
        decision = self._decide(event)
        return RiskAnswer(combined_risk(decision, model_risk), decision, model_risk)

    def _decide(self, event: OpenHandsActionEvent) -> DecisionDict:
        tool_name = getattr(event, "tool_name", None)
        try:
            if not isinstance(tool_name, str) or not tool_name:
                raise UnjudgeableCall("the event names no tool")
            actions = tool_call_actions(tool_name, _arguments(event.action), self.cwd)
            return strictest([self.guard.decide(self._with_context(a)).to_dict() for a in actions])
        except UnjudgeableCall as exc:
            return self.guard.reject(str(exc)).to_dict()
        except Exception as exc:  # fail closed: an action Corral could not judge is HIGH
            return self.guard.internal_error(None, exc).to_dict()

    def _with_context(self, action: Action) -> Action:
        action["agent"] = AGENT_NAME
        if self.session is not None:
            action["session"] = self.session
        if self.task is not None:
            action["task"] = self.task
        return action

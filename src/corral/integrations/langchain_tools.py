"""LangChain / LangGraph tools that Corral judges before they run (needs ``langchain-core``).

::

    from corral.integrations.langchain_tools import guard_tool

    safe_shell = guard_tool(shell_tool, policy="default")
    agent = create_react_agent(model, [safe_shell])   # or ToolNode([safe_shell]), .bind_tools

The wrapper keeps the tool's name, description and argument schema, so a model sees the same
tool. A call is a ``tool`` action (name and arguments), which the guard maps to what it really
is (``terminal(commands=...)`` is a shell, ``read_file(file_path=...)`` a file read). A blocked
call raises :class:`langchain_core.tools.ToolException` with the reason; by default LangChain
turns that into the tool's answer (an error ``ToolMessage`` in tool-calling agents) so the model
learns why, and with ``raise_on_block=True`` it propagates and stops the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, ToolException
from pydantic import ConfigDict

from corral.engine.guard import Guard
from corral.integrations.combine import describe
from corral.integrations.guard_factory import make_guard


class GuardedTool(BaseTool):
    """A LangChain tool that asks Corral before it calls the tool it wraps."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: BaseTool
    guard: Guard
    session: str | None = None

    def _action(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        arguments = dict(kwargs) if kwargs else {"input": args[0] if len(args) == 1 else list(args)}
        action: dict[str, Any] = {
            "kind": "tool",
            "name": self.inner.name,
            "args": arguments,
            "agent": "langchain",
        }
        if self.session is not None:
            action["session"] = self.session
        return action

    def _check(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            decision = self.guard.decide(self._action(args, kwargs)).to_dict()
        except Exception as exc:  # fail closed: a call that cannot be judged does not run
            raise ToolException(f"Corral blocked: the call could not be judged ({exc})") from exc
        if decision["decision"] != "allow":
            raise ToolException(describe(decision))

    @staticmethod
    def _input(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return dict(kwargs) if kwargs else args[0]

    def _run(
        self, *args: Any, run_manager: CallbackManagerForToolRun | None = None, **kwargs: Any
    ) -> Any:
        self._check(args, kwargs)
        config: RunnableConfig = {"callbacks": run_manager.get_child()} if run_manager else {}
        return self.inner.invoke(self._input(args, kwargs), config)

    async def _arun(
        self,
        *args: Any,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
        **kwargs: Any,
    ) -> Any:
        self._check(args, kwargs)
        config: RunnableConfig = {"callbacks": run_manager.get_child()} if run_manager else {}
        return await self.inner.ainvoke(self._input(args, kwargs), config)


def guard_tool(
    tool: BaseTool,
    *,
    guard: Guard | None = None,
    policy: str | Path = "default",
    workspace: Sequence[str] | None = None,
    session: str | None = None,
    raise_on_block: bool = False,
) -> GuardedTool:
    """``tool`` judged by Corral before every call (see the module docs)."""
    return GuardedTool(
        name=tool.name,
        description=tool.description,
        args_schema=tool.args_schema,
        return_direct=tool.return_direct,
        inner=tool,
        guard=guard if guard is not None else make_guard(policy, workspace),
        session=session,
        handle_tool_error=not raise_on_block,
    )


def guard_tools(tools: Sequence[BaseTool], **options: Any) -> list[GuardedTool]:
    """Every tool in ``tools`` guarded by one guard (built once)."""
    guard = options.pop("guard", None)
    if guard is None:
        guard = make_guard(options.pop("policy", "default"), options.pop("workspace", None))
    return [guard_tool(tool, guard=guard, **options) for tool in tools]

"""An adapter for verl's tools: judge ``BaseTool.execute`` and put the penalty in its reward.

verl (``verl.tools.base_tool.BaseTool``) runs a tool call in a rollout as::

    response, tool_reward_score, metrics = await tool.execute(instance_id, parameters, **kwargs)

where ``response`` is a ``ToolResponse`` with ``text``. :class:`GuardedTool` wraps any object
with that method: a blocked call returns a response explaining the block (the tool never runs),
``-penalty`` as ``tool_reward_score`` and the step record in ``metrics["corral"]``; an allowed
call runs and its own reward has the (usually zero) penalty subtracted.

verl itself pulls in torch, Ray and transformers, so Corral does not depend on it: the adapter
uses only the method shape above, and builds verl's own ``ToolResponse`` when verl is installed.

The episode is ``kwargs["agent_data"].request_id`` (what verl's tool agent loop passes), else
``kwargs["episode"]``, else the instance id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from corral.rl.rollout import RolloutGuard


class ToolLike(Protocol):
    """The part of verl's ``BaseTool`` the adapter needs."""

    name: str

    async def execute(
        self, instance_id: str, parameters: dict[str, Any], **kwargs: Any
    ) -> tuple[Any, float, dict[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class TextResponse:
    """Stands in for ``verl.tools.schemas.ToolResponse`` when verl is not installed."""

    text: str
    image: Any = None
    video: Any = None


def text_response(text: str) -> Any:
    try:
        from verl.tools.schemas import ToolResponse  # type: ignore[import-not-found]  # noqa: PLC0415
    except ImportError:
        return TextResponse(text)
    return ToolResponse(text=text)


def episode_of(instance_id: str, kwargs: dict[str, Any]) -> str:
    agent_data = kwargs.get("agent_data")
    request_id = getattr(agent_data, "request_id", None)
    if isinstance(request_id, str) and request_id:
        return request_id
    episode = kwargs.get("episode")
    return episode if isinstance(episode, str) and episode else instance_id


class GuardedTool:
    """``tool`` with every ``execute`` judged first; everything else is the tool's own."""

    def __init__(self, tool: ToolLike, judge: RolloutGuard) -> None:
        self.tool = tool
        self.judge = judge
        self.name = tool.name

    async def execute(
        self, instance_id: str, parameters: dict[str, Any], **kwargs: Any
    ) -> tuple[Any, float, dict[str, Any]]:
        episode = episode_of(instance_id, kwargs)
        args = parameters if isinstance(parameters, dict) else {"parameters": parameters}
        judgement = self.judge.judge(episode, {"kind": "tool", "name": self.name, "args": args})
        metrics = {"corral": judgement.record.to_dict()}
        if not judgement.allowed:
            return text_response(judgement.observation()), -judgement.penalty, metrics
        response, reward, tool_metrics = await self.tool.execute(instance_id, parameters, **kwargs)
        return response, float(reward) - judgement.penalty, {**(tool_metrics or {}), **metrics}

    def __getattr__(self, name: str) -> Any:  # create, release, calc_reward, tool_schema ...
        if name == "tool":
            raise AttributeError(name)
        return getattr(self.tool, name)

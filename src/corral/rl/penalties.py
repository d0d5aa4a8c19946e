"""What a judged step costs in reward, and what an episode comes to, as plain data.

Records are plain dicts (and JSON Lines) so that any trainer can read them: a reward function
adds ``penalty`` to the step's reward, or reads the episode verdict after the rollout.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from corral.integrations.combine import DecisionDict, verdict_of

SEVERITIES = ("info", "low", "medium", "high", "critical")


@dataclass(frozen=True, slots=True)
class PenaltyScale:
    """Reward taken away per step, by the decision's severity; ``ask`` costs ``ask_factor`` of it.

    The defaults are small next to a typical task reward of 1.0 for low-severity matches and
    equal to it for critical ones, so a policy cannot buy a critical action with task success.
    """

    by_severity: Mapping[str, float] = field(
        default_factory=lambda: {
            "info": 0.0,
            "low": 0.05,
            "medium": 0.2,
            "high": 0.5,
            "critical": 1.0,
        }
    )
    ask_factor: float = 0.5
    allowed_factor: float = 0.0  # allowed steps that still matched a rule cost nothing by default

    def penalty(self, decision: DecisionDict) -> float:
        base = self.by_severity.get(str(decision.get("severity")), 1.0)
        factor = {"deny": 1.0, "ask": self.ask_factor}.get(
            verdict_of(decision), self.allowed_factor
        )
        return round(base * factor, 6)


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One judged step: what it was, what Corral decided, and what it costs."""

    episode: str
    step: int
    decision: str
    severity: str
    rules: list[str]
    attack: list[str]
    reason: str
    penalty: float
    executed: bool
    action: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def step_record(
    episode: str, step: int, decision: DecisionDict, action: dict[str, Any], scale: PenaltyScale
) -> StepRecord:
    rules = [r for r in decision.get("rules") or [] if isinstance(r, dict)]
    verdict = verdict_of(decision)
    return StepRecord(
        episode=episode,
        step=step,
        decision=verdict,
        severity=str(decision.get("severity", "critical")),
        rules=[str(r.get("id")) for r in rules],
        attack=sorted({str(t) for r in rules for t in r.get("attack") or []}),
        reason=str(decision.get("reason") or ""),
        penalty=scale.penalty(decision),
        executed=verdict == "allow",
        action=action,
    )


@dataclass(frozen=True, slots=True)
class EpisodeVerdict:
    """The whole episode: ``clean`` (nothing matched), ``flagged`` (rules matched but every step
    ran) or ``blocked`` (at least one step was stopped)."""

    episode: str
    verdict: str
    steps: int
    blocked_steps: list[int]
    worst_severity: str
    total_penalty: float
    rules: dict[str, int]
    attack: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def episode_verdict(episode: str, records: Iterable[StepRecord]) -> EpisodeVerdict:
    steps = list(records)
    matched = [r for r in steps if r.rules or not r.executed]
    blocked = [r.step for r in steps if not r.executed]
    worst = max(
        (SEVERITIES.index(r.severity) for r in matched if r.severity in SEVERITIES), default=0
    )
    verdict = "blocked" if blocked else "flagged" if any(r.rules for r in steps) else "clean"
    return EpisodeVerdict(
        episode=episode,
        verdict=verdict,
        steps=len(steps),
        blocked_steps=blocked,
        worst_severity=SEVERITIES[worst],
        total_penalty=round(sum(r.penalty for r in steps), 6),
        rules=dict(Counter(rule for r in steps for rule in r.rules)),
        attack=sorted({t for r in steps for t in r.attack}),
    )


def write_jsonl(records: Iterable[StepRecord | EpisodeVerdict], out: IO[str] | Path) -> int:
    """Write records as JSON Lines (``record`` says which kind); returns how many were written."""
    lines = [_line(record) for record in records]
    if isinstance(out, Path):
        with out.open("a", encoding="utf-8") as stream:
            stream.writelines(lines)
    else:
        out.writelines(lines)
    return len(lines)


def _line(record: StepRecord | EpisodeVerdict) -> str:
    kind = "step" if isinstance(record, StepRecord) else "episode"
    return json.dumps({"record": kind, **record.to_dict()}, default=str, ensure_ascii=False) + "\n"

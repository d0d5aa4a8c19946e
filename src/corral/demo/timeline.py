"""The demo's closing report: a merged timeline (agent and Corral) and a per-step summary."""

from __future__ import annotations

from corral.supervision.events import Event
from corral.supervision.supervisor import Outcome

FENCE_SIGNS = {
    "No such file or directory": "hidden by the filesystem view",
    "Network is unreachable": "no route out of the network namespace",
    "Connection refused": "nothing reachable from the agent's network",
    "Read-only file system": "read-only in the filesystem view",
    "No such process": "not visible from the pid namespace",
    "Permission denied": "refused by the fence",
}


def seen_lines(step: dict[str, object]) -> list[str]:
    seen = step.get("seen")
    return [str(line) for line in seen] if isinstance(seen, list) else []


def _enforced(event: Event) -> bool:
    return event.step is not None


def _step_events(outcome: Outcome, step: dict[str, object], until: float) -> list[Event]:
    """Corral's responses from this step's start to the next step's (an event may be stamped a
    moment after the agent saw its effect)."""
    start = float(str(step.get("start", 0)))
    return [e for e in outcome.events if _enforced(e) and start <= e.wall < until]


def outcome_end_wall(outcome: Outcome) -> float:
    return max((e.wall for e in outcome.events), default=0.0)


def _how(step: dict[str, object], events: list[Event]) -> tuple[str, str]:
    """(how it was contained, how fast)."""
    hows, speeds = [], []
    stopped: dict[str, None] = {}
    refused: dict[str, None] = {}
    for event in events:
        ids = [r.id for r in event.decision.rules[:2]] if event.decision else []
        rules = ", ".join(ids)
        if event.step == "stop":
            stopped.update(dict.fromkeys(ids))
            if event.latency_ms is not None:
                speeds.append(f"{event.latency_ms:.1f} ms after exec")
        elif event.step == "refuse":
            refused.update(dict.fromkeys(ids))
        elif event.step is not None:
            hows.append(f"{event.step} whole agent ({rules})")
            if event.latency_ms is not None:
                speeds.append(f"{event.latency_ms / 1000:.2f} s after start")
    if stopped:
        hows.insert(0, f"exec stopped ({', '.join(stopped)})")
    if refused:
        hows.append(f"connection refused by the egress proxy ({', '.join(refused)})")
    seen = " ".join(seen_lines(step))
    for sign, meaning in FENCE_SIGNS.items():
        if sign in seen and meaning not in hows:
            hows.append(meaning)
    if "end" not in step and not hows:
        hows.append("agent killed during this step")
    return "; ".join(dict.fromkeys(hows)) or "allowed", ", ".join(speeds) or "-"


def render(outcome: Outcome, steps: list[dict[str, object]], facts: list[str]) -> str:
    t0 = min([float(str(s.get("start", 0))) for s in steps] or [0.0]) or outcome_end_wall(outcome)
    rows: list[tuple[float, str]] = []
    for step in steps:
        rows.append(
            (float(str(step.get("start", 0))), f"agent   step {step['step']}: {step['title']}")
        )
        for seen in seen_lines(step):
            rows.append(
                (float(str(step.get("end", step.get("start", 0)))), f"agent     saw: {seen}")
            )
    for event in outcome.events:
        if event.step is not None:
            latency = f" [{event.latency_ms:.1f} ms]" if event.latency_ms is not None else ""
            rows.append(
                (event.wall, f"corral  {event.step.upper():<8} {event.summary[:100]}{latency}")
            )
    lines = ["TIMELINE (seconds since the agent's first step)"]
    for wall, text in sorted(rows, key=lambda r: r[0]):
        lines.append(f"  +{max(0.0, wall - t0):7.3f}s  {text}")
    lines += ["", "SUMMARY"]
    width = max((len(str(s.get("title", ""))) for s in steps), default=20)
    starts = [float(str(s.get("start", 0))) for s in steps[1:]] + [float("inf")]
    for step, until in zip(steps, starts, strict=True):
        how, fast = _how(step, _step_events(outcome, step, until))
        lines.append(f"  {step['step']}. {step['title']!s:<{width}}  {how}  [{fast}]")
    if outcome.killed_by:
        lines.append(f"  the whole agent was killed: {outcome.killed_by[:150]}")
    lines += [f"  {fact}" for fact in facts]
    return "\n".join(lines)

"""The risk summary at the end of a report, the one line ``corral run`` prints at start, and the
comparison of a report taken outside the fence with one taken inside it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from corral.audit.model import CATEGORY_TITLES, SEVERITIES, SEVERITY_RANK, Finding, sort_findings

if TYPE_CHECKING:
    from corral.audit.model import Report

_VERDICTS = {
    "critical": "do not start an agent here until the critical findings are fixed",
    "high": "an agent here could take credentials or escalate: fix the high findings first",
    "medium": "usable with a fence: run the agent under corral run with the suggested policy",
    "low": "little to worry about",
    "info": "nothing found that the agent could abuse",
}


@dataclass(slots=True)
class RiskSummary:
    level: str
    counts: dict[str, int]
    by_category: dict[str, int]
    could_not_check: int
    top: list[Finding] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return _VERDICTS[self.level]

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "verdict": self.verdict,
            "counts": self.counts,
            "by_category": self.by_category,
            "could_not_check": self.could_not_check,
            "top": [
                {"id": f.id, "severity": f.severity, "evidence": list(f.evidence)} for f in self.top
            ],
        }


def risk_summary(report: Report) -> RiskSummary:
    risks = report.risks
    counts = Counter(f.severity for f in risks)
    level = max((f.severity for f in risks), key=SEVERITY_RANK.__getitem__, default="info")
    by_category = Counter(f.category for f in risks)
    return RiskSummary(
        level=level,
        counts={s: counts.get(s, 0) for s in reversed(SEVERITIES)},
        by_category={c: by_category[c] for c in CATEGORY_TITLES if by_category.get(c)},
        could_not_check=len(report.errors),
        top=[f for f in risks if SEVERITY_RANK[f.severity] >= SEVERITY_RANK["high"]][:5],
    )


def report_json(report: Report) -> dict[str, Any]:
    """The JSON form of a report: meta, findings (worst first) and the risk summary."""
    return {**report.to_dict(), "summary": risk_summary(report).to_dict()}


def summary_line(report: Report) -> str:
    """One line for the start of ``corral run``: counts, the worst finding, and the verdict."""
    summary = risk_summary(report)
    shown = [f"{n} {s}" for s, n in summary.counts.items() if n and s != "info"]
    where = " inside the fence" if report.meta.inside_sandbox else ""
    line = f"corral audit{where}: " + (", ".join(shown) if shown else "no risks found")
    risks = report.risks
    if risks and SEVERITY_RANK[risks[0].severity] >= SEVERITY_RANK["medium"]:
        worst = risks[0]
        evidence = worst.evidence[0] if worst.evidence else ""
        line += f"; worst: {worst.id} {worst.title.lower()} ({evidence})"
    if summary.could_not_check:
        line += f"; {summary.could_not_check} item(s) could not be checked"
    return line


@dataclass(slots=True)
class Comparison:
    """What the fence removed (``fenced``), what it left (``remaining``), and anything that only
    shows up inside it (``new``)."""

    fenced: list[Finding]
    remaining: list[Finding]
    new: list[Finding]

    @property
    def clean(self) -> bool:
        """Inside the fence nothing of medium severity or worse remains."""
        return not any(
            SEVERITY_RANK[f.severity] >= SEVERITY_RANK["medium"] for f in self.remaining + self.new
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "clean": self.clean,
            "fenced": [f.to_dict() for f in self.fenced],
            "remaining": [f.to_dict() for f in self.remaining],
            "new": [f.to_dict() for f in self.new],
        }


def compare(outside: Report, inside: Report) -> Comparison:
    inner = {f.key for f in inside.risks}
    outer = {f.key for f in outside.risks}
    return Comparison(
        fenced=sort_findings([f for f in outside.risks if f.key not in inner]),
        remaining=sort_findings([f for f in inside.risks if f.key in outer]),
        new=sort_findings([f for f in inside.risks if f.key not in outer]),
    )

"""What an audit produces: findings (one risk, with evidence and a fix) and the report around them.

A finding names *where* something is (a path, a variable name, a socket, a route) and what kind of
thing it is, never its content: a report is meant to be pasted into tickets and dashboards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, cast

Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "low", "medium", "high", "critical")
SEVERITY_RANK: dict[str, int] = {name: rank for rank, name in enumerate(SEVERITIES)}

Category = Literal["credentials", "services", "privilege", "compute", "corral", "audit"]
CATEGORY_TITLES: dict[str, str] = {
    "credentials": "Credentials",
    "services": "Reachable services",
    "privilege": "Privilege",
    "compute": "Compute and money",
    "corral": "Corral itself",
    "audit": "Checks that could not run",
}

# The id every "could not check X: why" finding carries.
COULD_NOT_CHECK = "CR-AUD-099"


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the agent could do, with the evidence that shows it."""

    id: str
    check: str
    category: str
    severity: Severity
    title: str
    evidence: tuple[str, ...]
    attack: tuple[str, ...]
    fix: str
    detail: str = ""

    @property
    def key(self) -> tuple[str, tuple[str, ...]]:
        """Identity across two reports (outside and inside the fence)."""
        return (self.id, self.evidence)

    @property
    def is_error(self) -> bool:
        return self.id == COULD_NOT_CHECK

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "check": self.check,
            "category": self.category,
            "severity": self.severity,
            "title": self.title,
            "evidence": list(self.evidence),
            "attack": list(self.attack),
            "fix": self.fix,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        severity = str(data["severity"])
        if severity not in SEVERITY_RANK:
            raise ValueError(f"unknown severity {severity!r}")
        return cls(
            id=str(data["id"]),
            check=str(data["check"]),
            category=str(data["category"]),
            severity=cast(Severity, severity),
            title=str(data["title"]),
            evidence=tuple(str(e) for e in data.get("evidence", ())),
            attack=tuple(str(a) for a in data.get("attack", ())),
            fix=str(data.get("fix", "")),
            detail=str(data.get("detail", "")),
        )


@dataclass(slots=True)
class ReportMeta:
    """Who and where the audit looked from."""

    user: str
    uid: int
    gid: int
    home: str
    hostname: str
    started: str
    duration_s: float = 0.0
    inside_sandbox: bool = False
    as_user: str | None = None
    policy: str = "default"
    checks: list[str] = field(default_factory=list)
    version: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "uid": self.uid,
            "gid": self.gid,
            "home": self.home,
            "hostname": self.hostname,
            "started": self.started,
            "duration_s": round(self.duration_s, 3),
            "inside_sandbox": self.inside_sandbox,
            "as_user": self.as_user,
            "policy": self.policy,
            "checks": list(self.checks),
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReportMeta:
        as_user = data.get("as_user")
        return cls(
            user=str(data["user"]),
            uid=int(data["uid"]),
            gid=int(data["gid"]),
            home=str(data["home"]),
            hostname=str(data["hostname"]),
            started=str(data["started"]),
            duration_s=float(data.get("duration_s", 0.0)),
            inside_sandbox=bool(data.get("inside_sandbox", False)),
            as_user=None if as_user is None else str(as_user),
            policy=str(data.get("policy", "default")),
            checks=[str(c) for c in data.get("checks", [])],
            version=str(data.get("version", "")),
        )


@dataclass(slots=True)
class Report:
    meta: ReportMeta
    findings: list[Finding]

    @property
    def risks(self) -> list[Finding]:
        """Findings that are risks (not the checks that could not run), worst first."""
        return sort_findings([f for f in self.findings if not f.is_error])

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]

    def to_dict(self) -> dict[str, Any]:
        """Meta and findings; :func:`corral.audit.summary.report_json` adds the risk summary."""
        return {
            "meta": self.meta.to_dict(),
            "findings": [f.to_dict() for f in sort_findings(self.findings)],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        return cls(
            meta=ReportMeta.from_dict(data["meta"]),
            findings=[Finding.from_dict(f) for f in data.get("findings", [])],
        )


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Worst first, then by id and evidence, so reports diff cleanly."""
    return sorted(findings, key=lambda f: (-SEVERITY_RANK[f.severity], f.id, f.evidence))

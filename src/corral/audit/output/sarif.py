"""SARIF 2.1.0 for code-scanning dashboards: one rule per finding kind, one result per finding.

Checks that could not run are tool execution notifications, not results: they are not risks.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from corral.audit.catalog import KINDS, Kind
from corral.audit.model import COULD_NOT_CHECK, Finding, Report, sort_findings

_FILE_LINE = re.compile(r"(/.*):([0-9]+)")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub code scanning reads this property to rank security results (0.0-10.0).
_SECURITY_SEVERITY = {
    "critical": "9.5",
    "high": "8.0",
    "medium": "5.5",
    "low": "3.0",
    "info": "0.0",
}


def to_sarif(report: Report) -> dict[str, Any]:
    kinds = [k for k in KINDS.values() if k.id != COULD_NOT_CHECK]
    index = {k.id: i for i, k in enumerate(kinds)}
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "corral-audit",
                        "semanticVersion": report.meta.version or "0.0.0",
                        "rules": [_rule(k) for k in kinds],
                    }
                },
                "invocations": [_invocation(report)],
                "results": [_result(f, index[f.id]) for f in sort_findings(report.risks)],
                "properties": {"meta": report.meta.to_dict()},
            }
        ],
    }


def _rule(kind: Kind) -> dict[str, Any]:
    return {
        "id": kind.id,
        "name": "".join(w.capitalize() for w in kind.title.replace("-", " ").split()),
        "shortDescription": {"text": kind.title},
        "fullDescription": {"text": f"{kind.title} (area: {kind.category})."},
        "help": {"text": kind.fix},
        "defaultConfiguration": {"level": _LEVELS[kind.severity]},
        "properties": {
            "tags": ["security", kind.category, *kind.attack],
            "security-severity": _SECURITY_SEVERITY[kind.severity],
        },
    }


def _invocation(report: Report) -> dict[str, Any]:
    return {
        "executionSuccessful": True,
        "toolExecutionNotifications": [
            {"level": "warning", "message": {"text": f.title}} for f in report.errors
        ],
    }


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    text = finding.title + (f": {finding.detail}" if finding.detail else "")
    if finding.evidence:
        text += f" ({', '.join(finding.evidence)})"
    fingerprint = hashlib.sha256("\0".join((finding.id, *finding.evidence)).encode()).hexdigest()
    return {
        "ruleId": finding.id,
        "ruleIndex": rule_index,
        "level": _LEVELS[finding.severity],
        "message": {"text": text},
        "locations": [_location(e) for e in finding.evidence] or [_location(finding.check)],
        "partialFingerprints": {"corralAudit/v1": fingerprint},
        "properties": {
            "severity": finding.severity,
            "security-severity": _SECURITY_SEVERITY[finding.severity],
            "attack": list(finding.attack),
            "fix": finding.fix,
            "check": finding.check,
        },
    }


def _location(evidence: str) -> dict[str, Any]:
    if evidence.startswith("/"):
        match = _FILE_LINE.fullmatch(evidence)
        path, line = (match.group(1), int(match.group(2))) if match else (evidence, None)
        physical: dict[str, Any] = {"artifactLocation": {"uri": Path(path).as_uri()}}
        if line is not None:
            physical["region"] = {"startLine": line}
        return {"physicalLocation": physical}
    kind = "variable" if evidence.startswith("env:") else "resource"
    return {"logicalLocations": [{"name": evidence, "kind": kind}]}

"""The suggested policy: ``extends: default`` plus a fence around exactly what the audit found.

Found credential files and the places someone else executes from become ``protected`` paths, the
tools that use a found socket or credential go on ``programs.deny``, and services found on
loopback turn ``egress.loopback`` off. The file carries its own ``tests:``, so
``corral policy test FILE`` proves the fence holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from corral.audit.model import Report
from corral.audit.output import printable

# Finding kinds whose path evidence becomes a protected path.
_PROTECT = {
    "CR-AUD-003",
    "CR-AUD-004",
    "CR-AUD-005",
    "CR-AUD-006",
    "CR-AUD-007",
    "CR-AUD-008",
    "CR-AUD-009",
    "CR-AUD-010",
    "CR-AUD-012",
    "CR-AUD-013",
    "CR-AUD-033",
    "CR-AUD-037",
    "CR-AUD-038",
    "CR-AUD-039",
    "CR-AUD-040",
    "CR-AUD-053",
    "CR-AUD-060",
    "CR-AUD-062",
    "CR-AUD-064",
}
# Programs that use what a finding found.
_PROGRAMS_BY_KIND = {
    "CR-AUD-004": ("kubectl", "helm"),
    "CR-AUD-005": ("kubectl", "helm"),
    "CR-AUD-021": ("docker", "podman", "nerdctl", "ctr", "crictl", "buildctl"),
    "CR-AUD-022": ("kubectl", "helm"),
    "CR-AUD-024": ("ssh-add",),
}
_PROGRAMS_BY_PATH = (
    ("/.aws/", ("aws",)),
    ("/gcloud/", ("gcloud", "gsutil", "bq")),
    ("/.azure/", ("az",)),
    ("/.oci/", ("oci",)),
    ("/doctl/", ("doctl",)),
    ("/hcloud/", ("hcloud",)),
    ("/.terraform.d/", ("terraform",)),
    ("/.vault-token", ("vault",)),
    ("/stripe/", ("stripe",)),
)
_FILE_LINE = re.compile(r"^(/.+):\d+$")


@dataclass(slots=True)
class Fence:
    protected: dict[str, str] = field(default_factory=dict)  # path -> why
    programs: dict[str, str] = field(default_factory=dict)  # program -> why
    loopback_services: dict[str, str] = field(default_factory=dict)  # url -> why
    metadata: dict[str, str] = field(default_factory=dict)  # url -> why


def fence_for(report: Report) -> Fence:
    fence = Fence()
    for finding in report.risks:
        why = f"{finding.id} {finding.title}"
        for evidence in finding.evidence:
            path = _path_of(evidence)
            if finding.id in _PROTECT and path is not None:
                fence.protected.setdefault(path, why)
                for marker, programs in _PROGRAMS_BY_PATH:
                    if marker in path:
                        for program in programs:
                            fence.programs.setdefault(program, why)
            if finding.id == "CR-AUD-023" and evidence.startswith("tcp://"):
                fence.loopback_services.setdefault(evidence, why)
            if finding.id == "CR-AUD-020" and evidence.startswith("http"):
                fence.metadata.setdefault(evidence, why)
        for program in _PROGRAMS_BY_KIND.get(finding.id, ()):
            fence.programs.setdefault(program, why)
    return fence


def _path_of(evidence: str) -> str | None:
    match = _FILE_LINE.match(evidence)
    if match is not None:
        return match.group(1)
    return evidence if evidence.startswith("/") else None


def _on_loopback(url: str) -> bool:
    host = re.sub(r"^[a-z]+://\[?([^\]/]*?)\]?(:\d+)?(/.*)?$", r"\1", url)
    return host in ("localhost", "::1") or host.startswith("127.")


def suggested_policy(report: Report, name: str | None = None) -> dict[str, Any]:
    fence = fence_for(report)
    loopback_hits = [*fence.loopback_services, *(u for u in fence.metadata if _on_loopback(u))]
    policy: dict[str, Any] = {
        "name": name or f"audited-{report.meta.hostname}"[:100],
        "description": (
            f"default, plus a fence around what corral audit found on {report.meta.hostname} "
            f"for user {report.meta.user} ({report.meta.started})"
        ),
        "extends": "default",
        "protected": sorted(fence.protected),
        "programs": {"deny": sorted(fence.programs)},
        "privilege": "deny",
        "spend": {"budget": 0},
        "tests": _tests(fence, loopback_hits),
    }
    if loopback_hits:
        policy["egress"] = {"loopback": False}
    return policy


def _tests(fence: Fence, loopback_hits: list[str]) -> list[dict[str, Any]]:
    tests: list[dict[str, Any]] = []
    for path in sorted(fence.protected):
        tests.append(
            {
                "name": f"protected: {printable(path)}",
                "action": {"kind": "file", "op": "write", "path": path, "content": "x"},
                "expect": "deny",
            }
        )
    for program in sorted(fence.programs):
        tests.append(
            {
                "name": f"denied program: {program}",
                "action": {"kind": "exec", "argv": [program, "--version"]},
                "expect": "deny",
                "rules": ["CR-POL-005"],
            }
        )
    for url in sorted(fence.metadata):
        tests.append(
            {
                "name": f"metadata stays closed: {url}",
                "action": {"kind": "http", "method": "GET", "url": url},
                "expect": "deny",
            }
        )
    for target in sorted(set(loopback_hits) - set(fence.metadata)):
        host, _, port = target.removeprefix("tcp://").rpartition(":")
        tests.append(
            {
                "name": f"loopback service closed: {target}",
                "action": {"kind": "net", "host": host.strip("[]"), "port": int(port)},
                "expect": "deny",
            }
        )
    return tests


def policy_yaml(report: Report, name: str | None = None) -> str:
    """The suggested policy as YAML, with a comment saying why each entry is there."""
    policy = suggested_policy(report, name)
    fence = fence_for(report)
    lines = [
        "# Suggested by `corral audit --write-policy`: the default policy plus a fence around",
        "# what the audit found. Check it with `corral policy test FILE`, then run the agent",
        "# with `corral run --policy FILE`.",
        "#",
    ]
    for label, entries in (
        ("protected", fence.protected),
        ("programs.deny", fence.programs),
        ("closed on loopback", fence.loopback_services),
        ("metadata", fence.metadata),
    ):
        for item, why in sorted(entries.items()):
            lines.append(f"# {label}: {_comment(item)} <- {_comment(why)}")
    if "egress" in policy:
        lines.append("# egress.loopback is off: services were found listening on loopback.")
    body = yaml.safe_dump(policy, sort_keys=False, default_flow_style=False, allow_unicode=False)
    return "\n".join(lines) + "\n" + body


def _comment(text: str) -> str:
    """One line of comment: no newlines or control characters from evidence."""
    return printable(text).replace("\n", " ")


def write_policy(report: Report, path: Path, name: str | None = None) -> None:
    path.write_text(policy_yaml(report, name), encoding="utf-8")

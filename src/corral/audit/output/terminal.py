"""The default output: one rich table per group of checks, then the risk summary.

Every cell is a ``rich.text.Text`` built from plain strings, never console markup: evidence such
as a variable named ``[bold]x`` must print as written.
"""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from corral.audit.model import CATEGORY_TITLES, Finding, Report, sort_findings
from corral.audit.output import printable
from corral.audit.summary import Comparison, risk_summary

SEVERITY_STYLES = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}


def render(report: Report, console: Console) -> None:
    meta = report.meta
    header = (
        f"corral audit of {meta.hostname} as {meta.user} (uid {meta.uid}, gid {meta.gid})"
        + (" — inside the fence" if meta.inside_sandbox else "")
        + f"; {len(meta.checks)} checks in {meta.duration_s:.2f} s"
    )
    console.print(Text(printable(header), style="bold"))
    for category, title in CATEGORY_TITLES.items():
        findings = sort_findings([f for f in report.findings if f.category == category])
        if findings:
            console.print(_table(title, findings, console.width))
    console.print(summary_panel(report))


_WIDE = 140  # below this many columns the fix goes under the finding instead of its own column


def _table(title: str, findings: list[Finding], width: int) -> Table:
    wide = width >= _WIDE
    table = Table(title=title, title_justify="left", show_lines=True, expand=True)
    table.add_column("Severity", no_wrap=True)
    table.add_column("Id", no_wrap=True)
    table.add_column("Finding", ratio=3)
    table.add_column("Evidence", ratio=3, overflow="fold")
    table.add_column("ATT&CK", no_wrap=True)
    if wide:
        table.add_column("Fix", ratio=3)
    for finding in findings:
        what = Text(printable(finding.title), style="bold")
        if finding.detail:
            what.append("\n" + printable(finding.detail), style="dim")
        if not wide and not finding.is_error:
            what.append("\nFix: " + printable(finding.fix), style="green")
        cells = [
            Text(finding.severity, style=SEVERITY_STYLES[finding.severity]),
            Text(finding.id),
            what,
            Text("\n".join(printable(e) for e in finding.evidence)),
            Text("\n".join(finding.attack)),
        ]
        if wide:
            cells.append(Text(printable(finding.fix)))
        table.add_row(*cells)
    return table


def summary_panel(report: Report) -> Panel:
    summary = risk_summary(report)
    lines = [
        Text.assemble(
            ("Risk: ", "bold"),
            (summary.level.upper(), SEVERITY_STYLES[summary.level]),
            f" — {summary.verdict}",
        ),
        Text(
            "Findings: "
            + ", ".join(f"{n} {s}" for s, n in summary.counts.items() if n)
            + (
                f"; {summary.could_not_check} could not be checked"
                if summary.could_not_check
                else ""
            )
            if any(summary.counts.values()) or summary.could_not_check
            else "Findings: none"
        ),
    ]
    if summary.by_category:
        lines.append(
            Text(
                "By area: "
                + ", ".join(
                    f"{CATEGORY_TITLES[c].lower()} {n}" for c, n in summary.by_category.items()
                )
            )
        )
    for finding in summary.top:
        evidence = printable(finding.evidence[0]) if finding.evidence else ""
        lines.append(Text(f"  • {finding.id} {finding.title} — {evidence}"))
    lines.append(Text("Suggested policy: corral audit --write-policy FILE", style="dim"))
    return Panel(Group(*lines), title="Risk summary", title_align="left")


def render_comparison(comparison: Comparison, console: Console) -> None:
    verdict = "clean" if comparison.clean else "NOT clean"
    console.print(Text(f"Inside the fence: {verdict}", style="bold"))
    for label, findings in (
        ("fenced off", comparison.fenced),
        ("still reachable inside", comparison.remaining),
        ("only inside", comparison.new),
    ):
        console.print(Text(f"{label}: {len(findings)}"))
        for finding in findings:
            evidence = printable(", ".join(finding.evidence))
            console.print(Text(f"  {finding.severity:8} {finding.id} {finding.title} — {evidence}"))

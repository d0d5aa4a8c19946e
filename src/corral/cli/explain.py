"""``corral explain``: why one action gets its decision, for a person (rich) or a program (JSON)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import Any

import click
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from corral.cli.common import EXIT_CANNOT_RUN, make_guard, policy_option, workspace_option
from corral.engine.guard import Explanation

_VERDICT_STYLE = {"allow": "bold green", "ask": "bold yellow", "deny": "bold red"}


def explanation_dict(exp: Explanation) -> dict[str, Any]:
    out: dict[str, Any] = {"decision": exp.decision.to_dict()}
    if exp.analysis is not None:
        out["analysis"] = asdict(exp.analysis)
    if exp.judgement is not None:
        out["findings"] = [
            {
                "id": r.id,
                "title": r.title,
                "severity": r.severity.name,
                "decision": r.decision,
                "attack": list(r.attack),
                "evidence": r.evidence,
                "clause": r.clause or "rule",
            }
            for r in exp.judgement.findings
        ]
        out["exceptions_applied"] = [
            {"rule": rid, "reason": why} for rid, why in exp.judgement.excepted
        ]
    return out


def render(exp: Explanation, console: Console) -> None:
    d = exp.decision
    head = Text.assemble(
        (d.decision.upper(), _VERDICT_STYLE[d.decision]),
        f"  severity {d.severity.name}  policy {d.policy}\n",
        (d.reason, "italic"),
    )
    if d.mode == "monitor":
        head.append(f"\nmonitor mode: would {d.would_decide}", style="yellow")
    console.print(Panel(head, title=f"decision {d.decision_id}", expand=False))
    a = exp.analysis
    if a is not None:
        _facts(a, console)
    if exp.judgement is not None and exp.judgement.findings:
        table = Table(
            "id", "severity", "decides", "why", "clause", title="What matched", title_justify="left"
        )
        for r in exp.judgement.findings:
            table.add_row(
                r.id,
                r.severity.name,
                Text(r.decision, _VERDICT_STYLE[r.decision]),
                f"{r.title}\n{r.evidence}",
                r.clause or "rule",
            )
        console.print(table)
    if exp.judgement is not None:
        for rule_id, why in exp.judgement.excepted:
            console.print(f"exception applied to {rule_id}: {why}")


def _facts(a: Any, console: Console) -> None:
    console.print(
        f"[bold]kind[/bold] {a.kind}"
        + (f" (declared {a.declared_kind})" if a.kind != a.declared_kind else "")
    )
    if a.commands:
        table = Table(
            "program", "argv", "reached via", title="Commands that would run", title_justify="left"
        )
        for c in a.commands:
            table.add_row(c.program, " ".join(c.argv), " → ".join(c.via) or "typed")
        console.print(table)
    sections = (
        ("Network targets", [f"{t.direction} {t.host}:{t.port} ({t.source})" for t in a.targets]),
        ("Files", [f"{f.op} {f.path} ({f.source})" for f in a.files]),
        ("Interpreter code", [f"{c.language}: {c.capability} {c.detail}" for c in a.code]),
        ("Decoded payloads", [f"{p.encoding}: {p.text[:200]}" for p in a.payloads]),
        ("Problems", list(a.problems)),
    )
    for title, rows in sections:
        if rows:
            console.print(f"[bold]{title}[/bold]")
            for row in rows:
                console.print(f"  {row}", markup=False)


@click.command()
@policy_option
@workspace_option
@click.option(
    "--command",
    "-c",
    "command",
    metavar="CMDLINE",
    help="Explain this shell command (an exec action).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@click.argument("action", required=False)
def explain(
    policy: str, workspace: tuple[str, ...], command: str | None, as_json: bool, action: str | None
) -> None:
    """Show the analysis, matching rules and deciding clause for ACTION (JSON; '-' reads stdin)."""
    guard = make_guard(policy, workspace)
    if command is not None:
        raw: Any = {"kind": "exec", "command": command}
    elif action is None or action == "-":
        raw = sys.stdin.read()
    else:
        raw = action
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            click.echo(f"corral: the action is not valid JSON: {exc}", err=True)
            sys.exit(EXIT_CANNOT_RUN)
    exp = guard.explain(raw)
    if as_json:
        click.echo(json.dumps(explanation_dict(exp), indent=2, default=str, ensure_ascii=False))
    else:
        render(exp, Console())

"""``corral rules list|show``: the rule library, as a table or JSON."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.table import Table

from corral.rules.loader import builtin_rules


@click.group()
def rules() -> None:
    """Browse the rule library."""


@rules.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("--category", default=None, help="Only rules of this category.")
def list_rules(as_json: bool, category: str | None) -> None:
    """Every rule with its id, severity, status and ATT&CK techniques."""
    selected = [
        r for r in builtin_rules().rules.values() if category is None or r.spec.category == category
    ]
    if as_json:
        click.echo(
            json.dumps(
                [r.spec.model_dump(exclude={"when", "examples"}) for r in selected], indent=2
            )
        )
        return
    table = Table("id", "severity", "status", "category", "attack", "title")
    for r in selected:
        s = r.spec
        table.add_row(s.id, s.severity, s.status, s.category, ",".join(s.attack), s.title)
    Console().print(table)


@rules.command("show")
@click.argument("rule_id")
def show_rule(rule_id: str) -> None:
    """Everything about RULE_ID: description, known evasions, condition and examples."""
    rule = builtin_rules().rules.get(rule_id.upper())
    if rule is None:
        click.echo(f"corral: no rule {rule_id}; 'corral rules list' shows the ids", err=True)
        sys.exit(2)
    click.echo(
        json.dumps({**rule.spec.model_dump(), "file": rule.file, "line": rule.line}, indent=2)
    )

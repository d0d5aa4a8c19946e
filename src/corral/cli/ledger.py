"""``corral approvals`` and ``corral budget``: the people's side of the wallet and quota ledger."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from corral.cli.common import EXIT_CANNOT_RUN, make_guard, policy_option
from corral.ledger import LEDGER_URL_ENV, Ledger, LedgerError, open_ledger
from corral.ledger.amounts import shown
from corral.ledger.guard import limits_of
from corral.ledger.model import ApprovalState

T = TypeVar("T")

ledger_option = click.option(
    "--ledger",
    "ledger_url",
    envvar=LEDGER_URL_ENV,
    default=None,
    metavar="URL",
    help=f"A SQLite file path or a postgresql:// URL (env {LEDGER_URL_ENV}); default: the "
    "policy's ledger.url, else ledger.sqlite3 in Corral's state directory.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Write JSON.")


def _fail(message: str) -> None:
    click.echo(f"corral: {message}", err=True)
    sys.exit(EXIT_CANNOT_RUN)


def _with_ledger(url: str | None, policy_url: str | None, work: Callable[[Ledger], T]) -> T:
    """Open the ledger, run ``work``, close it; a ledger error is a message, not a traceback."""
    try:
        ledger = open_ledger(url, policy_url=policy_url)
    except LedgerError as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits
    try:
        return work(ledger)
    except LedgerError as exc:
        _fail(str(exc))
        raise
    finally:
        ledger.close()


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@click.group()
def approvals() -> None:
    """Actions waiting for a person: list them, approve or deny them."""


@approvals.command("list")
@ledger_option
@json_option
@click.option("--all", "show_all", is_flag=True, help="Also decided, used and expired ones.")
def list_approvals(ledger_url: str | None, as_json: bool, show_all: bool) -> None:
    """List pending approvals (with --all: every approval)."""
    states: tuple[ApprovalState, ...] | None = None if show_all else ("pending",)
    found = _with_ledger(ledger_url, None, lambda ledger: ledger.approvals(states=states))
    if as_json:
        click.echo(json.dumps([a.to_dict() for a in found], indent=2))
        return
    if not found:
        click.echo("no pending approvals" if not show_all else "no approvals")
        return
    for a in found:
        who = f" by {a.decided_by}: {a.reason}" if a.decided_by else ""
        click.echo(f"{a.id}  {a.state:<8}  until {_when(a.expires_at)}  {a.summary}{who}")


def _decide(
    ledger_url: str | None, approval_id: str, *, approve: bool, by: str, reason: str, valid_for: int
) -> None:
    approval = _with_ledger(
        ledger_url,
        None,
        lambda ledger: ledger.decide(
            approval_id, approve=approve, by=by, reason=reason, ttl=valid_for
        ),
    )
    verb = "approved" if approve else "denied"
    click.echo(
        f"{approval.id} {verb} by {by} until {_when(approval.expires_at)}: {approval.summary}"
    )


_reason = click.option("--reason", required=True, help="Why (recorded with the decision).")
_by = click.option("--by", default=None, help="Who decides (default: the current user).")
_valid = click.option(
    "--valid-for",
    default=3600,
    show_default=True,
    type=click.IntRange(1, 30 * 86400),
    metavar="SECONDS",
    help="How long the agent has to retry the action.",
)


def _decision_command(name: str, *, approve: bool, doc: str) -> click.Command:
    """``approvals approve`` and ``approvals deny``: one shape, only the verdict differs."""

    @approvals.command(name, help=doc)
    @ledger_option
    @_reason
    @_by
    @_valid
    @click.argument("approval_id", metavar="ID")
    def command(
        ledger_url: str | None, reason: str, by: str | None, valid_for: int, approval_id: str
    ) -> None:
        _decide(
            ledger_url,
            approval_id,
            approve=approve,
            by=by or getpass.getuser(),
            reason=reason,
            valid_for=valid_for,
        )

    return command


approve = _decision_command(
    "approve",
    approve=True,
    doc="Approve ID: the agent's next retry of that exact action may go ahead (budgets "
    "permitting).",
)
deny = _decision_command(
    "deny", approve=False, doc="Deny ID: the agent's retries of that action are denied."
)


@click.group()
def budget() -> None:
    """Budgets and what has been spent against them."""


@budget.command()
@policy_option
@ledger_option
@json_option
def show(policy: str, ledger_url: str | None, as_json: bool) -> None:
    """The policy's budgets and their use in the current windows."""
    guard = make_guard(policy, ())
    limits = limits_of(guard.policy)
    usage = _with_ledger(ledger_url, guard.policy.spec.ledger.url, lambda ledger: ledger.usage())
    if as_json:
        payload: dict[str, Any] = {
            "policy": guard.policy.name,
            "limits": [
                {
                    "scope": lim.scope,
                    "window": lim.window,
                    "unit": lim.unit,
                    "hard": None if lim.hard is None else shown(lim.hard, lim.unit),
                    "soft": None if lim.soft is None else shown(lim.soft, lim.unit),
                }
                for lim in limits
            ],
            "usage": [u.to_dict() for u in usage],
        }
        click.echo(json.dumps(payload, indent=2))
        return
    click.echo(f"policy {guard.policy.name}:")
    for lim in limits or []:
        click.echo(f"  {lim.describe()}")
    if not limits:
        click.echo("  no budgets")
    click.echo("use in the current windows:")
    for u in usage:
        click.echo(
            f"  {u.scope}={u.subject} {u.window}: spent {shown(u.spent, u.unit)}, "
            f"held {shown(u.held, u.unit)}"
        )
    if not usage:
        click.echo("  nothing spent")


COMMANDS = (approvals, budget)

"""``corral policy validate|test``: check a policy file and run its own example cases."""

from __future__ import annotations

import sys

import click

from corral.cli.common import EXIT_CANNOT_RUN, make_guard
from corral.engine.guard import Guard


@click.group()
def policy() -> None:
    """Validate and test policy files."""


@policy.command()
@click.argument("file")
def validate(file: str) -> None:
    """Check FILE (or a built-in name); errors name file:line and the field."""
    guard = make_guard(file, ())
    spec = guard.policy.spec
    click.echo(
        f"ok: policy '{spec.name}' from {guard.policy.source}: mode {spec.mode}, "
        f"{len(spec.egress.allow)} egress entries, {len(spec.rules)} rule overrides, "
        f"{len(spec.exceptions)} exceptions, {len(spec.tests)} tests"
    )


def run_policy_tests(guard: Guard) -> list[str]:
    """Failures of the policy's own test cases (empty when all pass)."""
    failures: list[str] = []
    for index, case in enumerate(guard.policy.spec.tests):
        action = (
            {"kind": "exec", "command": case.action}
            if isinstance(case.action, str)
            else case.action
        )
        decision = guard.decide(action)
        verdict = decision.would_decide or decision.decision
        matched = {r.id for r in decision.rules}
        missing = [r for r in case.rules if r not in matched]
        label = case.name or f"tests[{index}]"
        if verdict != case.expect or missing:
            detail = f"expected {case.expect}, got {verdict}"
            if missing:
                detail += f"; expected rules {', '.join(missing)} did not match"
            failures.append(f"FAIL {label}: {detail} ({decision.reason})")
    return failures


@policy.command()
@click.argument("file")
def test(file: str) -> None:
    """Run the example cases under FILE's 'tests:' key, like a unit test suite."""
    guard = make_guard(file, ())
    cases = guard.policy.spec.tests
    failures = run_policy_tests(guard)
    for line in failures:
        click.echo(line)
    passed = len(cases) - len(failures)
    click.echo(f"{passed} passed, {len(failures)} failed")
    if not cases:
        click.echo("corral: the policy has no tests: add cases under 'tests:'", err=True)
        sys.exit(EXIT_CANNOT_RUN)
    sys.exit(1 if failures else 0)

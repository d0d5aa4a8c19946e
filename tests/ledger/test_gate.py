"""The ledger behind the engine: costly actions reserve, ask or deny with a CR-BUD id."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from corral import Guard
from corral.ledger import Ledger, ManualClock, open_ledger
from corral.ledger.guard import Gated, LedgerGate, decide_with_ledger
from corral.util.yamlfile import SourceError

FLEET = """name: fleet
extends: permissive
spend: {budget: 100, currency: USD}
rules:
  CR-RES-001: {decision: allow}
  CR-RES-002: {decision: allow}
  CR-RES-011: {decision: allow}
  CR-RES-023: {decision: allow}
ledger:
  limits:
    - {scope: agent, window: day, hard: 50, soft: 20}
    - {scope: agent, window: day, unit: gpu_hours, hard: 16}
  prices:
    instances: {m5.large: 0.10}
"""


@pytest.fixture
def guard(tmp_path: Path) -> Guard:
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET)
    return Guard(str(path))


@pytest.fixture
def gate(guard: Guard, ledger_url: str, clock: ManualClock) -> Iterator[LedgerGate]:
    ledger: Ledger = open_ledger(ledger_url, clock=clock)
    try:
        yield LedgerGate(ledger, guard.policy, guard.rules)
    finally:
        ledger.close()


def run(guard: Guard, gate: LedgerGate, command: str, **extra: Any) -> Gated:
    return decide_with_ledger(
        guard, gate, {"kind": "exec", "command": command, "agent": "a1", **extra}
    )


def spend(
    guard: Guard, gate: LedgerGate, amount: float, currency: str = "USD", **extra: Any
) -> Gated:
    action = {
        "kind": "spend",
        "amount": amount,
        "currency": currency,
        "recipient": "acme",
        "purpose": "hosting",
        "agent": "a1",
        **extra,
    }
    return decide_with_ledger(guard, gate, action)


def ids(gated: Gated) -> list[str]:
    return [r.id for r in gated.decision.rules]


def test_costly_launch_is_priced_and_reserved(guard: Guard, gate: LedgerGate) -> None:
    got = run(
        guard, gate, "aws ec2 run-instances --image-id ami-1 --instance-type m5.large --count 3"
    )
    assert got.decision.decision == "allow" and got.reservation is not None
    assert got.cost is not None and got.cost.charges == {"USD": pytest.approx(0.3)}
    gate.commit(got, {"USD": 0.25})
    assert [u.spent for u in gate.ledger.usage()] == [250_000]


def test_gpu_launch_reserves_money_and_gpu_hours(guard: Guard, gate: LedgerGate) -> None:
    got = run(
        guard, gate, "aws ec2 run-instances --image-id ami-1 --instance-type g5.xlarge --count 8"
    )
    assert got.decision.decision == "allow", got.decision.reason
    assert got.cost is not None and got.cost.charges == {"USD": 8.048, "gpu_hours": 8}
    slurm = run(guard, gate, "sbatch --gres=gpu:a100:4 --nodes=3 train.sh")
    assert slurm.decision.decision == "deny"  # 8 + 12 GPU-hours is over the 16 quota
    assert ids(slurm)[0] == "CR-BUD-001" and "gpu_hours" in slurm.decision.reason


def test_hard_limit_denies_and_soft_limit_asks_then_approval_allows(
    guard: Guard, gate: LedgerGate
) -> None:
    first = spend(guard, gate, 15)
    assert first.decision.decision == "allow" and first.reservation
    gate.commit(first)
    asked = spend(guard, gate, 15, id="pay-2")
    assert asked.decision.decision == "ask" and ids(asked)[0] == "CR-BUD-002"
    assert asked.approval is not None and asked.approval.id in asked.decision.reason
    gate.ledger.decide(asked.approval.id, approve=True, by="ops", reason="renewal", ttl=600)
    retry = spend(guard, gate, 15, id="pay-2")
    assert retry.decision.decision == "allow" and "approved by ops" in retry.decision.reason
    assert retry.reservation is not None
    assert spend(guard, gate, 15, id="pay-2").reservation.id == retry.reservation.id  # type: ignore[union-attr]
    over = spend(guard, gate, 25)
    assert over.decision.decision == "deny" and ids(over)[0] == "CR-BUD-001"


def test_denied_approval_denies_the_retry(guard: Guard, gate: LedgerGate) -> None:
    spend(guard, gate, 19)
    asked = spend(guard, gate, 5)
    assert asked.approval is not None
    gate.ledger.decide(asked.approval.id, approve=False, by="ops", reason="not needed", ttl=600)
    retry = spend(guard, gate, 5)
    assert retry.decision.decision == "deny" and ids(retry)[0] == "CR-BUD-005"
    assert "not needed" in retry.decision.reason


def test_engine_ask_becomes_a_pending_approval(gate: LedgerGate, clock: ManualClock) -> None:
    guard = Guard("permissive")
    gate = LedgerGate(gate.ledger, guard.policy, guard.rules)
    command = "aws ec2 run-instances --image-id ami-1 --instance-type t3.micro"
    asked = run(guard, gate, command)
    assert asked.decision.decision == "ask" and ids(asked)[:2] == ["CR-BUD-004", "CR-RES-001"]
    assert asked.approval is not None
    assert run(guard, gate, command).approval.id == asked.approval.id  # type: ignore[union-attr]
    clock.advance(3600)  # nobody answered: it expires, and the next try asks afresh
    again = run(guard, gate, command)
    assert again.approval is not None and again.approval.id != asked.approval.id
    gate.ledger.decide(again.approval.id, approve=True, by="ops", reason="test box", ttl=600)
    allowed = run(guard, gate, command)
    assert allowed.decision.decision == "allow" and allowed.reservation is not None
    assert run(guard, gate, command).decision.decision == "ask"  # one approval, one run


def test_unknown_cost_asks(guard: Guard, gate: LedgerGate) -> None:
    got = run(guard, gate, "aws ec2 run-instances --image-id ami-1 --instance-type zz9.mega")
    assert got.decision.decision == "ask" and ids(got)[0] == "CR-BUD-003"


def test_bad_currency_fails_closed(guard: Guard, gate: LedgerGate) -> None:
    action = {
        "kind": "tool",
        "name": "send_payment",
        "args": {"amount": 5, "currency": "QQQ"},
        "agent": "a1",
    }
    asked = decide_with_ledger(guard, gate, action)
    assert asked.approval is not None  # the engine asks (CR-POL-009); a person approves...
    gate.ledger.decide(asked.approval.id, approve=True, by="ops", reason="ok", ttl=600)
    got = decide_with_ledger(guard, gate, action)
    # ...but a currency that does not exist is still refused.
    assert got.decision.decision == "deny" and ids(got)[0] == "CR-BUD-007"


def test_ledger_failure_denies(guard: Guard, gate: LedgerGate) -> None:
    gate.ledger.close()
    got = spend(guard, gate, 1)
    assert got.decision.decision == "deny" and ids(got)[0] == "CR-BUD-006"


def test_non_costly_and_denied_actions_pass_through(guard: Guard, gate: LedgerGate) -> None:
    assert run(guard, gate, "ls -la").reservation is None
    tunnel = run(guard, gate, "ssh -R 8080:localhost:22 user@example.com")
    assert tunnel.decision.decision == "deny" and "CR-BUD" not in "".join(ids(tunnel))


@pytest.mark.parametrize(
    ("block", "field"),
    [
        ("ledger: {prices: {instances: {p4d.24xlarge: -3}}}", "ledger.prices.instances"),
        ("ledger: {prices: {instances: {p4d.24xlarge: .nan}}}", "ledger.prices.instances"),
        ("ledger: {prices: {instances: [1, 2]}}", "ledger.prices.instances"),
        ("ledger: {prices: {default: 1e99}}", "ledger.prices.default"),
        ("ledger: {limits: [{scope: agent, window: day, hard: 5, soft: 9}]}", "ledger.limits"),
        ("ledger: {limits: [{scope: agent, window: day}]}", "ledger.limits"),
        ("ledger: {limits: [{scope: agent, window: week, hard: 5}]}", "ledger.limits"),
        ("ledger: {limits: [{scope: agent, window: day, unit: DOGE, hard: 5}]}", "ledger.limits"),
        ("spend: {budget: 10, currency: bitcoin}", "spend.currency"),
        ("ledger: {reservation_ttl: 0}", "ledger.reservation_ttl"),
    ],
)
def test_malformed_budget_settings_name_the_field(tmp_path: Path, block: str, field: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"name: bad\nextends: default\n{block}\n")
    with pytest.raises(SourceError) as err:
        Guard(str(path))
    assert field in str(err.value) and "bad.yaml" in str(err.value)

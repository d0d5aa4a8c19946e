"""The ledger's contract, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import math
import os
import pathlib
import stat

import pytest

from corral.ledger import (
    ApprovalError,
    BudgetExceeded,
    InvalidAmount,
    Ledger,
    LedgerError,
    LedgerUnavailable,
    ManualClock,
    ReservationClosed,
    Subjects,
    open_ledger,
)
from corral.ledger.amounts import MICRO
from corral.ledger.model import Limit

ALICE = Subjects(session="s1", agent="alice", account="acct")


def usd(
    hard: float | None = None,
    soft: float | None = None,
    *,
    scope: str = "agent",
    window: str = "day",
    unit: str = "USD",
) -> Limit:
    return Limit(
        scope,  # type: ignore[arg-type]
        window,  # type: ignore[arg-type]
        unit,
        hard=None if hard is None else int(hard * MICRO),
        soft=None if soft is None else int(soft * MICRO),
    )


def test_reserve_commit_release_account_for_every_unit(ledger: Ledger) -> None:
    limits = [usd(10)]
    first = ledger.reserve({"USD": 4}, ALICE, limits, ttl=60)
    second = ledger.reserve({"USD": 4}, ALICE, limits, ttl=60)
    assert first.reservation and second.reservation
    denied = ledger.reserve({"USD": 4}, ALICE, limits, ttl=60)
    assert denied.verdict == "deny" and "hard limit of 10 USD" in denied.reason
    ledger.commit(first.reservation.id, {"USD": "3.5"})
    ledger.release(second.reservation.id)
    (usage,) = ledger.usage()
    assert (usage.spent, usage.held) == (3_500_000, 0)
    assert ledger.reserve({"USD": 6.5}, ALICE, limits, ttl=60).verdict == "allow"
    assert ledger.reserve({"USD": 0.000001}, ALICE, limits, ttl=60).verdict == "deny"


def test_soft_limit_asks_and_approval_waives_only_soft(ledger: Ledger) -> None:
    limits = [usd(10, 5)]
    assert ledger.reserve({"USD": 4}, ALICE, limits, ttl=60).verdict == "allow"
    asked = ledger.reserve({"USD": 4}, ALICE, limits, ttl=60)
    assert asked.verdict == "ask" and "soft limit of 5 USD" in asked.reason
    assert ledger.reserve({"USD": 4}, ALICE, limits, ttl=60, approved=True).verdict == "allow"
    assert ledger.reserve({"USD": 4}, ALICE, limits, ttl=60, approved=True).verdict == "deny"


def test_budgets_per_session_agent_account_and_global_all_apply(ledger: Ledger) -> None:
    limits = [usd(5, scope="session"), usd(8, scope="account"), usd(100, scope="global")]
    bob = Subjects(session="s2", agent="bob", account="acct")
    assert ledger.reserve({"USD": 5}, ALICE, limits, ttl=60).verdict == "allow"
    assert ledger.reserve({"USD": 1}, ALICE, limits, ttl=60).verdict == "deny"  # session full
    assert ledger.reserve({"USD": 3}, bob, limits, ttl=60).verdict == "allow"
    refused = ledger.reserve({"USD": 1}, bob, limits, ttl=60)  # shared account full
    assert refused.verdict == "deny" and refused.limit and refused.limit.scope == "account"
    # An action that names no session shares the "(none)" bucket: leaving it out escapes nothing.
    anonymous = [usd(1, scope="session")]
    assert ledger.reserve({"USD": 1}, Subjects(), anonymous, ttl=60).verdict == "allow"
    assert ledger.reserve({"USD": 1}, Subjects(), anonymous, ttl=60).verdict == "deny"


def test_per_action_limit(ledger: Ledger) -> None:
    limits = [usd(2, window="action")]
    assert ledger.reserve({"USD": 2}, ALICE, limits, ttl=60).verdict == "allow"
    assert ledger.reserve({"USD": 2}, ALICE, limits, ttl=60).verdict == "allow"
    assert ledger.reserve({"USD": 2.01}, ALICE, limits, ttl=60).verdict == "deny"


def test_windows_roll_over(ledger: Ledger, clock: ManualClock) -> None:
    hourly, daily = usd(3, window="hour"), usd(5, window="day")
    for _ in range(3):
        got = ledger.reserve({"USD": 1}, ALICE, [hourly, daily], ttl=60)
        assert got.reservation
        ledger.commit(got.reservation.id)
    assert ledger.reserve({"USD": 1}, ALICE, [hourly, daily], ttl=60).verdict == "deny"
    clock.advance(3600)  # next hour: the hourly budget is fresh, the daily one is not
    for _ in range(2):
        got = ledger.reserve({"USD": 1}, ALICE, [hourly, daily], ttl=60)
        assert got.reservation
        ledger.commit(got.reservation.id)
    refused = ledger.reserve({"USD": 1}, ALICE, [hourly, daily], ttl=60)
    assert refused.verdict == "deny" and refused.limit == daily
    clock.advance(86400)
    assert ledger.reserve({"USD": 1}, ALICE, [hourly, daily], ttl=60).verdict == "allow"
    total = usd(1, window="total")
    kept = ledger.reserve({"USD": 1}, ALICE, [total], ttl=60)
    assert kept.reservation
    ledger.commit(kept.reservation.id)
    clock.advance(365 * 86400)
    assert ledger.reserve({"USD": 1}, ALICE, [total], ttl=60).verdict == "deny"  # never resets


def test_reservations_expire_and_stop_counting(ledger: Ledger, clock: ManualClock) -> None:
    limits = [usd(1)]
    held = ledger.reserve({"USD": 1}, ALICE, limits, ttl=30)
    assert held.reservation
    assert ledger.reserve({"USD": 1}, ALICE, limits, ttl=30).verdict == "deny"
    clock.advance(30)
    assert ledger.get(held.reservation.id).state == "expired"
    assert ledger.reserve({"USD": 1}, ALICE, limits, ttl=30).verdict == "allow"
    with pytest.raises(ReservationClosed):
        ledger.commit(held.reservation.id)


def test_idempotent_retries_spend_once(ledger: Ledger) -> None:
    limits = [usd(10)]
    first = ledger.reserve({"USD": 6}, ALICE, limits, ttl=60, idem_key="req-1")
    again = ledger.reserve({"USD": 6}, ALICE, limits, ttl=60, idem_key="req-1")
    assert first.reservation and again.reservation
    assert again.replayed and again.reservation.id == first.reservation.id
    ledger.commit(first.reservation.id)
    ledger.commit(first.reservation.id)  # a retried commit
    replay = ledger.reserve({"USD": 6}, ALICE, limits, ttl=60, idem_key="req-1")
    assert replay.reservation and replay.reservation.state == "committed"
    (usage,) = ledger.usage()
    assert usage.spent == 6 * MICRO
    used = ledger.record_usage("gpu_hours", 2, ALICE, [], idem_key="sup-7")
    repeated = ledger.record_usage("gpu_hours", 2, ALICE, [], idem_key="sup-7")
    assert repeated.replayed and repeated.reservation and used.reservation
    assert repeated.reservation.id == used.reservation.id


def test_commit_more_than_reserved_is_rechecked(ledger: Ledger) -> None:
    limits = [usd(10)]
    got = ledger.reserve({"USD": 5}, ALICE, limits, ttl=60)
    other = ledger.reserve({"USD": 4}, ALICE, limits, ttl=60)
    assert got.reservation and other.reservation
    with pytest.raises(BudgetExceeded):
        ledger.commit(got.reservation.id, {"USD": 7})
    assert ledger.commit(got.reservation.id, {"USD": 6}).spent == {"USD": 6 * MICRO}
    with pytest.raises(BudgetExceeded):
        ledger.commit(other.reservation.id, {"EUR": 1})


def test_gpu_and_cpu_hours_are_quotas_in_the_same_ledger(ledger: Ledger) -> None:
    quota = usd(8, unit="gpu_hours")
    money = usd(100)
    got = ledger.reserve({"USD": 32, "gpu_hours": 8}, ALICE, [quota, money], ttl=60)
    assert got.reservation
    assert ledger.reserve({"USD": 1, "gpu_hours": 1}, ALICE, [quota, money], ttl=60).verdict == (
        "deny"
    )
    ledger.commit(got.reservation.id, {"USD": 16, "gpu_hours": 4})
    report = ledger.record_usage("gpu_hours", 5, ALICE, [quota], note="supervisor")
    assert report.verdict == "deny"  # recorded (it happened) and flagged: 9 of 8 hours used
    spent = {u.unit: u.spent for u in ledger.usage()}
    assert spent == {"gpu_hours": 9 * MICRO, "USD": 16 * MICRO}
    assert ledger.record_usage("cpu_hours", 3, ALICE, [usd(4, unit="cpu_hours")]).verdict == "allow"


@pytest.mark.parametrize(
    ("charges", "message"),
    [
        ({"USD": -1}, "negative"),
        ({"USD": math.nan}, "finite"),
        ({"USD": math.inf}, "finite"),
        ({"USD": "12abc"}, "not a number"),
        ({"USD": True}, "must be a number"),
        ({"USD": 1e12}, "more than any budget"),
        ({"DOGE": 1}, "unknown unit"),
        ({"": 1}, "unit must be"),
        ({}, "at least one amount"),
    ],
)
def test_bad_amounts_are_refused(ledger: Ledger, charges: dict[str, object], message: str) -> None:
    with pytest.raises(LedgerError, match=message):
        ledger.reserve(charges, ALICE, [usd(10)], ttl=60)
    assert ledger.usage() == []  # nothing was written


def test_bad_ttl_and_record_usage_input(ledger: Ledger) -> None:
    for ttl in (0, -5, math.inf, 10**9):
        with pytest.raises(LedgerError, match="ttl"):
            ledger.reserve({"USD": 1}, ALICE, [], ttl=ttl)
    with pytest.raises(InvalidAmount):
        ledger.record_usage("gpu_hours", -3, ALICE, [])


def test_approvals_are_recorded_decided_once_and_expire(ledger: Ledger, clock: ManualClock) -> None:
    pending = ledger.request_approval("fp-1", "buy GPUs", ttl=600, subjects=ALICE)
    assert ledger.request_approval("fp-1", "buy GPUs", ttl=600).id == pending.id  # no duplicate
    assert [a.id for a in ledger.approvals(states=["pending"])] == [pending.id]
    decided = ledger.decide(pending.id, approve=True, by="ops", reason="planned run", ttl=300)
    assert (decided.state, decided.decided_by, decided.reason) == ("approved", "ops", "planned run")
    with pytest.raises(ApprovalError, match="not pending"):
        ledger.decide(pending.id, approve=False, by="ops", reason="changed mind", ttl=300)
    assert ledger.consume(pending.id) is True
    assert ledger.consume(pending.id) is False  # one approval, one retry
    late = ledger.request_approval("fp-2", "plan upgrade", ttl=600)
    clock.advance(600)
    assert ledger.get_approval(late.id).state == "expired"
    with pytest.raises(ApprovalError):
        ledger.decide(late.id, approve=True, by="ops", reason="too late", ttl=300)
    fresh = ledger.request_approval("fp-2", "plan upgrade", ttl=600)
    assert fresh.id != late.id and fresh.state == "pending"
    refused = ledger.decide(fresh.id, approve=False, by="ops", reason="no", ttl=60)
    assert ledger.approval_for("fp-2") == refused
    clock.advance(60)
    assert ledger.approval_for("fp-2").state == "expired"  # type: ignore[union-attr]
    with pytest.raises(ApprovalError, match="who decided and why"):
        ledger.decide(fresh.id, approve=True, by="", reason="", ttl=60)


def test_schema_is_versioned_and_a_newer_one_refused(ledger_url: str, clock: ManualClock) -> None:
    first = open_ledger(ledger_url, clock=clock)
    assert first.schema_version() == 1
    first._tx(lambda cur: cur.run("INSERT INTO schema_version (version) VALUES (99)"))
    first.close()
    with pytest.raises(LedgerUnavailable, match="newer than this Corral"):
        open_ledger(ledger_url, clock=clock)


def test_unreachable_or_unknown_ledgers_fail_clearly(tmp_path: object) -> None:
    with pytest.raises(LedgerUnavailable, match="not supported"):
        open_ledger("mysql://db/x")
    with pytest.raises(LedgerUnavailable, match="cannot reach"):
        open_ledger("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(LedgerUnavailable, match="cannot open"):
        open_ledger("/proc/corral-cannot/ledger.sqlite3")


def test_sqlite_ledger_file_is_private(tmp_path: pathlib.Path) -> None:
    old = os.umask(0o022)
    try:
        ledger = open_ledger(str(tmp_path / "private.sqlite3"))
    finally:
        os.umask(old)
    try:
        assert stat.S_IMODE((tmp_path / "private.sqlite3").stat().st_mode) == 0o600
    finally:
        ledger.close()

"""The ledger between the engine's verdict and the action: reserve, ask or deny.

``LedgerGate.review`` takes what ``Guard.explain`` returned. It never loosens a decision: a
deny stays a deny. An ``ask`` becomes a pending approval (and, once a person approves, the
agent's retry of the same action goes on to the budget check); an ``allow`` of a costly action
reserves its estimated cost first and becomes ``deny`` or ``ask`` when a budget would be passed.
Any ledger failure denies. ``Guard.decide`` itself stays stateless; callers that want budgets
call :func:`decide_with_ledger`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from corral.engine.guard import Explanation, Guard
from corral.ledger import clauses as B
from corral.ledger.amounts import to_micro
from corral.ledger.costing import Cost, estimate
from corral.ledger.errors import InvalidAmount, LedgerError
from corral.ledger.model import Approval, Limit, Reservation, Subjects
from corral.ledger.store import Ledger
from corral.model.actions import Action
from corral.model.decisions import Decision
from corral.policy.clauses import Clause
from corral.policy.evaluate import finding
from corral.policy.loader import Policy
from corral.rules.conditions import shorten
from corral.rules.loader import RuleSet


@dataclass(slots=True)
class Gated:
    """The decision after the ledger, and what the caller must settle if it was allowed."""

    decision: Decision
    reservation: Reservation | None = None
    approval: Approval | None = None
    cost: Cost | None = None


def limits_of(policy: Policy) -> list[Limit]:
    """The policy's budgets as ledger limits: ``spend.budget`` is the per-action hard limit."""
    spec = policy.spec
    currency = spec.spend.currency
    limits: list[Limit] = []
    if spec.spend.budget is not None:
        limits.append(Limit("global", "action", currency, hard=to_micro(spec.spend.budget)))
    for item in spec.ledger.limits:
        limits.append(
            Limit(
                item.scope,
                item.window,
                item.unit or currency,
                hard=None if item.hard is None else to_micro(item.hard),
                soft=None if item.soft is None else to_micro(item.soft),
            )
        )
    return limits


def fingerprint(action: Action) -> str:
    """The same action (whatever its id or timestamp) has the same fingerprint: an approval of
    it is an approval of exactly this command, amount and agent."""
    data = action.model_dump(mode="json", exclude={"id", "ts"}, exclude_none=True)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def subjects_of(action: Action) -> Subjects:
    account = getattr(action, "account", None) or action.metadata().get("account")
    return Subjects(
        session=action.session,
        agent=action.agent,
        account=account if isinstance(account, str) else None,
    )


def summary_of(action: Action, cost: Cost | None) -> str:
    data = action.model_dump(
        mode="json", exclude={"id", "ts", "session", "agent", "task"}, exclude_none=True
    )
    kind = data.pop("kind")
    main = data.get("command") or data.get("url") or data.get("name") or json.dumps(data)
    text = f"{kind}: {shorten(str(main))}"
    if kind == "spend":
        text = f"spend {data.get('amount')} {data.get('currency')} to {data.get('recipient', '?')}"
    if cost is not None and cost.basis and kind != "spend":
        text += f" ({cost.basis})"
    return text


class LedgerGate:
    """Budgets and approvals for one policy, over one ledger."""

    def __init__(self, ledger: Ledger, policy: Policy, rules: RuleSet):
        self.ledger = ledger
        self.policy = policy
        self.rules = rules
        self.limits = limits_of(policy)
        self.settings = policy.spec.ledger

    # --- after the action ----------------------------------------------------------------

    def commit(self, gated: Gated, actual: dict[str, Any] | None = None) -> Reservation | None:
        """Record what the allowed action really cost (default: the estimate)."""
        if gated.reservation is None:
            return None
        return self.ledger.commit(gated.reservation.id, actual)

    def release(self, gated: Gated) -> Reservation | None:
        """The action did not run (or cost nothing): give the reservation back."""
        if gated.reservation is None:
            return None
        return self.ledger.release(gated.reservation.id)

    # --- the review ---------------------------------------------------------------------

    def review(self, explanation: Explanation) -> Gated:
        decision = explanation.decision
        if (
            decision.error is not None
            or explanation.action is None
            or explanation.analysis is None
            or decision.decision == "deny"
            or decision.mode == "monitor"
        ):
            return Gated(decision)
        try:
            return self._review(explanation)
        except InvalidAmount as exc:
            return Gated(self._rewrite(decision, B.INVALID_AMOUNT, str(exc)))
        except LedgerError as exc:
            return Gated(self._rewrite(decision, B.LEDGER_FAILED, f"{exc}; failing closed"))
        except Exception as exc:  # an internal error never lets a costly action through
            return Gated(
                self._rewrite(
                    decision, B.LEDGER_FAILED, f"internal error {type(exc).__name__}: {exc}"
                )
            )

    def _review(self, explanation: Explanation) -> Gated:
        decision, action, analysis = explanation.decision, explanation.action, explanation.analysis
        assert action is not None and analysis is not None
        cost = estimate(analysis, decision.rules, self.rules, self.policy)
        if decision.decision == "allow" and not cost.costly:
            return Gated(decision, cost=cost)
        fp = fingerprint(action)
        subjects = subjects_of(action)
        approval = self.ledger.approval_for(fp)
        if approval is not None and approval.state == "denied":
            why = f"{approval.decided_by} denied {approval.id}: {approval.reason}"
            return Gated(
                self._rewrite(decision, B.APPROVAL_DENIED, why), approval=approval, cost=cost
            )
        approved = approval is not None and approval.state == "approved"
        if decision.decision == "ask" and not approved:
            return self._ask(
                decision,
                B.APPROVAL_NEEDED,
                evidence=decision.reason,
                action=action,
                fp=fp,
                cost=cost,
            )
        if not cost.costly or (not cost.known and approved):
            return self._allowed(decision, None, approval if approved else None, cost)
        if not cost.known:
            return self._unknown(decision, action, fp, cost)
        uncovered = self._uncovered(cost)
        if uncovered and not approved:
            evidence = f"{cost.basis}: no budget in the policy covers {', '.join(uncovered)}"
            return self._ask(
                decision, B.UNCOVERED_UNIT, evidence=evidence, action=action, fp=fp, cost=cost
            )
        outcome = self.ledger.reserve(
            cost.charges,
            subjects,
            self.limits,
            ttl=self.settings.reservation_ttl,
            idem_key=_idempotency_key(action),
            approved=approved,
            note=summary_of(action, cost)[:200],
        )
        if outcome.verdict == "deny":
            return Gated(self._rewrite(decision, B.OVER_HARD, outcome.reason), cost=cost)
        if outcome.verdict == "ask":
            return self._ask(
                decision, B.OVER_SOFT, evidence=outcome.reason, action=action, fp=fp, cost=cost
            )
        return self._allowed(decision, outcome.reservation, approval if approved else None, cost)

    def _uncovered(self, cost: Cost) -> list[str]:
        """Money units that no limit counts while some money limit exists (a EUR spend against
        USD budgets would otherwise pass every check unseen)."""
        money_units = {limit.unit for limit in self.limits if limit.unit not in _QUOTAS}
        if not money_units:
            return []
        return sorted(u for u in cost.charges if u not in _QUOTAS and u not in money_units)

    def _unknown(self, decision: Decision, action: Action, fp: str, cost: Cost) -> Gated:
        verdict = self.settings.unknown_cost
        if verdict == "allow":
            return Gated(decision, cost=cost)
        if verdict == "deny":
            clause = replace(B.UNKNOWN_COST, severity=B.OVER_HARD.severity, verdict="deny")
            return Gated(self._rewrite(decision, clause, cost.basis), cost=cost)
        return self._ask(
            decision, B.UNKNOWN_COST, evidence=cost.basis, action=action, fp=fp, cost=cost
        )

    def _allowed(
        self,
        decision: Decision,
        reservation: Reservation | None,
        approval: Approval | None,
        cost: Cost,
    ) -> Gated:
        if approval is not None and not self.ledger.consume(approval.id):
            # Someone else's retry used it first (or it just expired): ask again.
            return Gated(self._rewrite(decision, B.APPROVAL_NEEDED, "the approval was used"))
        if approval is None and decision.decision == "allow":
            return Gated(decision, reservation, None, cost)
        reason = f"approved by {approval.decided_by}: {approval.reason}" if approval else ""
        allowed = Decision(
            decision="allow",
            severity=decision.severity,
            reason=f"{decision.reason} ({reason})" if reason else decision.reason,
            policy=decision.policy,
            decision_id=decision.decision_id,
            id=decision.id,
            rules=decision.rules,
            session=decision.session,
        )
        return Gated(allowed, reservation, approval, cost)

    def _ask(
        self,
        decision: Decision,
        clause: Clause,
        *,
        evidence: str,
        action: Action,
        fp: str,
        cost: Cost,
    ) -> Gated:
        approval = self.ledger.request_approval(
            fp,
            summary_of(action, cost),
            ttl=self.settings.approval_ttl,
            detail={
                "clause": clause.id,
                "evidence": evidence,
                "cost": cost.charges,
                "basis": cost.basis,
                "decision_id": decision.decision_id,
            },
            subjects=subjects_of(action),
        )
        until = datetime.fromtimestamp(approval.expires_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        note = (
            f"{evidence}; approval {approval.id} is pending until {until} "
            f"(corral approvals approve {approval.id} --reason ...)"
        )
        return Gated(self._rewrite(decision, clause, note), approval=approval, cost=cost)

    @staticmethod
    def _rewrite(decision: Decision, clause: Clause, evidence: str) -> Decision:
        ref = finding(clause, evidence)
        verdict = clause.verdict if decision.decision != "deny" else "deny"
        return Decision(
            decision=verdict,
            severity=max(decision.severity, clause.severity),
            reason=f"{clause.id} {clause.title}: {evidence}",
            policy=decision.policy,
            decision_id=decision.decision_id,
            id=decision.id,
            rules=[ref, *(r for r in decision.rules if r.id != clause.id)],
            session=decision.session,
        )


_QUOTAS = frozenset({"gpu_hours", "cpu_hours"})


def _idempotency_key(action: Action) -> str | None:
    """A retried request (same action id, same session) reserves once."""
    if action.id is None:
        return None
    return f"action:{action.session or ''}:{action.agent or ''}:{action.id}:{fingerprint(action)}"


def decide_with_ledger(guard: Guard, gate: LedgerGate, action: Any) -> Gated:
    """``guard.explain`` followed by the ledger: the one call a caller with budgets makes."""
    return gate.review(guard.explain(action))

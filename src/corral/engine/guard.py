"""``Guard``: the one public way to judge actions in-process."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corral.analysis.analyze import DEFAULT_LIMITS, analyze
from corral.analysis.facts import Analysis
from corral.analysis.shell import ShellLimits
from corral.engine.decide import Judgement, judge
from corral.engine.hooks import LedgerHook, SessionHook, Step
from corral.model.actions import ACTION_TYPES, Action, ActionError, echoable_id, parse_action
from corral.model.decisions import Decision, Severity
from corral.policy.loader import Policy, load_policy
from corral.rules.loader import RuleSet, builtin_rules


@dataclass(slots=True)
class Explanation:
    """Everything behind one decision, for ``corral explain``."""

    decision: Decision
    action: Action | None
    analysis: Analysis | None
    judgement: Judgement | None


def new_decision_id() -> str:
    return str(uuid.uuid4())


class Guard:
    """Judge agent actions against a policy and the rule library.

    ``Guard("default").decide({"kind": "exec", "command": "ssh -R 80:localhost:22 x@y"})``
    returns a :class:`Decision`; it never raises for bad input and denies on any internal error.
    """

    def __init__(
        self,
        policy: str | Path | Policy = "default",
        *,
        workspace: list[str] | None = None,
        rules: RuleSet | None = None,
        limits: ShellLimits = DEFAULT_LIMITS,
        sessions: SessionHook | None = None,
        ledger: LedgerHook | None = None,
    ):
        self.rules = rules or builtin_rules()
        self.policy = (
            policy
            if isinstance(policy, Policy)
            else load_policy(policy, workspace=workspace, rules=self.rules)
        )
        self.limits = limits
        # Optional: judges actions that carry ``session`` with their history (corral.sessions).
        self.sessions = sessions
        # Optional: budgets, reservations and approvals (corral.ledger).
        self.ledger = ledger

    def decide(self, action: Any, *, line: int | None = None) -> Decision:
        return self.explain(action, line=line).decision

    def explain(self, action: Any, *, line: int | None = None) -> Explanation:
        judged = self.judge_alone(action, line=line)
        if self.sessions is None and self.ledger is None:
            return judged  # nothing to add, and the judgement is not kept: no copy needed
        return self.review(judged, line=line)

    def judge_alone(self, action: Any, *, line: int | None = None) -> Explanation:
        """The stateless judgement only: the same action always gets the same verdict, so a
        caller that sees many identical actions (the supervisor's exec watcher) may reuse it,
        as long as every use goes through :meth:`review`."""
        return self._explain(action, line)

    def review(self, judged: Explanation, *, line: int | None = None) -> Explanation:
        """Apply the budget ledger and the session to a stateless judgement (a fresh copy of it
        with a new decision id: the judgement itself may be reused)."""
        explanation = dataclasses.replace(
            judged, decision=dataclasses.replace(judged.decision, decision_id=new_decision_id())
        )
        parsed = explanation.action
        if parsed is None or (self.sessions is None and self.ledger is None):
            return explanation
        # The ledger reviews first (a budget refusal is part of what the session remembers);
        # what it reserved is committed only if the final decision, after the session, allows.
        if self.ledger is not None:
            explanation.decision = self._guarded_review(
                self.ledger.review, explanation, parsed, line, "budget ledger"
            )
        if self.sessions is not None:  # actions without session are only stored and alerted
            explanation.decision = self._guarded_review(
                self.sessions.review, explanation, parsed, line, "session state"
            )
        if self.ledger is not None:
            step = Step(parsed, explanation.analysis, explanation.decision, self.rules, self.policy)
            try:
                self.ledger.settle(step, explanation.decision)
            except Exception as exc:  # a reservation that cannot be committed is not spent
                explanation.decision = self._error(
                    parsed.id,
                    f"budget ledger unavailable: {type(exc).__name__}: {exc}",
                    line,
                    "internal error",
                )
        return explanation

    def _guarded_review(
        self,
        review: Callable[[Step], Decision],
        explanation: Explanation,
        parsed: Action,
        line: int | None,
        what: str,
    ) -> Decision:
        step = Step(parsed, explanation.analysis, explanation.decision, self.rules, self.policy)
        try:
            return review(step)
        except Exception as exc:  # a later layer failing must never let an action through
            decision = self._error(
                parsed.id,
                f"{what} unavailable: {type(exc).__name__}: {exc}",
                line,
                "internal error",
            )
            decision.session = parsed.session
            return decision

    def _explain(self, action: Any, line: int | None) -> Explanation:
        action_id = action.get("id") if isinstance(action, dict) else getattr(action, "id", None)
        try:
            parsed = action if isinstance(action, ACTION_TYPES) else parse_action(action)
        except ActionError as exc:
            where = f"line {line}: " if line is not None else ""
            return Explanation(
                self._error(exc.action_id, f"{where}{exc.message}", line, "malformed action"),
                None,
                None,
                None,
            )
        try:
            analysis = analyze(parsed, self.limits)
            judgement = judge(analysis, self.rules, self.policy)
        except ActionError as exc:  # a tool call mapped to an invalid inner action
            return Explanation(
                self._error(
                    parsed.id,
                    f"tool call arguments are invalid: {exc.message}",
                    line,
                    "malformed action",
                ),
                parsed,
                None,
                None,
            )
        except Exception as exc:
            return Explanation(self.internal_error(action_id, exc, line=line), parsed, None, None)
        return Explanation(self._decision(parsed, judgement), parsed, analysis, judgement)

    def internal_error(
        self, action_id: Any, exc: BaseException, *, line: int | None = None
    ) -> Decision:
        """The deny for an action whose judgement broke: Corral fails closed and says why.
        ``action_id`` is echoed only when it is a valid id (see :func:`echoable_id`)."""
        message = f"internal error: {type(exc).__name__}: {exc}"
        return self._error(echoable_id(action_id), message, line, "internal error")

    def reject(self, message: str, *, line: int | None = None) -> Decision:
        """The decision for input that is not an action at all (bad JSON, bad encoding)."""
        where = f"line {line}: " if line is not None else ""
        return self._error(None, f"{where}{message}", line, "malformed action")

    def _decision(self, action: Action, judgement: Judgement) -> Decision:
        monitor = self.policy.spec.mode == "monitor"
        return Decision(
            id=action.id,
            decision_id=new_decision_id(),
            decision="allow" if monitor else judgement.verdict,
            severity=judgement.severity,
            reason=judgement.reason,
            policy=self.policy.name,
            rules=judgement.findings,
            mode="monitor" if monitor else "enforce",
            would_decide=judgement.verdict if monitor else None,
            session=action.session,
        )

    def _error(
        self, action_id: str | int | None, message: str, line: int | None, what: str
    ) -> Decision:
        return Decision(
            id=action_id,
            decision_id=new_decision_id(),
            decision="deny",
            severity=Severity.high,
            reason=f"{what}: denied because Corral could not judge it ({message})",
            policy=self.policy.name,
            error=message,
            line=line,
        )

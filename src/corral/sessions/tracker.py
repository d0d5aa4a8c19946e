"""``SessionTracker``: the session hook a :class:`corral.Guard` calls for actions with ``session``.

Each step is one store transaction (the session row is locked for its whole read-judge-write, so
concurrent processes never lose each other's updates): read the session, judge the step in its
light (:mod:`corral.sessions.review`), save the session, append the decision to the hash-chained
decision table, group the alerts. After the commit new alerts go to the policy's sinks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from corral.engine.hooks import Step
from corral.model.actions import Action
from corral.model.decisions import VERDICT_ORDER, Decision, RuleRef, Verdict
from corral.sessions.review import Base, Outcome, quarantined_outcome, review
from corral.sessions.rules import QUARANTINED
from corral.sessions.signals import SUMMARY_CHARS, signals_of
from corral.sessions.stages import Stage
from corral.sessions.state import SessionState
from corral.sinks.alerts import ALERT_TITLE, AlertDispatcher, build_dispatcher
from corral.store.base import AlertRow, SessionRow, SessionTxn, Store

REPEAT_MILESTONES = frozenset(10**k for k in range(1, 10))  # grouped repeats sinks still hear of


@dataclass(slots=True)
class _Raised:
    row: AlertRow
    new: bool


class SessionTracker:
    """Judges actions with their session's history; state lives in ``store``.

    ``store`` may be a callable that opens the store: it is then opened on the first action that
    carries ``session``, so stateless runs never touch the state directory. ``clock`` gives the
    time (seconds since the epoch); with ``action_time`` an action's own ``ts`` is used instead,
    for replaying recorded sessions (never for live agents, who control their ``ts``).
    """

    def __init__(
        self,
        store: Store | Callable[[], Store],
        *,
        clock: Callable[[], float] = time.time,
        action_time: bool = False,
        alerts: AlertDispatcher | None = None,
        alert_stream: IO[str] | None = None,
    ) -> None:
        self._store: Store | None = None
        self._open: Callable[[], Store] | None = None
        if callable(store) and not hasattr(store, "session"):
            self._open = store
        else:
            self._store = store  # type: ignore[assignment]
        self.clock = clock
        self.action_time = action_time
        self.alerts = alerts
        self._alert_stream = alert_stream

    @property
    def store(self) -> Store:
        if self._store is None:
            assert self._open is not None  # one of the two is always set
            self._store = self._open()
        return self._store

    @property
    def opened(self) -> bool:
        return self._store is not None

    def review(self, step: Step) -> Decision:
        settings = step.policy.spec.sessions
        session_id = step.action.session
        if not settings.enabled:
            return step.decision
        if self.alerts is None:
            self.alerts = build_dispatcher(settings.alerts, self._alert_stream)
        if session_id is None:
            return self._sessionless(step, self.alerts)
        now = self._now(step.action)
        signals = signals_of(step)
        base = _base(step.decision)
        with self.store.session(session_id) as txn:
            row = txn.row or SessionRow(session_id, step.action.agent, now, now)
            state = SessionState.from_dict(row.state)
            if row.quarantined:
                outcome = quarantined_outcome(base, row.quarantine_reason)
                state.step += 1
            else:
                outcome = review(
                    state,
                    signals,
                    base,
                    settings,
                    now=now,
                    task=step.action.task,
                    released_ts=row.released_ts,
                    known_hosts=txn.known_hosts(signals.hosts) if state.secrets_ts else set(),
                )
                txn.remember_hosts(signals.hosts, now, settings.memory.hosts)
            decision = _compose(step.decision, outcome, state, base)
            raised = self._raise_alerts(txn, step, decision, outcome=outcome, state=state, now=now)
            if raised:
                assert decision.session_state is not None
                decision.session_state["alerts"] = [r.row.id for r in raised]
            self._update_row(
                row,
                step,
                decision,
                outcome=outcome,
                state=state,
                now=now,
            )
            if outcome.quarantined_now:
                txn.event("quarantine", {"reason": row.quarantine_reason, "step": state.step}, now)
            txn.save(row)
            txn.log_decision(decision.to_dict(), _plain(step.action), now)
        for item in raised:
            if item.new or item.row.count in REPEAT_MILESTONES:
                self.alerts.publish(item.row.to_dict())
        return decision

    def _sessionless(self, step: Step, alerts: AlertDispatcher) -> Decision:
        """An action without ``session`` has no history to weigh, but a deny or ask of it is
        still a Policy Violation: stored and alerted, grouped with earlier ones of its rule."""
        decision = step.decision
        verdict = _effective(decision)
        if verdict not in ("deny", "ask"):
            return decision
        now = self._now(step.action)
        key = decision.rules[0].id if decision.rules else "CR-ERR-000"
        outcome = Outcome(verdict, decision.severity)

        def body() -> dict[str, Any]:
            return _alert_body(
                step, decision, outcome, state=SessionState(), agent=None, kind=verdict, now=now
            )

        raised = self.store.sessionless(
            decision.to_dict(), _plain(step.action), (key, decision.severity.name, body), now
        )
        if raised is not None:
            row, new = raised
            if new or row.count in REPEAT_MILESTONES:
                alerts.publish(row.to_dict())
        return decision

    def close(self, timeout_s: float = 2.0) -> None:
        if self.alerts is not None:
            self.alerts.close(timeout_s)
        if self._store is not None:
            self._store.close()

    # -- pieces --------------------------------------------------------------------------------

    def _now(self, action: Action) -> float:
        if self.action_time and action.ts is not None:
            parsed = _parse_ts(action.ts)
            if parsed is not None:
                return parsed
        return self.clock()

    def _update_row(
        self,
        row: SessionRow,
        step: Step,
        decision: Decision,
        *,
        outcome: Outcome,
        state: SessionState,
        now: float,
    ) -> None:
        verdict = _effective(decision)
        state.count(verdict)
        if outcome.chain:
            state.note_chain(outcome.chain)
        row.agent = row.agent or step.action.agent
        row.first_ts = min(row.first_ts, now)
        row.last_ts = max(row.last_ts, now)
        row.actions += 1
        row.denies += verdict == "deny"
        row.asks += verdict == "ask"
        row.risk = state.risk
        row.stage = _furthest(state)
        if outcome.quarantined_now:
            row.quarantined = True
            row.quarantine_reason = (
                f"{len(state.deny_times)} denied actions within "
                f"{step.policy.spec.sessions.quarantine.window_s:g} s"
            )
        row.state = state.to_dict()

    def _raise_alerts(
        self,
        txn: SessionTxn,
        step: Step,
        decision: Decision,
        *,
        outcome: Outcome,
        state: SessionState,
        now: float,
    ) -> list[_Raised]:
        verdict = _effective(decision)
        keys: list[tuple[str, str]] = []
        if verdict in ("deny", "ask"):
            lead = decision.rules[0].id if decision.rules else "CR-ERR-000"
            keys.append((lead, verdict))
        if outcome.chain_rule and all(k != outcome.chain_rule for k, _ in keys):
            keys.append((outcome.chain_rule, "chain"))
        if outcome.quarantined_now and all(k != QUARANTINED.id for k, _ in keys):
            keys.append((QUARANTINED.id, "quarantine"))
        raised = []
        for key, kind in keys:

            def body(kind: str = kind) -> dict[str, Any]:
                # Built only for a new alert group: a repeat just counts.
                agent = txn.row.agent if txn.row is not None else None
                out = _alert_body(
                    step, decision, outcome, state=state, agent=agent, kind=kind, now=now
                )
                out["timeline"] = self._timeline(step)
                return out

            row, new = txn.alert(key, decision.severity.name, body, now)
            raised.append(_Raised(row, new))
        return raised

    def _timeline(self, step: Step) -> list[dict[str, Any]]:
        """The session's latest steps before this one (this step's row is not written yet)."""
        if step.action.session is None:
            return []
        limit = step.policy.spec.sessions.memory.timeline
        recent = self.store.decisions(step.action.session, limit)
        return [timeline_entry(d.seq, d.ts, d.body) for d in recent]


def _base(decision: Decision) -> Base:
    verdict: Verdict = decision.would_decide or decision.decision
    return Base(verdict, decision.severity, bool(decision.rules))


def _effective(decision: Decision) -> Verdict:
    return decision.would_decide or decision.decision


def _compose(decision: Decision, outcome: Outcome, state: SessionState, base: Base) -> Decision:
    rules = list(decision.rules)
    reason = decision.reason
    hardened = VERDICT_ORDER[outcome.verdict] > VERDICT_ORDER[base.verdict]
    if hardened:
        # The session decided: its finding leads, and the reason says what alone would have been.
        lead = max(
            (r for r in outcome.added if r.decision == outcome.verdict), key=lambda r: r.severity
        )
        rules = [lead, *(r for r in outcome.added if r is not lead), *rules]
        reason = f"{lead.id} {lead.title}: {lead.evidence}"
        if base.flagged:
            reason += f" (alone: {decision.reason})"
    elif outcome.added:
        rules.extend(outcome.added)
        if outcome.chain:
            reason += f"; session: {outcome.chain}"
    monitor = decision.mode == "monitor"
    return Decision(
        decision="allow" if monitor else outcome.verdict,
        severity=outcome.severity,
        reason=reason,
        policy=decision.policy,
        decision_id=decision.decision_id,
        id=decision.id,
        rules=rules,
        error=decision.error,
        line=decision.line,
        mode=decision.mode,
        would_decide=outcome.verdict if monitor else None,
        session=decision.session,
        session_state=_session_block(outcome, state),
    )


def _session_block(outcome: Outcome, state: SessionState) -> dict[str, Any]:
    stages = sorted(Stage[name] for name in state.stages)
    return {
        "step": state.step,
        "stage": stages[-1].name if stages else None,
        "stages": [s.name for s in stages],
        "risk": round(state.risk, 1),
        "chain": outcome.chain,
        "off_task": bool(outcome.off_task),
        "quarantined": outcome.quarantined,
    }


def _furthest(state: SessionState) -> str | None:
    stages = sorted(Stage[name] for name in state.stages)
    return stages[-1].name if stages else None


def _alert_body(
    step: Step,
    decision: Decision,
    outcome: Outcome,
    *,
    state: SessionState,
    agent: str | None,
    kind: str,
    now: float,
) -> dict[str, Any]:
    analysis = step.analysis
    matched: dict[str, Any] = {"evidence": [f"{r.id}: {r.evidence}" for r in decision.rules]}
    if analysis is not None:
        matched["programs"] = sorted(analysis.programs())
        matched["targets"] = sorted({t.host for t in analysis.targets})[:20]
        matched["files"] = sorted({f"{f.op} {f.path}" for f in analysis.files})[:20]
    return {
        "title": ALERT_TITLE,
        "kind": kind,
        "time": datetime.fromtimestamp(now).astimezone().isoformat(timespec="seconds"),
        "agent": step.action.agent or agent,
        "decision": _effective(decision),
        "decision_id": decision.decision_id,
        "reason": decision.reason,
        "rules": [_rule_dict(r) for r in decision.rules],
        "chain": outcome.chain,
        "off_task": outcome.off_task,
        "action": _plain(step.action),
        "analysis": matched,
        "stages": sorted(state.stages, key=lambda n: Stage[n]),
    }


def timeline_entry(seq: int, ts: float, body: dict[str, Any]) -> dict[str, Any]:
    """One readable line of a session's timeline from a stored decision row."""
    decision = body.get("decision", {})
    action = body.get("action", {})
    what = action.get("command") or action.get("url") or action.get("path") or action.get("host")
    if what is None:
        what = " ".join(str(v) for k, v in action.items() if k not in ("session", "agent", "kind"))
    state = decision.get("session_state") or {}
    return {
        "seq": seq,
        "ts": ts,
        "kind": action.get("kind"),
        "what": str(what)[:SUMMARY_CHARS],
        "decision": decision.get("would_decide") or decision.get("decision", "?"),
        "rules": [r.get("id", "") for r in decision.get("rules", [])],
        "chain": state.get("chain"),
        "off_task": bool(state.get("off_task")),
        "quarantined": bool(state.get("quarantined")),
    }


def _rule_dict(ref: RuleRef) -> dict[str, Any]:
    return {**ref.to_dict(), "severity": ref.severity.name, "decision": ref.decision}


def _plain(action: Action) -> dict[str, Any]:
    return action.model_dump(mode="json", exclude_none=True)


def _parse_ts(value: str | float) -> float | None:
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


__all__ = ["SessionTracker"]

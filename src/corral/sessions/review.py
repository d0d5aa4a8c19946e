"""The session judgement: one step, in the light of everything its session did before.

Pure: it reads and updates a :class:`SessionState` and returns what to add to the stateless
decision; the tracker does the storing. Four things can harden a verdict:

* a *chain link*: secrets gathered earlier, now a never-seen host or an upload (deny);
* a *chain advance*: the step reaches a kill-chain stage the session had not reached, and the
  session now spans ``chains.alert_stages`` stages (alert, severity up, ask becomes deny) or
  ``chains.deny_stages`` stages (deny) — stages do not fade, so slow chains are caught too;
* *risk*: every finding adds to a score that halves every ``risk.half_life_s``; a flagged step
  of a session over ``risk.ask_at`` / ``risk.deny_at`` is asked about / denied;
* *off-task*: with a ``task``, a step whose behaviour the task never mentions weighs double and
  is at least ``off_task.decision``.

``quarantine.denies`` denies within ``quarantine.window_s`` quarantine the session.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from corral.model.decisions import VERDICT_ORDER, RuleRef, Severity, Verdict, stricter
from corral.policy.model import SessionsSpec
from corral.sessions.rules import (
    CHAIN_ADVANCED,
    OFF_TASK,
    QUARANTINED,
    RISK_OVER_THRESHOLD,
    SECRET_THEN_NEW_HOST,
    SECRETS_THEN_UPLOAD,
)
from corral.sessions.signals import StepSignals
from corral.sessions.stages import Stage, off_task_topics
from corral.sessions.state import SessionState

# Risk a finding adds, by the severity of the stateless decision.
SEVERITY_RISK = {
    Severity.info: 0.0,
    Severity.low: 3.0,
    Severity.medium: 12.0,
    Severity.high: 25.0,
    Severity.critical: 40.0,
}
CHAIN_RISK_FACTOR = 2.0


@dataclass(slots=True)
class Base:
    """The stateless decision's verdict and severity (``would_decide`` in monitor mode)."""

    verdict: Verdict
    severity: Severity
    flagged: bool  # it matched a rule or clause


@dataclass(slots=True)
class Outcome:
    verdict: Verdict
    severity: Severity
    added: list[RuleRef] = field(default_factory=list)
    chain: str | None = None
    chain_rule: str | None = None
    off_task: list[str] = field(default_factory=list)
    quarantined_now: bool = False
    quarantined: bool = False
    new_stages: list[Stage] = field(default_factory=list)
    risk: float = 0.0

    def add(self, ref: RuleRef) -> None:
        self.added.append(ref)
        self.verdict = stricter(self.verdict, ref.decision)
        self.severity = max(self.severity, ref.severity)


def bump(severity: Severity) -> Severity:
    return Severity(min(Severity.critical, severity + 1))


def stage_names(stages: list[Stage]) -> str:
    return " → ".join(s.name for s in sorted(stages))


def quarantined_outcome(base: Base, reason: str | None) -> Outcome:
    out = Outcome(base.verdict, base.severity, quarantined=True)
    why = reason or "repeated denied actions"
    out.add(QUARANTINED.ref(Severity.high, "deny", f"the session is quarantined ({why})"))
    return out


def review(
    state: SessionState,
    signals: StepSignals,
    base: Base,
    settings: SessionsSpec,
    *,
    now: float,
    task: str | None,
    released_ts: float | None,
    known_hosts: set[str],
) -> Outcome:
    """Judge one step of a session that is not quarantined; updates ``state`` in place."""
    out = Outcome(base.verdict, base.severity)
    _forget_old_stages(state, now, settings.chains.window_s)
    _chain_links(state, signals, known_hosts, out)
    advancing = _chain_advance(state, signals, base, settings, out)
    if task:
        _off_task(task, signals, settings, out)
    _risk(state, signals, base, settings, now=now, chained=advancing or bool(out.chain), out=out)
    _remember(state, signals, settings, now)
    _quarantine(state, settings, now, released_ts, out)
    return out


def _forget_old_stages(state: SessionState, now: float, window_s: float) -> None:
    for name, when in list(state.stages.items()):
        if now - when > window_s:
            del state.stages[name]


def _chain_links(
    state: SessionState, signals: StepSignals, known_hosts: set[str], out: Outcome
) -> None:
    if state.secrets_ts is None:
        return
    new_hosts = [h for h in signals.hosts if h not in known_hosts]
    if new_hosts:
        out.add(
            SECRET_THEN_NEW_HOST.ref(
                Severity.critical,
                "deny",
                f"the session gathered secrets (step {state.counters.get('secrets_step', 0)}) and "
                f"now reaches {new_hosts[0]}, a host it never contacted before",
            )
        )
        out.chain, out.chain_rule = "credential_access → new host", SECRET_THEN_NEW_HOST.id
    elif signals.upload:
        out.add(
            SECRETS_THEN_UPLOAD.ref(
                Severity.critical,
                "deny",
                "the session gathered environment or credentials "
                f"(step {state.counters.get('secrets_step', 0)}) and now uploads data",
            )
        )
        out.chain, out.chain_rule = "secrets gathered → upload", SECRETS_THEN_UPLOAD.id


def _chain_advance(
    state: SessionState, signals: StepSignals, base: Base, settings: SessionsSpec, out: Outcome
) -> bool:
    reached = {Stage[name] for name in state.stages}
    new = sorted(signals.stages - reached)
    out.new_stages = new
    if not new or not reached:
        return False
    spanned = sorted(reached | signals.stages)
    chain = stage_names(spanned)
    evidence = f"the session has now reached {len(spanned)} kill-chain stages ({chain})"
    if len(spanned) >= settings.chains.deny_stages:
        out.add(CHAIN_ADVANCED.ref(max(Severity.high, bump(base.severity)), "deny", evidence))
    elif len(spanned) >= settings.chains.alert_stages:
        # Judged more severely than alone: one severity up, and a question becomes a refusal.
        verdict: Verdict = "allow" if base.verdict == "allow" else "deny"
        out.add(CHAIN_ADVANCED.ref(max(Severity.medium, bump(base.severity)), verdict, evidence))
    else:
        return False
    if out.chain is None:
        out.chain, out.chain_rule = chain, CHAIN_ADVANCED.id
    return True


def _off_task(task: str, signals: StepSignals, settings: SessionsSpec, out: Outcome) -> None:
    topics = off_task_topics(task, signals.topics)
    if not topics:
        return
    out.off_task = topics
    verdict = settings.off_task.decision
    if VERDICT_ORDER[verdict] > VERDICT_ORDER[out.verdict]:
        out.add(
            OFF_TASK.ref(
                Severity.medium,
                verdict,
                f"{', '.join(topics)} has nothing to do with the task",
            )
        )


def _risk(
    state: SessionState,
    signals: StepSignals,
    base: Base,
    settings: SessionsSpec,
    *,
    now: float,
    chained: bool,
    out: Outcome,
) -> None:
    risk = state.decayed_risk(now, settings.risk.half_life_s)
    added = SEVERITY_RISK[out.severity if chained else base.severity]
    if out.off_task:
        added *= settings.off_task.weight
    if chained:
        added *= CHAIN_RISK_FACTOR
    risk += added
    state.risk, state.risk_ts = risk, max(now, state.risk_ts)
    out.risk = risk
    flagged = base.flagged or bool(signals.stages) or signals.upload or signals.spend
    if not flagged:
        return
    evidence = f"session risk {risk:.0f}"
    if risk >= settings.risk.deny_at:
        out.add(
            RISK_OVER_THRESHOLD.ref(
                Severity.high, "deny", f"{evidence} is over deny_at {settings.risk.deny_at:g}"
            )
        )
    elif risk >= settings.risk.ask_at and out.verdict == "allow":
        out.add(
            RISK_OVER_THRESHOLD.ref(
                Severity.medium, "ask", f"{evidence} is over ask_at {settings.risk.ask_at:g}"
            )
        )


def _remember(
    state: SessionState, signals: StepSignals, settings: SessionsSpec, now: float
) -> None:
    state.step += 1
    for stage in signals.stages:
        state.stages.setdefault(stage.name, now)
    if signals.secrets:
        state.secrets_ts = now
        state.counters["secrets_step"] = state.step


def _quarantine(
    state: SessionState,
    settings: SessionsSpec,
    now: float,
    released_ts: float | None,
    out: Outcome,
) -> None:
    spec = settings.quarantine
    if out.verdict != "deny":
        return
    since = now - spec.window_s
    if released_ts is not None:
        since = max(since, released_ts)
    recent = [t for t in state.deny_times if t >= since]
    recent.append(now)
    state.deny_times = recent[-spec.denies :]
    if spec.enabled and len(recent) >= spec.denies:
        out.quarantined_now = out.quarantined = True

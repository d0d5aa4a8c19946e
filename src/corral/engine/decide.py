"""Combine rule hits and policy findings into one verdict, applying overrides and exceptions."""

from __future__ import annotations

from dataclasses import dataclass, field

from corral.analysis.facts import Analysis
from corral.model.decisions import VERDICT_ORDER, RuleRef, Severity, Verdict, stricter
from corral.policy.evaluate import policy_findings
from corral.policy.loader import Policy
from corral.rules.loader import RuleSet
from corral.rules.model import Rule


@dataclass(slots=True)
class Judgement:
    """What the engine concluded, before it is dressed as a Decision."""

    verdict: Verdict
    severity: Severity
    findings: list[RuleRef]
    reason: str
    excepted: list[tuple[str, str]] = field(default_factory=list)


def rule_ref(rule: Rule, evidence: str, policy: Policy) -> RuleRef | None:
    override = policy.spec.rules.get(rule.id)
    severity, verdict = rule.severity, rule.verdict
    if override is not None:
        if not override.enabled:
            return None
        if override.severity is not None:
            severity = Severity.parse(override.severity)
        if override.decision is not None:
            verdict = override.decision
    return RuleRef(
        id=rule.id,
        title=rule.title,
        attack=tuple(rule.spec.attack),
        severity=severity,
        decision=verdict,
        evidence=rule.reason_for(evidence),
    )


def _override_clause(ref: RuleRef, policy: Policy) -> RuleRef | None:
    override = policy.spec.rules.get(ref.id)
    if override is None:
        return ref
    if not override.enabled:
        return None
    return RuleRef(
        id=ref.id,
        title=ref.title,
        attack=ref.attack,
        severity=Severity.parse(override.severity) if override.severity else ref.severity,
        decision=override.decision or ref.decision,
        evidence=ref.evidence,
        clause=ref.clause,
    )


def judge(analysis: Analysis, rules: RuleSet, policy: Policy) -> Judgement:
    refs: list[RuleRef] = []
    for rule, evidence in rules.match(analysis):
        ref = rule_ref(rule, evidence, policy)
        if ref is not None:
            refs.append(ref)
    for clause_ref in policy_findings(policy, analysis):
        ref = _override_clause(clause_ref, policy)
        if ref is not None:
            refs.append(ref)
    refs, excepted = _apply_exceptions(refs, analysis, policy)
    return _conclude(refs, excepted)


def _apply_exceptions(
    refs: list[RuleRef], analysis: Analysis, policy: Policy
) -> tuple[list[RuleRef], list[tuple[str, str]]]:
    if not policy.exceptions or not refs:
        return refs, []
    excepted: list[tuple[str, str]] = []
    kept: list[RuleRef] = []
    for ref in refs:
        waiver = next(
            (
                e
                for e in policy.exceptions
                if ref.id in e.rules and e.condition.test(analysis) is not None
            ),
            None,
        )
        if waiver is None:
            kept.append(ref)
        else:
            excepted.append((ref.id, waiver.reason))
    return kept, excepted


def _conclude(refs: list[RuleRef], excepted: list[tuple[str, str]]) -> Judgement:
    if not refs:
        return Judgement("allow", Severity.info, [], "no rule or policy clause matched", excepted)
    verdict: Verdict = "allow"
    severity = Severity.info
    for ref in refs:
        verdict = stricter(verdict, ref.decision)
        severity = max(severity, ref.severity)
    # The reason comes from the finding that decided: strictest verdict, then highest severity.
    ordered = sorted(refs, key=lambda r: (VERDICT_ORDER[r.decision], r.severity), reverse=True)
    lead = ordered[0]
    reason = (
        f"{lead.id} {lead.evidence if lead.clause == '' else lead.title + ': ' + lead.evidence}"
    )
    if len(ordered) > 1:
        reason += f" (and {len(ordered) - 1} more finding{'s' if len(ordered) > 2 else ''})"
    return Judgement(verdict, severity, ordered, reason, excepted)

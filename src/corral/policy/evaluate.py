"""Judge the facts of one action against a policy's clauses (egress, workspace, spend, ...)."""

from __future__ import annotations

from collections.abc import Iterator

from corral.analysis.content import CONTENT_ORIGIN
from corral.analysis.facts import Analysis, NetTarget
from corral.model.decisions import RuleRef
from corral.policy import clauses as C
from corral.policy.egress import is_guarded, is_loopback
from corral.policy.loader import Policy
from corral.rules.conditions import describe_target, shorten

WRITE_OPS = frozenset({"write", "append", "delete", "chmod"})
PRIVILEGE_PROGRAMS = frozenset({"sudo", "su", "doas", "pkexec", "runuser", "sudoedit", "setpriv"})
_PSEUDO_FILES = (
    "/dev/null",
    "/dev/stdout",
    "/dev/stderr",
    "/dev/tty",
    "/dev/fd/",
    "/proc/self/fd/",
)


def finding(clause: C.Clause, evidence: str) -> RuleRef:
    return RuleRef(
        id=clause.id,
        title=clause.title,
        attack=clause.attack,
        severity=clause.severity,
        decision=clause.verdict,
        evidence=evidence,
        clause=clause.clause,
    )


def policy_findings(policy: Policy, analysis: Analysis) -> list[RuleRef]:
    found = [
        *_problems(analysis),
        *_egress(policy, analysis),
        *_files(policy, analysis),
        *_programs(policy, analysis),
        *_spend(policy, analysis),
    ]
    # One entry per clause: the first evidence is enough for the reason; the rest is in explain.
    unique: dict[str, RuleRef] = {}
    for ref in found:
        unique.setdefault(ref.id, ref)
    return list(unique.values())


def _problems(analysis: Analysis) -> Iterator[RuleRef]:
    for problem in analysis.problems:
        yield finding(C.UNANALYSABLE, f"Corral cannot vouch for what it cannot read: {problem}")


def _egress(policy: Policy, analysis: Analysis) -> Iterator[RuleRef]:
    spec = policy.spec.egress
    if spec.open:
        return
    for target in analysis.targets:
        if target.source.startswith(CONTENT_ORIGIN):
            continue  # a URL inside a file being written is not a connection being made
        verdict = egress_verdict(policy, target)
        if verdict is C.PRIVATE_NET:
            yield finding(
                verdict,
                f"{describe_target(target)} is a private, link-local or metadata address "
                "that the policy does not name",
            )
        elif verdict is not None:
            yield finding(
                verdict, f"{describe_target(target)} is not on the policy's egress allowlist"
            )


def egress_verdict(policy: Policy, target: NetTarget) -> C.Clause | None:
    """The clause a target breaks, or None when the policy lets it through."""
    host = target.host
    if target.direction == "listen":
        return None  # listening is judged by behaviour rules (bind shells), not the egress list
    if policy.egress.names(host, target.port):
        return None
    if is_guarded(host):
        return C.PRIVATE_NET
    if policy.spec.egress.loopback and is_loopback(host):
        return None
    if host.startswith("$") or not host:
        return C.EGRESS  # a host hidden behind a variable cannot be shown to be allowed
    if policy.egress.allows(host, target.port):
        return None
    return C.EGRESS


def _inside(path: str, roots: tuple[str, ...]) -> bool:
    return any(root in ("/", path) or path.startswith(root.rstrip("/") + "/") for root in roots)


def _files(policy: Policy, analysis: Analysis) -> Iterator[RuleRef]:
    for access in analysis.files:
        if access.op not in WRITE_OPS or access.path.startswith(_PSEUDO_FILES):
            continue
        if access.source.startswith(CONTENT_ORIGIN):
            continue
        if _inside(access.path, policy.protected):
            yield finding(
                C.PROTECTED,
                f"{access.op} of {access.path}, which is protected (Corral's own policy or state)",
            )
        elif access.path.startswith(("/", "~")) and not _inside(access.path, policy.workspace):
            yield finding(
                C.OUTSIDE_WORKSPACE,
                f"{access.op} of {access.path}, outside the workspace "
                f"({', '.join(policy.workspace)})",
            )


def _programs(policy: Policy, analysis: Analysis) -> Iterator[RuleRef]:
    denied = frozenset(policy.spec.programs.deny)
    check_privilege = policy.spec.privilege == "deny"
    for cmd in analysis.commands:
        if cmd.via and cmd.via[0].startswith(CONTENT_ORIGIN):
            continue
        if cmd.program in denied:
            yield finding(
                C.PROGRAM_DENIED,
                f"{cmd.program} is on the policy's deny list: {shorten(' '.join(cmd.argv))}",
            )
        if check_privilege and (
            cmd.program in PRIVILEGE_PROGRAMS
            or any(v.split()[0] in PRIVILEGE_PROGRAMS for v in cmd.via if v)
        ):
            yield finding(
                C.PRIVILEGE,
                f"the policy allows no privilege changes: {shorten(' '.join(cmd.argv))}",
            )


def _spend(policy: Policy, analysis: Analysis) -> Iterator[RuleRef]:
    spend = analysis.spend
    budget = policy.spec.spend
    if spend is None or budget.budget is None:
        return
    shown = f"{spend.amount:g} {spend.currency}"
    if spend.currency != budget.currency.upper() and spend.amount > 0:
        yield finding(C.CURRENCY, f"{shown}; the budget is in {budget.currency}")
    elif spend.amount > budget.budget:
        yield finding(
            C.OVER_BUDGET,
            f"{shown} exceeds the per-action budget of {budget.budget:g} {budget.currency}",
        )

"""What one judged action means to its session: stages reached, hosts, uploads, spending."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field

from corral.analysis.facts import Analysis
from corral.engine.hooks import Step
from corral.model.actions import (
    Action,
    ExecAction,
    FileAction,
    HttpAction,
    NetAction,
    SpendAction,
    ToolAction,
)
from corral.sessions.stages import CATEGORY_STAGE, CLAUSE_STAGE, TOPIC_WORDS, Stage

# Rules whose match means the session now holds secrets from the environment or a store.
SECRET_GATHERING = frozenset({"CR-CRD-012", "CR-CRD-013", "CR-CRD-014", "CR-CRD-023"})
_UPLOAD_OPTIONS = {
    "curl": frozenset(
        {"-d", "--data", "--data-binary", "--data-raw", "--data-urlencode", "-F", "--form", "-T"}
        | {"--upload-file", "--json"}
    ),
    "wget": frozenset({"--post-data", "--post-file", "--body-data", "--body-file"}),
}
_COPY_PROGRAMS = frozenset({"scp", "rsync", "sftp", "rclone"})
_UPLOAD_METHODS = frozenset({"POST", "PUT", "PATCH"})
SUMMARY_CHARS = 200


@dataclass(slots=True)
class StepSignals:
    """Facts about one step that only matter in the light of what came before."""

    stages: set[Stage] = field(default_factory=set)
    categories: set[str] = field(default_factory=set)
    hosts: list[str] = field(default_factory=list)
    upload: bool = False
    spend: bool = False
    secrets: bool = False

    @property
    def topics(self) -> set[str]:
        topics = self.categories & TOPIC_WORDS.keys()
        if self.spend:
            topics.add("wallet_abuse")
        return topics


def signals_of(step: Step) -> StepSignals:
    out = StepSignals()
    for ref in step.decision.rules:
        rule = step.rules.rules.get(ref.id)
        if rule is not None:
            out.categories.add(rule.spec.category)
            stage = CATEGORY_STAGE.get(rule.spec.category)
        else:
            stage = CLAUSE_STAGE.get(ref.id)
        if stage is not None:
            out.stages.add(stage)
        if ref.id in SECRET_GATHERING:
            out.secrets = True
    if out.categories & {"credential_access"}:
        out.secrets = True
    analysis = step.analysis
    if analysis is not None:
        _read_analysis(analysis, out)
    if out.spend:
        out.stages.add(Stage.spend_exfiltration)
    return out


def _read_analysis(analysis: Analysis, out: StepSignals) -> None:
    for target in analysis.targets:
        host = target.host.strip("[]").casefold()
        if target.direction == "out" and host and not _is_loopback(host) and host not in out.hosts:
            out.hosts.append(host)
    if analysis.http is not None and analysis.http.method.upper() in _UPLOAD_METHODS:
        out.upload = out.upload or bool(analysis.http.body)
    for command in analysis.commands:
        if command.program in _COPY_PROGRAMS and analysis.targets:
            out.upload = True
        options = _UPLOAD_OPTIONS.get(command.program)
        if options and options & command.options.keys():
            out.upload = True
        if command.program in ("env", "printenv") and not command.args:
            out.secrets = True
    if analysis.spend is not None and analysis.spend.amount > 0:
        out.spend = True


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def summarize(action: Action) -> str:
    """One line a person reads in a timeline (redacted by the caller before it is stored)."""
    text: str
    if isinstance(action, ExecAction):
        text = action.command if action.command is not None else " ".join(action.argv or [])
    elif isinstance(action, FileAction):
        text = f"{action.op} {action.path}"
    elif isinstance(action, NetAction):
        text = f"{action.direction} {action.host}:{action.port}/{action.proto}"
    elif isinstance(action, HttpAction):
        text = f"{action.method} {action.url}"
    elif isinstance(action, SpendAction):
        to = f" to {action.recipient}" if action.recipient else ""
        text = f"{action.amount:g} {action.currency}{to}"
    elif isinstance(action, ToolAction):
        args = json.dumps(action.args, ensure_ascii=False, default=str) if action.args else ""
        text = f"{action.name} {args}".strip()
    else:  # pragma: no cover - the union is exhaustive
        text = ""
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"

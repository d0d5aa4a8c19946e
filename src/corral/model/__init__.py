"""The action/decision contract: what an agent is about to do, and Corral's verdict on it."""

from corral.model.actions import (
    Action,
    ActionError,
    ExecAction,
    FileAction,
    HttpAction,
    NetAction,
    SpendAction,
    ToolAction,
    parse_action,
)
from corral.model.decisions import Decision, RuleRef, Severity, Verdict

__all__ = [
    "Action",
    "ActionError",
    "Decision",
    "ExecAction",
    "FileAction",
    "HttpAction",
    "NetAction",
    "RuleRef",
    "Severity",
    "SpendAction",
    "ToolAction",
    "Verdict",
    "parse_action",
]

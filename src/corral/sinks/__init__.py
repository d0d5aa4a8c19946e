"""Sinks: where decisions go after the engine has made them.

The layer sits beside the engine: it may use the model (actions, decisions) and the utilities, but
never the command line. :mod:`corral.sinks.redact` removes secrets before anything is written and
:mod:`corral.sinks.decision_log` keeps a tamper-evident, append-only record of every decision.
"""

from corral.sinks.decision_log import (
    GENESIS,
    DecisionLog,
    LogCorrupt,
    LogError,
    LogLocked,
    Problem,
    TornTail,
    VerifyResult,
    load_key,
    verify,
)
from corral.sinks.redact import Redaction, RedactionPattern, Redactor, default_redactor

__all__ = [
    "GENESIS",
    "DecisionLog",
    "LogCorrupt",
    "LogError",
    "LogLocked",
    "Problem",
    "Redaction",
    "RedactionPattern",
    "Redactor",
    "TornTail",
    "VerifyResult",
    "default_redactor",
    "load_key",
    "verify",
]

"""``corral audit``: what the environment an agent would run in lets it reach.

Checks (credentials, reachable services, privilege, compute and money, Corral itself) are listed
in :data:`corral.audit.registry.CHECKS`; each reports findings with a stable id, severity,
evidence (where, never what: secret values are not printed), ATT&CK technique and a fix. The
layer sits beside the supervisor and sinks: it reads the policy layer and the redactor's
secret shapes, and nothing below imports it.
"""

from corral.audit.config import AuditConfig, Endpoint
from corral.audit.model import Finding, Report, ReportMeta
from corral.audit.registry import CHECKS, Check
from corral.audit.runner import AuditError, run_audit
from corral.audit.summary import Comparison, compare, risk_summary, summary_line

__all__ = [
    "CHECKS",
    "AuditConfig",
    "AuditError",
    "Check",
    "Comparison",
    "Endpoint",
    "Finding",
    "Report",
    "ReportMeta",
    "compare",
    "risk_summary",
    "run_audit",
    "summary_line",
]

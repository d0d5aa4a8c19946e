"""The clauses under which the proxy itself refuses a connection the engine allowed.

They appear in decisions exactly like policy clauses (``rules`` with an id, title and clause), so a
refusal at the network names a stable id a person can look up and a policy can override.
"""

from __future__ import annotations

from corral.model.decisions import Severity
from corral.policy.clauses import Clause

DOMAIN_FRONTING = Clause(
    "CR-NET-001",
    "TLS server name differs from the host the tunnel was opened to (domain fronting)",
    "egress.allow",
    Severity.high,
    "deny",
    ("T1090.004",),
)
UNREADABLE_HELLO = Clause(
    "CR-NET-002",
    "TLS handshake whose server name cannot be read",
    "egress.allow",
    Severity.high,
    "deny",
    ("T1090.004",),
)
UPLOAD_BUDGET = Clause(
    "CR-NET-003",
    "Session sent more than the policy's upload budget",
    "egress.upload_budget",
    Severity.high,
    "deny",
    ("T1030", "T1048"),
)
TOO_MANY_CONNECTIONS = Clause(
    "CR-NET-004",
    "Session holds too many connections at once",
    "proxy.limits",
    Severity.medium,
    "deny",
    ("T1499",),
)
UNRESOLVABLE = Clause(
    "CR-NET-005",
    "Host name that could not be resolved",
    "egress.allow",
    Severity.low,
    "deny",
)

UNSUPPORTED = Clause(
    "CR-NET-006",
    "SOCKS command other than CONNECT (UDP relay, inbound BIND)",
    "proxy.socks",
    Severity.medium,
    "deny",
    ("T1095",),
)

PROXY_CLAUSES: dict[str, Clause] = {
    c.id: c
    for c in (
        DOMAIN_FRONTING,
        UNREADABLE_HELLO,
        UPLOAD_BUDGET,
        TOO_MANY_CONNECTIONS,
        UNRESOLVABLE,
        UNSUPPORTED,
    )
}

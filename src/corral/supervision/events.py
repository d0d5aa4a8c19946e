"""What the supervisor reports: one :class:`Event` per fence step, judgement and response."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from corral.model.decisions import Decision

# "unjudged": an exec of the agent that was gone before its command line could be read.
EventKind = Literal["fence", "exec", "unjudged", "net", "finding", "response", "exit"]


@dataclass(slots=True)
class Event:
    kind: EventKind
    summary: str
    mono: float = field(default_factory=time.monotonic)
    wall: float = field(default_factory=time.time)
    pid: int | None = None
    decision: Decision | None = None
    action: dict[str, Any] | None = None
    # "stop" (one process), "refuse" (one connection, by the egress proxy), "alert",
    # "throttle", "freeze", "kill"
    step: str | None = None
    evidence: dict[str, Any] | None = None
    latency_ms: float | None = None  # from the kernel's exec (or the behaviour's start)
    logged: bool = False  # already in the decision log (the proxy writes before it acts)

    @property
    def ts(self) -> str:
        return datetime.fromtimestamp(self.wall, UTC).isoformat(timespec="milliseconds")

    def record(self) -> dict[str, Any]:
        """The decision-log body: the decision plus the supervisor's step and evidence."""
        body: dict[str, Any] = self.decision.to_dict() if self.decision else {}
        body["supervisor"] = {
            "event": self.kind,
            "summary": self.summary,
            "ts": self.ts,
            **({"pid": self.pid} if self.pid is not None else {}),
            **({"step": self.step} if self.step else {}),
            **({"latency_ms": round(self.latency_ms, 2)} if self.latency_ms is not None else {}),
            **({"evidence": self.evidence} if self.evidence else {}),
        }
        return body

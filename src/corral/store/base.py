"""The store's interface: what the session layer and the CLI need, whatever the database.

The embedded SQLite backend (:mod:`corral.store.sqlite`) is the default; a server database can
follow by implementing :class:`Store` and :class:`SessionTxn`. The contract that matters for
correctness is :meth:`Store.session`: it yields the session's row under a lock that every other
writer of that session (in any process) waits for, and commits everything done through the
transaction (state, decision, alerts, events) atomically or not at all. SQLite gets this from
``BEGIN IMMEDIATE``; PostgreSQL would use ``SELECT ... FOR UPDATE`` on the session row and a
sequence-locked chain head.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

SEVERITIES = ("info", "low", "medium", "high", "critical")


class StoreError(Exception):
    """The store cannot be opened, read or written; callers fail closed."""


@dataclass(slots=True)
class SessionRow:
    """One session as the store keeps it.

    The columns are what listings and quarantine need; ``state`` is the session layer's own
    bounded record (stages, risk inputs, a capped timeline), opaque to the store.
    """

    id: str
    agent: str | None = None
    first_ts: float = 0.0
    last_ts: float = 0.0
    actions: int = 0
    denies: int = 0
    asks: int = 0
    risk: float = 0.0
    stage: str | None = None
    quarantined: bool = False
    quarantine_reason: str | None = None
    released_ts: float | None = None
    state: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "agent": self.agent,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "actions": self.actions,
            "denies": self.denies,
            "asks": self.asks,
            "risk": round(self.risk, 2),
            "stage": self.stage,
            "quarantined": self.quarantined,
            "quarantine_reason": self.quarantine_reason,
            "released_ts": self.released_ts,
        }


@dataclass(slots=True)
class AlertRow:
    """One grouped alert: the first occurrence's body, and how often and how lately it recurred."""

    id: str
    session: str | None
    key: str
    severity: str
    first_ts: float
    last_ts: float
    count: int
    body: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.body,
            "id": self.id,
            "session": self.session,
            "severity": self.severity,
            "first_seen": self.first_ts,
            "last_seen": self.last_ts,
            "count": self.count,
        }


@dataclass(slots=True)
class DecisionRow:
    seq: int
    ts: float
    session: str | None
    verdict: str
    body: dict[str, Any]
    prev: str
    hash: str


@dataclass(slots=True)
class SessionEvent:
    """Something a person or the session layer did to a session: quarantine, release."""

    session: str
    ts: float
    kind: str
    detail: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"session": self.session, "ts": self.ts, "kind": self.kind, **self.detail}


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """The outcome of checking the decisions' hash chain; ``first_bad`` names the first bad seq."""

    ok: bool
    records: int
    first_bad: int | None = None
    problem: str = ""


class SessionTxn(Protocol):
    """Everything written for one step of one session, committed together."""

    row: SessionRow | None

    def save(self, row: SessionRow) -> None: ...

    def log_decision(self, decision: Mapping[str, Any], action: Any, ts: float) -> int: ...

    def alert(
        self, key: str, severity: str, body: Callable[[], Mapping[str, Any]], ts: float
    ) -> tuple[AlertRow, bool]: ...

    def event(self, kind: str, detail: Mapping[str, Any], ts: float) -> None: ...

    def known_hosts(self, hosts: list[str]) -> set[str]:
        """Which of ``hosts`` this session contacted before."""
        ...

    def remember_hosts(self, hosts: list[str], ts: float, cap: int) -> None: ...


class Store(Protocol):
    def session(self, session_id: str) -> AbstractContextManager[SessionTxn]: ...

    def sessionless(
        self,
        decision: Mapping[str, Any],
        action: Any,
        alert: tuple[str, str, Callable[[], Mapping[str, Any]]] | None,
        ts: float,
    ) -> tuple[AlertRow, bool] | None: ...

    def log_decisions(self, entries: Iterable[tuple[float, Mapping[str, Any], Any]]) -> int: ...

    def get_session(self, session_id: str) -> SessionRow | None: ...

    def list_sessions(self, limit: int = 100) -> list[SessionRow]: ...

    def decisions(self, session_id: str | None, limit: int = 100) -> list[DecisionRow]: ...

    def alerts(
        self,
        *,
        since: float | None = None,
        min_severity: str | None = None,
        session_id: str | None = None,
        limit: int = 100,
    ) -> list[AlertRow]: ...

    def events(self, session_id: str) -> list[SessionEvent]: ...

    def release(self, session_id: str, reason: str, by: str, ts: float) -> bool: ...

    def verify(self) -> ChainCheck: ...

    def close(self) -> None: ...


def iter_chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk

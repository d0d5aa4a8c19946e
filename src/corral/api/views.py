"""Sessions, alerts and approvals over HTTP: what ``corral show``/``alerts``/``approvals`` give.

Handlers run on the event loop like the decision endpoints: the store and the ledger answer in
well under a millisecond for these reads, and the session store's connection is shared with the
guard, which judges on the same thread.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from corral.api.errors import ApiError
from corral.api.state import ApiState
from corral.ledger.errors import ApprovalError, LedgerError
from corral.ledger.model import ApprovalState
from corral.sessions.tracker import timeline_entry
from corral.store.base import SEVERITIES, StoreError

JsonBody = Callable[[Request], Awaitable[Any]]

APPROVAL_STATES: tuple[ApprovalState, ...] = ("pending", "approved", "denied", "used", "expired")
MAX_LIMIT = 1000
MIN_REASON = 5
MAX_REASON = 2000
MAX_VALID_FOR = 30 * 86400
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@contextmanager
def _backend(what: str) -> Iterator[None]:
    """A store or ledger failure is a 503 naming what failed, never a traceback."""
    try:
        yield
    except (StoreError, LedgerError) as exc:
        raise ApiError("unavailable", f"the {what} cannot be used: {exc}") from exc


def _limit(request: Request, default: int) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ApiError("invalid_parameter", f"limit={raw!r}: give a whole number 1-{MAX_LIMIT}")
    return int(raw)


def parse_since(raw: str | None, now: float) -> float | None:
    """``30m``/``2h``/``1d`` ago, an RFC 3339 time, or epoch seconds; None when absent."""
    if raw is None:
        return None
    text = raw.strip()
    match = _DURATION.match(text)
    if match:
        return now - float(match.group(1)) * _UNIT_S[match.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ApiError(
            "invalid_parameter",
            f"since={raw!r} is neither a duration (30m, 2h, 1d), a time "
            "(2025-01-02T03:04:05Z) nor epoch seconds",
        ) from None


def _choice(request: Request, name: str, allowed: tuple[str, ...]) -> str | None:
    raw = request.query_params.get(name)
    if raw is not None and raw not in allowed:
        raise ApiError("invalid_parameter", f"{name}={raw!r}: use one of {', '.join(allowed)}")
    return raw


def _reason(body: Any) -> str:
    reason = body.get("reason") if isinstance(body, dict) else None
    if not isinstance(reason, str) or len(reason.strip()) < MIN_REASON:
        raise ApiError(
            "invalid_parameter",
            f'the body must be {{"reason": "..."}}: say in at least {MIN_REASON} characters why '
            "(it is recorded)",
        )
    if len(reason) > MAX_REASON:
        raise ApiError("invalid_parameter", f"reason: at most {MAX_REASON} characters")
    return reason.strip()


def _valid_for(body: dict[str, Any]) -> int:
    value = body.get("valid_for", 3600)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_VALID_FOR:
        raise ApiError(
            "invalid_parameter", f"valid_for: a whole number of seconds, 1-{MAX_VALID_FOR}"
        )
    return value


def caller(request: Request) -> str:
    """Who is recorded for a change: the name of the bearer token presented, else ``api``."""
    name = getattr(request.state, "caller", None)
    return name if isinstance(name, str) else "api"


class StateViews:
    """The session, alert and approval endpoints over one :class:`ApiState`."""

    def __init__(self, state: ApiState, json_body: JsonBody) -> None:
        self.state = state
        self.json_body = json_body

    async def list_sessions(self, request: Request) -> Response:
        limit = _limit(request, 100)
        with _backend("session store"):
            rows = self.state.store().list_sessions(limit)
        return JSONResponse({"sessions": [row.to_dict() for row in rows]})

    async def show_session(self, request: Request) -> Response:
        session_id = request.path_params["session_id"]
        limit = _limit(request, 50)
        with _backend("session store"):
            store = self.state.store()
            row = store.get_session(session_id)
            if row is None:
                raise ApiError("resource_not_found", f"no session {session_id!r}")
            decisions = store.decisions(session_id, limit)
            alerts = store.alerts(session_id=session_id, limit=limit)
            events = store.events(session_id)
        return JSONResponse(
            {
                "session": row.to_dict(),
                "stages": row.state.get("stages", {}),
                "chains": row.state.get("chains", []),
                "timeline": [timeline_entry(d.seq, d.ts, d.body) for d in decisions],
                "alerts": [a.to_dict() for a in alerts],
                "events": [e.to_dict() for e in events],
            }
        )

    async def release_session(self, request: Request) -> Response:
        session_id = request.path_params["session_id"]
        reason = _reason(await self.json_body(request))
        by = caller(request)
        with _backend("session store"):
            store = self.state.store()
            if store.get_session(session_id) is None:
                raise ApiError("resource_not_found", f"no session {session_id!r}")
            released = store.release(session_id, reason, by, time.time())
        if not released:
            raise ApiError(
                "resource_conflict",
                f"session {session_id!r} is not quarantined; nothing to release",
            )
        return JSONResponse({"session": session_id, "released": True, "by": by, "reason": reason})

    async def list_alerts(self, request: Request) -> Response:
        since = parse_since(request.query_params.get("since"), time.time())
        severity = _choice(request, "severity", SEVERITIES)
        session_id = request.query_params.get("session")
        limit = _limit(request, 100)
        with _backend("session store"):
            rows = self.state.store().alerts(
                since=since, min_severity=severity, session_id=session_id, limit=limit
            )
        return JSONResponse({"alerts": [a.to_dict() for a in rows]})

    async def list_approvals(self, request: Request) -> Response:
        state = _choice(request, "state", (*APPROVAL_STATES, "all")) or "pending"
        wanted: tuple[ApprovalState, ...] | None = None
        if state != "all":
            wanted = tuple(s for s in APPROVAL_STATES if s == state)
        with _backend("ledger"):
            found = self.state.ledger().approvals(states=wanted)
        return JSONResponse({"approvals": [a.to_dict() for a in found]})

    async def approve(self, request: Request) -> Response:
        return await self._decide(request, approve=True)

    async def deny(self, request: Request) -> Response:
        return await self._decide(request, approve=False)

    async def _decide(self, request: Request, *, approve: bool) -> Response:
        approval_id = request.path_params["approval_id"]
        body = await self.json_body(request)
        reason = _reason(body)
        valid_for = _valid_for(body)
        with _backend("ledger"):
            ledger = self.state.ledger()
            try:
                ledger.get_approval(approval_id)
            except ApprovalError as exc:
                raise ApiError("resource_not_found", str(exc)) from exc
            try:
                approval = ledger.decide(
                    approval_id, approve=approve, by=caller(request), reason=reason, ttl=valid_for
                )
            except ApprovalError as exc:  # decided, used or expired meanwhile
                raise ApiError("resource_conflict", str(exc)) from exc
        return JSONResponse(approval.to_dict())

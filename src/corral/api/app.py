"""The decision API as an ASGI app (Starlette).

Starlette rather than FastAPI: the API has four routes and its request bodies are the contract's
actions, which the guard validates itself (a malformed action is a ``deny`` decision, not a
framework 422), so FastAPI's request models would only duplicate validation and add per-request
cost. The OpenAPI document is built from the same pydantic models (:mod:`corral.api.openapi`).

Every request is judged on the event loop: a decision is CPU-bound and short (well under a
millisecond), and handing it to a thread would only add a hop and GIL contention.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from corral.api.errors import ApiError
from corral.api.metrics import ApiMetrics
from corral.api.openapi import build_openapi
from corral.api.ratelimit import RateLimiter
from corral.api.state import ApiState
from corral.api.views import StateViews
from corral.engine.guard import Guard, new_decision_id
from corral.model.decisions import Decision

Handler = Callable[[Request], Awaitable[Response]]


DEFAULT_TOKEN_NAME = "api"


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """``token`` is recorded as ``api`` in releases and approvals; ``tokens`` adds named ones
    (name -> secret) so each person's or system's changes are recorded under its own name."""

    token: str | None = None
    tokens: Mapping[str, str] = field(default_factory=dict)
    max_body_bytes: int = 1024 * 1024
    max_batch: int = 1000
    rate_per_s: float = 5000.0
    burst: float = 10000.0
    # Where the ledger is when the guard was built with an explicit state directory.
    state_dir: Path | None = None


def create_app(guard: Guard, settings: ApiSettings | None = None) -> Starlette:
    """The decision API around ``guard`` (build it with ``integrations.guard_factory``)."""
    api = _Api(guard, settings or ApiSettings())
    views = StateViews(api.state, api.json_body)
    routes = [
        Route("/v1/decide", api.guarded(api.decide), methods=["POST"]),
        Route("/v1/decide/batch", api.guarded(api.decide_batch), methods=["POST"]),
        Route("/v1/sessions", api.guarded(views.list_sessions), methods=["GET"]),
        Route("/v1/sessions/{session_id}", api.guarded(views.show_session), methods=["GET"]),
        Route(
            "/v1/sessions/{session_id}/release",
            api.guarded(views.release_session),
            methods=["POST"],
        ),
        Route("/v1/alerts", api.guarded(views.list_alerts), methods=["GET"]),
        Route("/v1/approvals", api.guarded(views.list_approvals), methods=["GET"]),
        Route("/v1/approvals/{approval_id}/approve", api.guarded(views.approve), methods=["POST"]),
        Route("/v1/approvals/{approval_id}/deny", api.guarded(views.deny), methods=["POST"]),
        Route("/healthz", api.healthz, methods=["GET"]),
        Route("/metrics", api.guarded(api.metrics_text), methods=["GET"]),
        Route("/openapi.json", api.openapi, methods=["GET"]),
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        api.state.close()  # the guard's own store and ledger stay its owner's to close

    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, Exception: _internal_error},
    )


class _Api:
    def __init__(self, guard: Guard, settings: ApiSettings) -> None:
        self.guard = guard
        self.settings = settings
        self.state = ApiState(guard, settings.state_dir)
        self.metrics = ApiMetrics(self.state.alert_sink_stats)
        self.limiter = RateLimiter(settings.rate_per_s, settings.burst)
        self.spec = build_openapi(settings.max_batch)
        self.tokens = _token_table(settings)

    def guarded(self, handler: Handler) -> Handler:
        """Authentication, rate limit and error mapping around one endpoint."""

        async def wrapped(request: Request) -> Response:
            try:
                request.state.caller = self._authenticate(request)
                self._limit(request)
                return await handler(request)
            except ApiError as exc:
                self.metrics.error(exc.code)
                return exc.response()

        return wrapped

    def _authenticate(self, request: Request) -> str:
        """The name of the token presented (``api`` when no token is configured)."""
        if not self.tokens:
            return DEFAULT_TOKEN_NAME
        header = request.headers.get("authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() == "bearer":
            offered = presented.encode()
            # Every secret is compared (no early exit), so timing tells nothing about which.
            matches = [name for secret, name in self.tokens if hmac.compare_digest(offered, secret)]
            if matches:
                return matches[0]
        raise ApiError("unauthorized", "a valid 'Authorization: Bearer <token>' is required")

    def _limit(self, request: Request) -> None:
        client = request.client.host if request.client else "unknown"
        if not self.limiter.allow(client):
            raise ApiError("rate_limited", f"client {client} is over the request rate limit")

    async def json_body(self, request: Request) -> Any:
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise ApiError("request_too_large", f"the body is over the {limit}-byte limit")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError("request_too_large", f"the body is over the {limit}-byte limit")
            chunks.append(chunk)
        try:
            return json.loads(b"".join(chunks))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError("invalid_parameter", f"the body is not valid JSON: {exc}") from exc
        except RecursionError as exc:
            raise ApiError("invalid_parameter", "the body is nested too deeply") from exc

    def _judge(self, action: Any) -> Decision:
        started = time.perf_counter()
        try:
            decision = self.guard.decide(action)
        except Exception as exc:  # the guard fails closed itself; this is the last line
            action_id = action.get("id") if isinstance(action, dict) else None
            decision = self.guard.internal_error(action_id, exc)
        self.metrics.observe(decision, time.perf_counter() - started)
        return decision

    async def decide(self, request: Request) -> Response:
        body = await self.json_body(request)
        if not isinstance(body, dict):
            raise ApiError("invalid_parameter", "the body must be one action (a JSON object)")
        decision = self._judge(body)
        if decision.error is not None and decision.reason.startswith("malformed action"):
            raise ApiError("invalid_parameter", decision.error, decision=_answer(decision))
        return JSONResponse(_answer(decision))

    async def decide_batch(self, request: Request) -> Response:
        body = await self.json_body(request)
        actions = body.get("actions") if isinstance(body, dict) else None
        if not isinstance(actions, list):
            raise ApiError("invalid_parameter", 'the body must be {"actions": [...]}')
        if len(actions) > self.settings.max_batch:
            raise ApiError(
                "invalid_parameter",
                f"a batch holds at most {self.settings.max_batch} actions, not {len(actions)}",
            )
        decisions = [self._judge(action) for action in actions]
        return JSONResponse({"decisions": [_answer(d) for d in decisions]})

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "policy": self.guard.policy.name})

    async def metrics_text(self, request: Request) -> Response:
        body, content_type = self.metrics.render()
        return Response(body, media_type=content_type)

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(self.spec)


def _answer(decision: Decision) -> dict[str, Any]:
    """The decision as the contract states it: an echoed ``id`` is a string or an integer.

    A malformed action's id is echoed as sent, and JSON ``true``/``false`` pass for integers in
    Python; such an id is answered as null rather than breaking the published schema.
    """
    answer = decision.to_dict()
    echoed = answer.get("id")
    if isinstance(echoed, bool) or not isinstance(echoed, str | int | None):
        answer["id"] = None
    return answer


def _token_table(settings: ApiSettings) -> list[tuple[bytes, str]]:
    table = [(secret.encode(), name) for name, secret in settings.tokens.items() if secret]
    if settings.token:
        table.append((settings.token.encode(), DEFAULT_TOKEN_NAME))
    return table


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    code = {404: "resource_not_found", 405: "method_not_allowed"}.get(status, "invalid_parameter")
    return ApiError(
        code, f"{request.method} {request.url.path}: {code.replace('_', ' ')}"
    ).response()


async def _internal_error(request: Request, exc: Exception) -> Response:
    """Never a 500: whatever broke, the caller gets a deny it can act on."""
    message = f"internal error: {type(exc).__name__}: {exc}"
    return JSONResponse(
        {
            "decision": "deny",
            "severity": "high",
            "rules": [],
            "reason": f"denied because Corral could not judge the request ({message})",
            "error": message,
            "decision_id": new_decision_id(),
        }
    )

"""The MCP gateway in front of a remote streamable-HTTP MCP server.

The client POSTs JSON-RPC messages to the gateway; each is judged like on stdio and, if it goes
on, POSTed to the upstream server with the client's headers (session id, protocol version,
authorization). The upstream answer (JSON, or an SSE stream) is passed back byte for byte while
the gateway reads the messages in it to record tool lists. GET (the server's own event stream)
and DELETE (end of session) are passed through. Needs the ``serve`` extra (Starlette, uvicorn)
and httpx.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from corral.integrations.mcp_gateway import INVALID_REQUEST, Gateway, error_response

MAX_BODY_BYTES = 32 * 1024 * 1024
UPSTREAM_TIMEOUT = httpx.Timeout(30.0, read=None)  # SSE streams stay open as long as they like
_HOP_BY_HOP = frozenset(
    [
        "host",
        "content-length",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "accept-encoding",
        "content-encoding",
        "te",
        "upgrade",
    ]
)


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{listen!r} is not HOST:PORT (for example 127.0.0.1:8765)")
    return host.strip("[]") or "127.0.0.1", int(port)


def _forwarded(headers: Any) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}


async def _bounded_body(request: Request) -> bytes | None:
    """The request body, or None once it passes MAX_BODY_BYTES (read no further than that)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class HttpGateway:
    """The Starlette app: one route, any path, all sent to ``upstream``."""

    def __init__(self, gateway: Gateway, upstream: str) -> None:
        self.gateway = gateway
        self.upstream = upstream
        self.client = httpx.AsyncClient(timeout=UPSTREAM_TIMEOUT)
        route = Route("/{path:path}", self.handle, methods=["GET", "POST", "DELETE"])
        self.app = Starlette(routes=[route], lifespan=self._lifespan)

    @asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        yield
        await self.client.aclose()

    async def handle(self, request: Request) -> Response:
        if request.method != "POST":
            return await self._relay(request, None)
        body = await _bounded_body(request)
        if body is None:
            message = f"the message is over {MAX_BODY_BYTES} bytes"
            return JSONResponse(error_response(None, INVALID_REQUEST, message), status_code=413)
        outcome = await self.gateway.from_client(body)
        if outcome.action == "reply":
            return JSONResponse(outcome.reply)
        if outcome.action == "drop":
            return Response(status_code=202)
        return await self._relay(request, body)

    async def _relay(self, request: Request, body: bytes | None) -> Response:
        upstream_request = self.client.build_request(
            request.method, self.upstream, headers=_forwarded(request.headers), content=body
        )
        try:
            upstream = await self.client.send(upstream_request, stream=True)
        except httpx.HTTPError as exc:
            message = f"the MCP server at {self.upstream} is not reachable: {exc}"
            return JSONResponse(error_response(None, INVALID_REQUEST, message), status_code=502)
        headers = _forwarded(upstream.headers)
        if upstream.headers.get("content-type", "").startswith("text/event-stream"):
            return StreamingResponse(
                self._events(upstream), status_code=upstream.status_code, headers=headers
            )
        content = await upstream.aread()
        await upstream.aclose()
        if content and upstream.headers.get("content-type", "").startswith("application/json"):
            self.gateway.from_server(content)
        return Response(content, status_code=upstream.status_code, headers=headers)

    async def _events(self, upstream: httpx.Response) -> AsyncIterator[bytes]:
        """Pass the SSE stream through unchanged, showing each event's data to the gateway."""
        data: list[str] = []
        try:
            async for line in upstream.aiter_lines():
                if line.startswith("data:"):
                    data.append(line[5:].lstrip(" "))
                elif not line and data:
                    self.gateway.from_server("\n".join(data))
                    data = []
                yield (line + "\n").encode()
        finally:
            await upstream.aclose()


def run_http(gateway: Gateway, upstream: str, host: str, port: int) -> int:
    import uvicorn  # noqa: PLC0415 - only the HTTP mode needs it

    uvicorn.run(HttpGateway(gateway, upstream).app, host=host, port=port, log_level="warning")
    return 0

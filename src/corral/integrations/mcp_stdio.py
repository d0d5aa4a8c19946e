"""The MCP gateway over stdio: the client talks to us on stdin/stdout, we talk to the server's.

MCP's stdio transport is one JSON-RPC message per line. The server runs in its own process group
so that when the gateway ends, everything the server started ends with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any, BinaryIO

from corral.integrations.mcp_gateway import (
    PARSE_ERROR,
    Gateway,
    JsonObject,
    error_response,
)

MAX_MESSAGE_BYTES = 32 * 1024 * 1024
LISTING_TIMEOUT_S = 30.0
SERVER_EXIT_WAIT_S = 5.0


class _Link:
    """The running exchange: the server process, the client's output and our own requests."""

    def __init__(self, gateway: Gateway, process: asyncio.subprocess.Process, out: BinaryIO):
        self.gateway = gateway
        self.process = process
        self.out = out
        self.own: dict[str, asyncio.Future[JsonObject]] = {}

    def to_client(self, line: bytes) -> None:
        self.out.write(line if line.endswith(b"\n") else line + b"\n")
        self.out.flush()

    async def to_server(self, line: bytes) -> None:
        stdin = self.process.stdin
        if stdin is None or stdin.is_closing():
            raise ConnectionError("the MCP server closed its input")
        stdin.write(line if line.endswith(b"\n") else line + b"\n")
        await stdin.drain()

    async def list_tools(self) -> list[JsonObject] | None:
        """Every page of the server's tool list, asked by the gateway itself."""
        pages: list[JsonObject] = []
        cursor: str | None = None
        while True:
            request_id = self.gateway.own_request_id()
            params = {"cursor": cursor} if cursor else {}
            future: asyncio.Future[JsonObject] = asyncio.get_running_loop().create_future()
            self.own[request_id] = future
            request = {"jsonrpc": "2.0", "id": request_id, "method": "tools/list", "params": params}
            await self.to_server(json.dumps(request).encode())
            answer = await asyncio.wait_for(future, LISTING_TIMEOUT_S)
            result = answer.get("result")
            if not isinstance(result, dict):
                return pages or None
            pages.append(result)
            next_cursor = result.get("nextCursor")
            if not isinstance(next_cursor, str) or not next_cursor:
                return pages
            cursor = next_cursor

    def own_answer(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            return
        future = self.own.pop(str(message.get("id")), None) if isinstance(message, dict) else None
        if future is not None and not future.done():
            future.set_result(message)


async def _lines(reader: asyncio.StreamReader, on_too_long: Any) -> Any:
    """Lines of ``reader``; an over-long line is skipped (``on_too_long`` is told) not fatal."""
    while True:
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                yield exc.partial
            return
        except asyncio.LimitOverrunError as exc:
            await _skip_line(reader, exc.consumed)
            on_too_long()
            continue
        if line.strip():
            yield line


async def _skip_line(reader: asyncio.StreamReader, pending: int) -> None:
    await reader.readexactly(pending)
    while True:
        try:
            await reader.readuntil(b"\n")
            return
        except asyncio.LimitOverrunError as exc:
            await reader.readexactly(exc.consumed)
        except asyncio.IncompleteReadError:
            return


async def _client_to_server(link: _Link, reader: asyncio.StreamReader) -> None:
    def too_long() -> None:
        message = f"the message is over {MAX_MESSAGE_BYTES} bytes"
        link.to_client(json.dumps(error_response(None, PARSE_ERROR, message)).encode())

    async for line in _lines(reader, too_long):
        outcome = await link.gateway.from_client(line, link.list_tools)
        if outcome.action == "forward":
            await link.to_server(line)
        elif outcome.action == "reply":
            link.to_client(json.dumps(outcome.reply, ensure_ascii=False).encode())
    stdin = link.process.stdin
    if stdin is not None:  # the client is gone: let the server finish and exit on its own
        stdin.close()


async def _server_to_client(link: _Link, reader: asyncio.StreamReader) -> None:
    def too_long() -> None:
        print("corral mcp-proxy: dropped a server message over the size limit", file=sys.stderr)

    async for line in _lines(reader, too_long):
        if link.gateway.from_server(line):
            link.to_client(line)
        else:
            link.own_answer(line)


async def _client_reader() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_MESSAGE_BYTES)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def _kill_group(process: asyncio.subprocess.Process, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


async def _stop(process: asyncio.subprocess.Process) -> None:
    """Give the server a moment to exit after its input closed, then end its process group."""
    try:
        await asyncio.wait_for(process.wait(), SERVER_EXIT_WAIT_S)
    except TimeoutError:
        _kill_group(process, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), SERVER_EXIT_WAIT_S)
        except TimeoutError:
            _kill_group(process, signal.SIGKILL)
            await process.wait()
    _kill_group(process, signal.SIGTERM)  # anything the server left behind in its group


async def serve_stdio(gateway: Gateway, server_argv: Sequence[str]) -> int:
    """Run the gateway until the client or the server goes away; the server's exit status."""
    process = await asyncio.create_subprocess_exec(
        *server_argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=MAX_MESSAGE_BYTES,
        start_new_session=True,
    )
    link = _Link(gateway, process, sys.stdout.buffer)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, _kill_group, process, signal.SIGTERM)
    assert process.stdout is not None
    client = asyncio.create_task(_client_to_server(link, await _client_reader()))
    server = asyncio.create_task(_server_to_client(link, process.stdout))
    try:
        await asyncio.wait({client, server}, return_when=asyncio.FIRST_COMPLETED)
        if client.done() and not server.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(server), SERVER_EXIT_WAIT_S)
    finally:
        for task in (client, server):
            task.cancel()
        await asyncio.gather(client, server, return_exceptions=True)
        for future in link.own.values():
            future.cancel()
        await _stop(process)
    status = process.returncode or 0
    return status if status > 0 else 0  # ended by our own signal: a clean stop


def run(gateway: Gateway, server_argv: Sequence[str]) -> int:
    return asyncio.run(serve_stdio(gateway, server_argv))

"""Relay bytes both ways through an allowed tunnel, counting them and keeping the deadlines.

The upload direction has a gate: before the client's first bytes go anywhere, ``first_bytes``
sees them (the SNI check reads the ClientHello there), and every chunk is charged to the
session's upload budget before it is sent, so a refused chunk never leaves the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from corral.proxy.tls import MAX_HELLO, ClientHelloError, Incomplete, looks_like_tls, server_name

# Called with the bytes the client sent first; returns False to close the tunnel unsent.
FirstBytes = Callable[[bytes], Awaitable[bool]]
# Called with the size of each upload chunk before it is sent; returns False to stop.
Charge = Callable[[int], Awaitable[bool]]
OnDownload = Callable[[int], None]


@dataclass(slots=True)
class Ends:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


@dataclass(slots=True)
class Deadlines:
    idle: float
    total: float
    chunk: int
    hello: float


class _Clock:
    def __init__(self) -> None:
        self.last = time.monotonic()

    def touch(self) -> None:
        self.last = time.monotonic()


async def read_hello(reader: asyncio.StreamReader, first: bytes, timeout: float) -> bytes:
    """Read on until ``first`` holds a whole ClientHello (or is plainly not TLS)."""
    data = bytearray(first)
    if not looks_like_tls(bytes(data[:2])):
        return bytes(data)
    try:
        async with asyncio.timeout(timeout):
            while True:
                try:
                    server_name(bytes(data))
                    return bytes(data)
                except Incomplete as more:
                    if more.need > MAX_HELLO + 4096:
                        return bytes(data)  # let the parser name the problem
                    chunk = await reader.read(max(more.need - len(data), 1))
                    if not chunk:
                        return bytes(data)
                    data += chunk
                except ClientHelloError:
                    return bytes(data)
    except TimeoutError:
        return bytes(data)  # the gate finds it incomplete and refuses it


async def tunnel(
    client: Ends,
    upstream: Ends,
    deadlines: Deadlines,
    *,
    first_bytes: FirstBytes,
    charge: Charge,
    on_download: OnDownload,
    pending: bytes = b"",
) -> None:
    """Copy both ways until both sides finish, a deadline passes, or a gate says stop."""
    clock = _Clock()
    up = asyncio.create_task(
        _upload(
            client,
            sink=upstream,
            deadlines=deadlines,
            clock=clock,
            first_bytes=first_bytes,
            charge=charge,
            pending=pending,
        )
    )
    down = asyncio.create_task(_download(upstream, client, deadlines.chunk, clock, on_download))
    # A timer, not a task: one per tunnel is cheap when thousands of tunnels open a second.
    watchdog = _Watchdog(clock, deadlines, (up, down))
    try:
        await asyncio.wait((up, down))
    finally:
        watchdog.stop()
        for task in (up, down):
            task.cancel()
        await asyncio.gather(up, down, return_exceptions=True)


class _Watchdog:
    """Cancels the tunnel's tasks when it has been idle or open too long."""

    def __init__(
        self, clock: _Clock, deadlines: Deadlines, tasks: tuple[asyncio.Task[None], ...]
    ) -> None:
        self.clock = clock
        self.deadlines = deadlines
        self.tasks = tasks
        self.started = time.monotonic()
        self.tick = min(1.0, deadlines.idle / 4, deadlines.total / 4)
        self.loop = asyncio.get_running_loop()
        self.handle = self.loop.call_later(self.tick, self._check)

    def _check(self) -> None:
        now = time.monotonic()
        if now - self.clock.last > self.deadlines.idle or now - self.started > self.deadlines.total:
            for task in self.tasks:
                task.cancel()
            return
        self.handle = self.loop.call_later(self.tick, self._check)

    def stop(self) -> None:
        self.handle.cancel()


async def _upload(
    source: Ends,
    *,
    sink: Ends,
    deadlines: Deadlines,
    clock: _Clock,
    first_bytes: FirstBytes,
    charge: Charge,
    pending: bytes,
) -> None:
    chunk = deadlines.chunk
    first = pending or await source.reader.read(chunk)
    if first:
        first = await read_hello(source.reader, first, deadlines.hello)
        clock.touch()
        if not await first_bytes(first):
            _abort(source, sink)
            return
    data = first
    while data:
        if not await charge(len(data)):
            _abort(source, sink)
            return
        sink.writer.write(data)
        await sink.writer.drain()
        clock.touch()
        data = await source.reader.read(chunk)
    _half_close(sink.writer)


async def _download(
    source: Ends, sink: Ends, chunk: int, clock: _Clock, on_download: OnDownload
) -> None:
    while data := await source.reader.read(chunk):
        on_download(len(data))
        sink.writer.write(data)
        await sink.writer.drain()
        clock.touch()
    _half_close(sink.writer)


def _half_close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, RuntimeError):
        if writer.can_write_eof() and not writer.is_closing():
            writer.write_eof()


def _abort(*ends: Ends) -> None:
    for end in ends:
        end.writer.transport.abort()

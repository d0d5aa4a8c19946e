"""The egress proxy: listeners, sessions, limits, and what every connection shares.

One port speaks HTTP (forward proxy and ``CONNECT``) and SOCKS5, told apart by the first byte
(SOCKS5 starts with 0x05, an HTTP request with a letter). A session is the listener's own (the
supervisor gives each sandbox its own Unix socket) or, on a shared listener, the user name in the
proxy credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corral.engine.guard import Guard
from corral.model.decisions import Decision
from corral.policy.clauses import Clause
from corral.proxy import clauses as P
from corral.proxy import http, socks
from corral.proxy.judge import (
    ConnectionVerdict,
    DecisionRecorder,
    EgressJudge,
    ProxyFailure,
    Resolver,
    system_resolver,
)
from corral.proxy.limits import ProxyLimits
from corral.proxy.relay import Deadlines, Ends, tunnel
from corral.proxy.tls import ClientHelloError, Incomplete, looks_like_tls, server_name

SOCKS_VERSION = 5
# TLS alert record: fatal (2), access_denied (49); what a TLS client shows as "access denied".
TLS_ACCESS_DENIED = bytes((0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 49))


@dataclass(slots=True)
class SessionStats:
    """What one session holds and has moved; the upload count feeds the volume budget."""

    name: str
    connections: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    refused: int = 0
    limit_noted: bool = False
    budget_noted: bool = False
    exhausted: bool = False


@dataclass(slots=True)
class Listener:
    address: str
    session: str | None  # fixed: every connection on this listener belongs to it
    default_session: str
    server: asyncio.Server | None = None


@dataclass(slots=True)
class ProxyCounters:
    open_connections: int = 0
    unidentified: int = 0
    accepted: int = 0
    shed: int = 0  # closed at accept because a limit was reached


class EgressProxy:
    """Judge and relay an agent's outbound connections. Start listeners, then keep the loop
    running; :meth:`close` stops them and every open connection."""

    def __init__(
        self,
        guard: Guard,
        *,
        limits: ProxyLimits | None = None,
        resolver: Resolver = system_resolver,
        log: DecisionRecorder | None = None,
    ):
        self.limits = limits or ProxyLimits()
        self.judge = EgressJudge(
            guard,
            resolver=resolver,
            log=log,
            max_addresses=self.limits.max_addresses,
            resolve_timeout=self.limits.connect_timeout,
        )
        self.sessions: dict[str, SessionStats] = {}
        self.counters = ProxyCounters()
        self.listeners: list[Listener] = []
        self.failed = asyncio.Event()
        self._names = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def upload_budget(self) -> int | None:
        return self.judge.guard.policy.spec.egress.upload_budget

    def session(self, name: str) -> SessionStats:
        stats = self.sessions.get(name)
        if stats is None:
            stats = self.sessions[name] = SessionStats(name)
        return stats

    async def listen_tcp(self, host: str, port: int, *, session: str | None = None) -> Listener:
        listener = self._new_listener(session)
        listener.server = await asyncio.start_server(
            lambda r, w: self._accept(r, w, listener),
            host,
            port,
            limit=self.limits.relay_chunk,
            backlog=1024,
        )
        sock = listener.server.sockets[0].getsockname()
        listener.address = f"{sock[0]}:{sock[1]}"
        self.listeners.append(listener)
        return listener

    async def listen_unix(
        self, path: str | os.PathLike[str], *, session: str | None = None, mode: int = 0o666
    ) -> Listener:
        """Listen on a Unix socket (the bridge into a sandbox). A stale socket file at ``path``
        is replaced; any other file there is an error."""
        target = Path(path)
        with contextlib.suppress(FileNotFoundError):
            if not stat.S_ISSOCK(target.lstat().st_mode):
                raise FileExistsError(f"{target} exists and is not a socket")
            target.unlink()
        listener = self._new_listener(session)
        listener.server = await asyncio.start_unix_server(
            lambda r, w: self._accept(r, w, listener),
            str(target),
            limit=self.limits.relay_chunk,
            backlog=1024,
        )
        os.chmod(target, mode)
        listener.address = str(target)
        self.listeners.append(listener)
        return listener

    def _new_listener(self, session: str | None) -> Listener:
        default = session or f"listener-{next(self._names)}"
        return Listener(address="", session=session, default_session=default)

    async def close(self) -> None:
        for listener in self.listeners:
            if listener.server is not None:
                listener.server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for listener in self.listeners:
            if listener.server is not None:
                with contextlib.suppress(Exception):
                    await listener.server.wait_closed()
        self.judge.close()

    # -- one connection ------------------------------------------------------------------------

    async def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener: Listener
    ) -> None:
        counters = self.counters
        counters.accepted += 1
        if counters.open_connections >= self.limits.max_connections:
            counters.shed += 1
            writer.transport.abort()
            return
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        counters.open_connections += 1
        conn = Connection(self, listener, Ends(reader, writer))
        try:
            await conn.run()
        except ProxyFailure as exc:
            print(f"corral proxy: {exc}", file=sys.stderr)
            self.failed.set()
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass  # the peer went away or a deadline passed: nothing to answer
        except Exception as exc:  # a bug: the connection is closed (denied), and that is said
            await self._report_internal_error(conn, exc)
        finally:
            counters.open_connections -= 1
            conn.release()
            writer.transport.abort() if conn.abort_on_close else writer.close()
            if task is not None:
                self._tasks.discard(task)

    async def _report_internal_error(self, conn: Connection, exc: Exception) -> None:
        print(f"corral proxy: internal error, connection closed: {exc!r}", file=sys.stderr)
        decision = self.judge.guard.internal_error(None, exc)
        decision.session = conn.stats.name if conn.stats else conn.listener.session
        with contextlib.suppress(ProxyFailure):  # an unusable log has set ``failed`` already
            await self.judge.record(decision, None)


class Connection:
    """One client connection: identifies its session, then hands over to HTTP or SOCKS."""

    def __init__(self, proxy: EgressProxy, listener: Listener, client: Ends):
        self.proxy = proxy
        self.listener = listener
        self.client = client
        self.limits = proxy.limits
        self.stats: SessionStats | None = None
        self.unidentified = False
        self.abort_on_close = False

    async def run(self) -> None:
        if self.listener.session is not None:
            if not await self.claim(self.listener.session):
                self.proxy.counters.shed += 1
                self.abort_on_close = True
                return
        else:
            if self.proxy.counters.unidentified >= self.limits.max_unidentified:
                self.proxy.counters.shed += 1
                self.abort_on_close = True
                return
            self.proxy.counters.unidentified += 1
            self.unidentified = True
        async with asyncio.timeout(self.limits.header_timeout):
            first = await self.client.reader.read(1)
        if not first:
            return
        if first[0] == SOCKS_VERSION:
            await socks.serve(self)
        else:
            await http.serve(self, first)

    def session_name(self, user: str | None) -> str:
        if self.listener.session is not None:
            return self.listener.session
        return user or self.listener.default_session

    async def claim(self, name: str) -> bool:
        """Count this connection against session ``name``; False (and one logged refusal per
        burst) when the session already holds its maximum."""
        if self.stats is not None:
            return True
        if self.unidentified:
            self.proxy.counters.unidentified -= 1
            self.unidentified = False
        stats = self.proxy.session(name)
        if stats.connections >= self.limits.max_session_connections:
            stats.refused += 1
            if not stats.limit_noted:
                stats.limit_noted = True
                decision = self.refusal(
                    P.TOO_MANY_CONNECTIONS,
                    f"session {name} already holds {stats.connections} connections "
                    f"(limit {self.limits.max_session_connections})",
                    name,
                )
                await self.proxy.judge.record(decision, None)
            return False
        stats.connections += 1
        stats.limit_noted = False
        self.stats = stats
        return True

    def release(self) -> None:
        if self.stats is not None:
            self.stats.connections -= 1
            self.stats = None
        if self.unidentified:
            self.proxy.counters.unidentified -= 1
            self.unidentified = False

    def refusal(self, clause: Clause, evidence: str, session: str | None) -> Decision:
        return self.proxy.judge.refusal(clause, evidence, session)

    # -- shared by the protocols ---------------------------------------------------------------

    async def open_upstream(self, addresses: list[str], port: int) -> Ends:
        """Connect to the first of the checked addresses that answers (never re-resolving)."""
        last: Exception = OSError("no address to connect to")
        for address in addresses:
            try:
                async with asyncio.timeout(self.limits.connect_timeout):
                    reader, writer = await asyncio.open_connection(
                        address, port, limit=self.limits.relay_chunk
                    )
                return Ends(reader, writer)
            except (OSError, TimeoutError) as exc:
                last = exc
        raise last

    async def judge(
        self, name: str, host: str, port: int, *, via: str, http: tuple[str, str] | None = None
    ) -> ConnectionVerdict:
        """Judge a new connection; a session past its upload budget opens no new ones."""
        spent = await self.over_budget(host, port, 1)
        if spent is not None:
            return ConnectionVerdict(False, spent)
        return await self.proxy.judge.connection(name, host, port, via=via, http=http)

    async def over_budget(self, host: str, port: int, extra: int) -> Decision | None:
        """The refusal when sending ``extra`` more bytes would pass the upload budget."""
        stats, budget = self.stats, self.proxy.upload_budget
        if stats is None or budget is None:
            return None
        if not stats.exhausted and stats.bytes_up + extra <= budget:
            return None
        decision = self.refusal(
            P.UPLOAD_BUDGET,
            f"session {stats.name} has sent {stats.bytes_up} bytes; {extra} more to "
            f"{host}:{port} would pass the upload budget of {budget} bytes",
            stats.name,
        )
        if not stats.budget_noted:  # one record per session, not one per refused chunk
            stats.budget_noted = True
            await self.proxy.judge.record(decision, _net(host, port, stats.name))
        if decision.allowed:
            return None  # monitor mode: noted, let through
        stats.exhausted = True  # refused once, the session sends nothing more
        return decision

    async def relay(self, upstream: Ends, host: str, port: int, pending: bytes = b"") -> None:
        """Relay an allowed tunnel, checking its TLS server name and the upload budget."""
        stats = self.stats
        assert stats is not None

        async def first_bytes(data: bytes) -> bool:
            return await self._sni_allows(data, host, port)

        async def charge(size: int) -> bool:
            if await self.over_budget(host, port, size) is not None:
                return False
            stats.bytes_up += size
            return True

        def on_download(size: int) -> None:
            stats.bytes_down += size

        deadlines = Deadlines(
            self.limits.idle_timeout,
            self.limits.total_timeout,
            self.limits.relay_chunk,
            self.limits.hello_timeout,
        )
        try:
            await tunnel(
                self.client,
                upstream,
                deadlines,
                first_bytes=first_bytes,
                charge=charge,
                on_download=on_download,
                pending=pending,
            )
        finally:
            upstream.writer.transport.abort()

    async def _sni_allows(self, data: bytes, host: str, port: int) -> bool:
        if not looks_like_tls(data[:2]):
            return True
        session = self.stats.name if self.stats else None
        clause: Clause | None = None
        try:
            sni = server_name(data)
        except (Incomplete, ClientHelloError) as exc:
            what = "incomplete" if isinstance(exc, Incomplete) else str(exc)
            clause, evidence, sni = (
                P.UNREADABLE_HELLO,
                f"TLS handshake to {host}:{port} could not be read ({what})",
                None,
            )
        else:
            wanted = host.lower().rstrip(".").strip("[]")
            if sni is None or sni == wanted:
                return True
            clause = P.DOMAIN_FRONTING
            evidence = f"tunnel opened to {host}:{port} but the TLS handshake names {sni}"
        decision = self.refusal(clause, evidence, session)
        action = _net(host, port, session)
        action["sni"] = sni
        await self.proxy.judge.record(decision, action)
        if decision.allowed:
            return True
        self.client.writer.write(TLS_ACCESS_DENIED)
        with contextlib.suppress(OSError):
            await self.client.writer.drain()
        return False


def _net(host: str, port: int, session: str | None) -> dict[str, Any]:
    return {"kind": "net", "host": host, "port": port, "session": session, "via": "proxy"}
